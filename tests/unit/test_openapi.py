"""The API description is generated from the schemas and routes: the committed
openapi.yaml is that document under the default settings, the served one states the
limits in force, and it describes exactly the app's routes and what the service takes."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from service.app import create_app
from service.config import Settings
from service.ml import catalog
from tests.helpers import ROOT, example, offline_settings
from tests.openapi_support import document, schema_errors


@pytest.fixture(scope="module")
def default_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_app(offline_settings(tmp_path_factory))


def served(app: Any) -> dict[str, Any]:
    response = app.test_client().get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    return yaml.safe_load(response.data)


def test_the_committed_document_is_the_one_generated_with_default_settings(
    default_app: Any,
) -> None:
    committed = (ROOT / "openapi.yaml").read_bytes()
    assert default_app.test_client().get("/openapi.yaml").data == committed, (
        "openapi.yaml is stale: run `make openapi`"
    )


def test_the_document_is_valid_openapi_3_1(default_app: Any) -> None:
    doc = served(default_app)
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    assert default_app.test_client().get("/openapi.json").get_json() == doc


def test_the_served_document_states_the_limits_in_force(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    app = create_app(
        offline_settings(tmp_path_factory, max_epochs=7, max_units=999, max_predict_rows=5)
    )
    schemas = served(app)["components"]["schemas"]
    assert schemas["FitSpec"]["properties"]["epochs"]["maximum"] == 7
    assert schemas["DenseLayer"]["properties"]["units"]["maximum"] == 999
    assert schemas["PredictRequest"]["properties"]["instances"]["maxItems"] == 5
    spec = example("digits")
    spec["fit"]["epochs"] = 8
    response = app.test_client().post("/v1/jobs", json=spec)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "fit.epochs": ["8 epochs asked for; this service accepts at most 7 (MAX_EPOCHS)."]
    }
    assert schema_errors(spec, "TrainingSpec") == []  # the committed one: 1,000 epochs
    spec["fit"]["epochs"] = 1_001
    assert schema_errors(spec, "TrainingSpec")


def test_documented_routes_are_exactly_the_apps_routes(default_app: Any) -> None:
    served_routes = {
        (re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in default_app.url_map.iter_rules()
        # The dashboard (ui.*) is HTML pages for people, not part of the API description.
        if not rule.endpoint.startswith("ui.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {
        (path, method)
        for path, item in document()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert served_routes == documented


def operations() -> list[dict[str, Any]]:
    return [
        operation
        for item in document()["paths"].values()
        for method, operation in item.items()
        if method in {"get", "post", "put", "delete"}
    ]


def test_every_operation_has_a_unique_id_a_summary_and_its_problems() -> None:
    ids = [op["operationId"] for op in operations()]
    assert len(ids) == len(set(ids))
    for op in operations():
        assert op["summary"], op["operationId"]
        assert "500" in op["responses"], op["operationId"]
        if op.get("security") != []:  # a key may be needed: 401, 403 are answers
            assert {"401", "403"} <= set(op["responses"]), op["operationId"]
        if "requestBody" in op and "application/json" in op["requestBody"]["content"]:
            assert {"400", "413", "415", "422"} <= set(op["responses"]), op["operationId"]


def schemas() -> dict[str, Any]:
    return document()["components"]["schemas"]


def test_every_catalog_layer_is_documented_with_its_arguments() -> None:
    layer = schemas()["ModelSpec"]["properties"]["layers"]["items"]
    mapping = layer["discriminator"]["mapping"]
    assert set(mapping) == set(catalog.LAYERS)
    for name, layer_type in catalog.LAYERS.items():
        documented = schemas()[mapping[name].rsplit("/", 1)[1]]
        assert set(documented["properties"]) == {"type", "name", *layer_type.args}, name
        assert set(documented["required"]) == {"type", *layer_type.required}, name


def test_documented_names_are_the_catalogs() -> None:
    dense = schemas()["DenseLayer"]["properties"]
    assert set(dense["activation"]["enum"]) == set(catalog.ACTIVATIONS)
    assert set(dense["kernel_initializer"]["enum"]) == set(catalog.INITIALIZERS)
    metrics = schemas()["CompileSpec"]["properties"]["metrics"]["items"]
    assert set(metrics["enum"]) == set(catalog.METRICS)
    assert set(schemas()["DataSpec"]["properties"]["dataset"]["enum"]) == set(catalog.DATASETS)
    names = schemas()["CompileSpec"]["properties"]["loss"]["oneOf"][0]
    assert set(names["enum"]) == {*catalog.LOSSES, *catalog.LOSS_ALIASES}


@pytest.mark.parametrize("name", ["digits", "digits_binary", "sum_of_two"])
def test_the_example_specs_conform_to_the_documented_spec(name: str) -> None:
    assert schema_errors(example(name), "TrainingSpec") == []


def test_the_documented_spec_refuses_what_the_service_refuses() -> None:
    spec = example("digits")
    spec["model"]["layers"][0]["unit"] = 5
    assert schema_errors(spec, "TrainingSpec")
    spec = example("digits")
    spec["model"]["layers"][0]["units"] = Settings().max_units + 1
    assert schema_errors(spec, "TrainingSpec")
