"""Exports load in TensorFlow's own runtimes and predict what Keras predicts."""

from __future__ import annotations

import tarfile
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from service import serving
from service.ml import export
from service.ml.artifacts import EXPORT_FILES
from service.ml.builder import build_model
from service.ml.predictor import Predictor

# tf.lite.Interpreter is the runtime the issue names; its successor is another package.
pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
RNG = np.random.default_rng(0)
DENSE = {
    "input_shape": [6],
    "layers": [
        {"type": "Dense", "units": 16, "activation": "relu"},
        {"type": "Dropout", "rate": 0.3},
        {"type": "BatchNormalization"},
        {"type": "Dense", "units": 3, "activation": "softmax"},
    ],
}
RECURRENT = {
    "input_shape": [5, 2],
    "layers": [
        {"type": "LSTM", "units": 8, "return_sequences": True},
        {"type": "GRU", "units": 4},
        {"type": "Dense", "units": 1},
    ],
}


def saved(spec: dict, tmp_path: Path) -> tuple[Path, keras.Model]:
    model = build_model(spec)
    path = tmp_path / "model.keras"
    model.save(path)
    return path, model


def rows(model: keras.Model, n: int = 4) -> np.ndarray:
    return RNG.normal(size=(n, *model.input_shape[1:])).astype(np.float32)


def tflite_outputs(content: bytes, batch: np.ndarray, one_row_at_a_time: bool) -> np.ndarray:
    runner = tf.lite.Interpreter(model_content=content).get_signature_runner(export.SIGNATURE)
    if one_row_at_a_time:
        return np.concatenate([runner(input=batch[i : i + 1])["output"] for i in range(len(batch))])
    return runner(input=batch)["output"]


def test_the_signature_names_are_the_ones_the_serving_routes_use() -> None:
    assert (export.INPUT, export.OUTPUT) == (serving.INPUT, serving.OUTPUT)


def test_a_savedmodel_archive_unpacks_into_a_tf_serving_version_directory(
    tmp_path: Path,
) -> None:
    path, model = saved(DENSE, tmp_path)
    archive = export.build_export(path, "savedmodel", tmp_path)
    assert archive.name == EXPORT_FILES["savedmodel"]
    with tarfile.open(archive) as tar:
        assert all(m.uid == 0 and not m.uname for m in tar.getmembers())
        tar.extractall(tmp_path / "1", filter="data")
    assert (tmp_path / "1" / "saved_model.pb").is_file()
    signature = tf.saved_model.load(str(tmp_path / "1")).signatures["serving_default"]
    batch = rows(model)
    got = signature(input=tf.constant(batch))["output"].numpy()
    np.testing.assert_allclose(got, model.predict(batch, verbose=0), atol=1e-5)


def test_a_tflite_model_takes_a_batch_of_any_size(tmp_path: Path) -> None:
    path, model = saved(DENSE, tmp_path)
    content = export.build_export(path, "litert", tmp_path).read_bytes()
    details = tf.lite.Interpreter(model_content=content).get_input_details()[0]
    assert list(details["shape_signature"]) == [-1, 6]
    batch = rows(model, 7)
    got = tflite_outputs(content, batch, one_row_at_a_time=False)
    np.testing.assert_allclose(got, model.predict(batch, verbose=0), atol=1e-4)


def test_a_recurrent_model_converts_to_tflite_for_one_row_per_call(tmp_path: Path) -> None:
    path, model = saved(RECURRENT, tmp_path)
    content = export.build_export(path, "litert", tmp_path).read_bytes()
    details = tf.lite.Interpreter(model_content=content).get_input_details()[0]
    assert list(details["shape_signature"]) == [1, 5, 2]
    batch = rows(model, 3)
    got = tflite_outputs(content, batch, one_row_at_a_time=True)
    np.testing.assert_allclose(got, model.predict(batch, verbose=0), atol=1e-4)


def test_an_unknown_format_is_refused_before_anything_is_loaded(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Expected one of savedmodel, litert, onnx"):
        export.build_export(tmp_path / "missing.keras", "pmml", tmp_path)


def test_a_model_trained_before_onnx_is_converted_to_predict_as_keras(tmp_path: Path) -> None:
    path, model = saved(RECURRENT, tmp_path)
    content = export.build_export(path, "onnx", tmp_path).read_bytes()
    batch = rows(model, 5)
    served = Predictor(content).predict(batch)
    np.testing.assert_allclose(served, model.predict(batch, verbose=0), atol=1e-5, rtol=1e-5)
