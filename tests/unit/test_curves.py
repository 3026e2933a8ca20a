"""render(): training curves as PNG and SVG, from any history a job can have."""

from __future__ import annotations

import io
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from service.curves import Mark, render
from tests.helpers import ROOT

HISTORY = {
    "loss": [0.8, 0.4, 0.3, 0.25],
    "accuracy": [0.7, 0.85, 0.9, 0.92],
    "val_loss": [0.5, 0.35, 0.33, 0.36],
    "val_accuracy": [0.8, 0.88, 0.9, 0.89],
}


def png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def test_png_has_one_panel_per_quantity_side_by_side() -> None:
    one = render({"loss": HISTORY["loss"]}, "png", "one")
    two = render(HISTORY, "png", "two")
    assert one.startswith(b"\x89PNG")
    assert png_size(two)[0] == 2 * png_size(one)[0]


def test_svg_is_an_svg_document() -> None:
    svg = render(HISTORY, "svg", "digits", note="ok: fine", marks=[Mark(3, "best", "green")])
    assert b"<svg" in svg[:500]
    assert b"<script" not in svg


def test_a_history_without_epochs_is_a_chart_that_says_so() -> None:
    for history in ({}, {"loss": []}):
        assert render(history, "png", "queued").startswith(b"\x89PNG")


def test_null_values_and_a_single_epoch_draw() -> None:
    assert render({"loss": [1.0, None, None], "val_loss": [None, None, None]}, "png", "x")
    assert render({"loss": [0.5]}, "svg", "x")


def test_client_text_is_never_parsed_as_tex() -> None:
    # "$" would start Matplotlib's mathtext; an unbalanced one fails to parse.
    assert render(HISTORY, "png", "price $ model ${", note="a $ b")


def test_charts_drawn_from_several_threads_are_all_whole() -> None:
    with ThreadPoolExecutor(4) as pool:
        images = list(pool.map(lambda n: render(HISTORY, "png", f"job {n}"), range(8)))
    sizes = {png_size(image) for image in images}
    assert len(sizes) == 1
    pixels = np.asarray(Image.open(io.BytesIO(images[0])))
    assert pixels.std() > 0  # something was drawn


@pytest.mark.timeout(60)
def test_the_app_starts_without_importing_matplotlib(tmp_path: object) -> None:
    code = (
        "import sys; from service.app import create_app; from service.config import Settings; "
        f"create_app(Settings(artifact_root={str(tmp_path)!r})); "
        "assert 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
