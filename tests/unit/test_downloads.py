"""How downloads describe their files."""

from __future__ import annotations

import pytest

from service.routes.artifacts import media_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("spec.json", "application/json"),
        ("savedmodel.tar.gz", "application/gzip"),
        ("model.keras", "application/octet-stream"),
        ("model.tflite", "application/octet-stream"),
        ("anything-else.bin", "application/octet-stream"),
    ],
)
def test_each_artifact_has_a_media_type_by_its_name(name: str, expected: str) -> None:
    assert media_type(name) == expected
