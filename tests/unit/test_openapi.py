"""openapi.yaml is valid, describes exactly the app's routes, and agrees with the catalog."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from service.app import create_app
from service.config import Settings
from service.ml import catalog
from tests.conftest import example
from tests.openapi_support import document, schema_errors


def test_the_document_is_valid_openapi_3_1() -> None:
    assert document()["openapi"].startswith("3.1")
    validate(document())


def test_documented_routes_are_exactly_the_apps_routes(tmp_path: Any) -> None:
    app = create_app(Settings(artifact_root=str(tmp_path)))
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        # The dashboard (ui.*) is HTML pages for people, not part of the API description.
        if rule.endpoint != "static" and not rule.endpoint.startswith("ui.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in document()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert served == documented


def schemas() -> dict[str, Any]:
    return document()["components"]["schemas"]


def test_every_catalog_layer_is_documented_with_its_arguments() -> None:
    mapping = schemas()["Layer"]["discriminator"]["mapping"]
    assert set(mapping) == set(catalog.LAYERS)
    for name, layer_type in catalog.LAYERS.items():
        documented = schemas()[mapping[name].rsplit("/", 1)[1]]
        assert set(documented["properties"]) == {"type", "name", *layer_type.args}, name
        assert set(documented["required"]) == {"type", *layer_type.required}, name


@pytest.mark.parametrize(
    ("schema", "names"),
    [
        ("Activation", catalog.ACTIVATIONS),
        ("Initializer", catalog.INITIALIZERS),
        ("Metric", catalog.METRICS),
        ("Dataset", catalog.DATASETS),
        ("OptimizerName", catalog.OPTIMIZERS),
        ("LossName", [*catalog.LOSSES, *catalog.LOSS_ALIASES]),
    ],
)
def test_documented_names_are_the_catalogs(schema: str, names: Any) -> None:
    assert set(schemas()[schema]["enum"]) == set(names)


@pytest.mark.parametrize("name", ["digits", "digits_binary", "sum_of_two"])
def test_the_example_specs_conform_to_the_documented_spec(name: str) -> None:
    assert schema_errors(example(name), "TrainingSpec") == []


def test_the_documented_spec_refuses_what_the_service_refuses() -> None:
    spec = example("digits")
    spec["model"]["layers"][0]["unit"] = 5
    assert schema_errors(spec, "TrainingSpec")
