"""A trained model in formats other runtimes load: a TensorFlow SavedModel (TF Serving,
`tf.saved_model.load`) packed as a tar.gz, a LiteRT (formerly TFLite) flatbuffer for
phones and small devices, or ONNX (what this service serves, written at training time;
built here for models trained before that). Pure conversion, run by a worker
(service.ml.artifacts names the files).

The SavedModel and LiteRT files carry one signature, `serving_default`, taking float32
rows named `input` and returning `output`: the names this service's TF Serving and KServe routes use
(service.serving), so a client moving to TF Serving sends the same requests.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import keras
import tensorflow as tf

from service.ml import conversion
from service.ml.artifacts import EXPORT_FILES

SIGNATURE, INPUT, OUTPUT = "serving_default", "input", "output"


def build_export(model_path: Path, export_format: str, workdir: Path) -> Path:
    """Build `export_format` ("savedmodel", "litert" or "onnx") of the Keras model saved
    at `model_path`, loaded in safe mode (no code from the file runs); returns the file,
    written under `workdir` with its artifact name."""
    if export_format not in EXPORT_FILES:
        raise ValueError(f"Expected one of {', '.join(EXPORT_FILES)}. Received: {export_format!r}")
    model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    target = workdir / EXPORT_FILES[export_format]
    if export_format == "onnx":
        target.write_bytes(conversion.convert(model, conversion.sample_rows(model)))
        return target
    saved = write_saved_model(model, workdir / "savedmodel")
    if export_format == "savedmodel":
        return pack(saved, target)
    target.write_bytes(tflite_model(model, saved, workdir))
    return target


def write_saved_model(model: keras.Model, directory: Path, batch_size: int | None = None) -> Path:
    """Write `model` as a SavedModel whose `serving_default` maps `input` (a batch of
    `batch_size` rows, any number when None) to `output`, run in inference mode."""
    spec = tf.TensorSpec((batch_size, *model.input_shape[1:]), tf.float32, name=INPUT)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SIGNATURE, lambda rows: {OUTPUT: model(rows, training=False)}, input_signature=[spec]
    )
    archive.write_out(str(directory), verbose=False)
    return directory


def tflite_model(model: keras.Model, saved: Path, workdir: Path) -> bytes:
    """The TFLite flatbuffer of a model, using TFLite's built-in ops only (no Flex
    delegate needed to run it).

    Keras 3's recurrent layers (SimpleRNN, LSTM, GRU) loop over tensor lists that the
    built-in ops support only at a fixed batch size, so a model that does not convert
    with any batch size is converted for one row per call instead.
    """
    try:
        return convert(saved)
    except Exception:  # the converter's own error type is internal to TensorFlow
        return convert(write_saved_model(model, workdir / "savedmodel-one-row", batch_size=1))


def convert(saved: Path) -> bytes:
    """The TFLite conversion of a SavedModel directory."""
    return tf.lite.TFLiteConverter.from_saved_model(str(saved)).convert()


def pack(directory: Path, target: Path) -> Path:
    """A tar.gz of a directory's contents at the archive's top level (extract it into a
    TF Serving version directory as it is), with no owner names or IDs of this host."""

    def anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(directory.iterdir()):
            archive.add(path, arcname=path.name, filter=anonymous)
    return target
