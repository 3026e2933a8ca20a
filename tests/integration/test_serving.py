"""Serving protocols against trained models: our /predict with classes, the TF Serving
REST API, and the Open Inference Protocol driven by the real tritonclient."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from service.ml.datasets import builtin_arrays
from tests.helpers import finished_job
from tests.openapi_support import schema_errors

pytestmark = pytest.mark.integration

DIGITS, _ = builtin_arrays("digits", 0, 0)
ROWS = DIGITS[:5].tolist()


def ours(client: Any, job: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post(job["links"]["predict"], json={"instances": ROWS, **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_classifiers_answer_class_labels_on_request(client: Any, trained: Any) -> None:
    job = trained("digits")
    both = ours(client, job, **{"return": "both"})
    assert schema_errors(both, "PredictResponse") == []
    assert both["classes"] == np.argmax(both["predictions"], axis=1).tolist()
    assert both["classes"] == [0, 1, 2, 3, 4]  # the first five digits of the dataset
    assert set(ours(client, job, **{"return": "classes"})) == {"classes"}


def test_class_labels_are_the_dataset_names(client: Any, worker: Any) -> None:
    spec = {
        "name": "iris",
        "model": {
            "input_shape": [4],
            "layers": [
                {"type": "Normalization"},
                {"type": "Dense", "units": 16, "activation": "relu"},
                {"type": "Dense", "units": 3, "activation": "softmax"},
            ],
        },
        "compile": {
            "optimizer": {"type": "adam", "learning_rate": 0.01},
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
        },
        "fit": {"epochs": 60, "batch_size": 16},
        "data": {"dataset": "iris"},
    }
    job = finished_job(client, client.post("/v1/jobs", json=spec).get_json()["id"])
    assert job["metrics"]["accuracy"] >= 0.9
    x, _ = builtin_arrays("iris", 0, 0)
    rows = x[[0, 60, 120]].tolist()  # one flower of each species, in dataset order
    response = client.post(job["links"]["predict"], json={"instances": rows, "return": "classes"})
    assert response.get_json() == {"classes": ["setosa", "versicolor", "virginica"]}


def test_regression_models_have_no_classes(client: Any, trained: Any) -> None:
    job = trained("sum_of_two")
    response = client.post(
        job["links"]["predict"], json={"instances": [[1, 2]], "return": "classes"}
    )
    assert response.status_code == 422
    assert "regression" in response.get_json()["errors"]["return"][0]


def test_tf_serving_row_and_columnar_formats_match_our_predictions(
    client: Any, trained: Any
) -> None:
    job = trained("digits")
    expected = np.array(ours(client, job)["predictions"])
    url = f"/v1/models/{job['id']}:predict"
    rows = client.post(url, json={"instances": ROWS}).get_json()["predictions"]
    named = client.post(
        url, json={"signature_name": "serving_default", "instances": [{"input": r} for r in ROWS]}
    )
    columnar = client.post(url, json={"inputs": {"input": ROWS}}).get_json()["outputs"]
    np.testing.assert_allclose(rows, expected, atol=1e-6)
    np.testing.assert_allclose(named.get_json()["predictions"], expected, atol=1e-6)
    np.testing.assert_allclose(columnar, expected, atol=1e-6)


def test_tf_serving_status_and_metadata(client: Any, trained: Any) -> None:
    job = trained("digits")
    status = client.get(f"/v1/models/{job['id']}").get_json()
    assert schema_errors(status, "TFServingModelStatus") == []
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    metadata = client.get(f"/v1/models/{job['id']}/metadata").get_json()
    assert schema_errors(metadata, "TFServingModelMetadata") == []
    signature = client.get(f"/v1/models/{job['id']}/metadata").get_json()["metadata"][
        "signature_def"
    ]["signature_def"]["serving_default"]
    input_dims = [int(d["size"]) for d in signature["inputs"]["input"]["tensor_shape"]["dim"]]
    output_dims = [int(d["size"]) for d in signature["outputs"]["output"]["tensor_shape"]["dim"]]
    assert (input_dims, output_dims) == ([-1, 64], [-1, 10])


def test_tf_serving_errors_carry_an_error_message_and_name_the_shape(
    client: Any, trained: Any
) -> None:
    job = trained("digits")
    response = client.post(f"/v1/models/{job['id']}:predict", json={"instances": [[1, 2, 3]]})
    assert response.status_code == 422
    body = response.get_json()
    assert schema_errors(body, "ProtocolProblem") == []
    assert body["error"] == body["detail"]
    assert "[64]" in body["error"]
    missing = client.get("/v1/models/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert "error" in missing.get_json()


def test_tf_serving_versioned_paths_serve_the_one_version(client: Any, trained: Any) -> None:
    job = trained("digits")
    base = f"/v1/models/{job['id']}"
    assert client.get(f"{base}/versions/1").get_json() == client.get(base).get_json()
    assert client.get(f"{base}/versions/1/metadata").get_json() == (
        client.get(f"{base}/metadata").get_json()
    )
    versioned = client.post(f"{base}/versions/1:predict", json={"instances": ROWS})
    assert (
        versioned.get_json() == client.post(f"{base}:predict", json={"instances": ROWS}).get_json()
    )
    assert client.get(f"{base}/versions/2").status_code == 404


@pytest.mark.parametrize("method", ["classify", "regress"])
def test_tf_serving_classify_and_regress_answer_as_tf_serving_does(
    client: Any, trained: Any, method: str
) -> None:
    job = trained("digits")
    response = client.post(f"/v1/models/{job['id']}:{method}", json={"examples": [{}]})
    assert response.status_code == 400
    body = response.get_json()
    assert body["type"] == "/problems/unsupported-signature-method"
    assert "predict signature" in body["error"]


def test_values_beyond_float32_are_refused_in_every_protocol(client: Any, trained: Any) -> None:
    job = trained("digits")
    row = [1e39] + [0.0] * 63
    ours_ = client.post(f"/v1/models/{job['id']}/predict", json={"instances": [row]})
    tf = client.post(f"/v1/models/{job['id']}:predict", json={"instances": [row]})
    v2 = client.post(
        f"/v2/models/{job['id']}/infer",
        json={"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 64], "data": row}]},
    )
    assert [r.status_code for r in (ours_, tf, v2)] == [422, 422, 422]
    assert list(ours_.get_json()["errors"]) == ["instances[0][0]"]
    assert list(tf.get_json()["errors"]) == ["instances[0][0]"]
    assert list(v2.get_json()["errors"]) == ["inputs[0].data[0][0]"]


def test_v2_values_that_do_not_fit_their_datatype_are_refused_not_wrapped(
    client: Any, trained: Any
) -> None:
    job = trained("digits")
    data = [1000] + [0] * 63
    response = client.post(
        f"/v2/models/{job['id']}/infer",
        json={"inputs": [{"name": "input", "datatype": "INT8", "shape": [1, 64], "data": data}]},
    )
    assert response.status_code == 422
    assert "int8" in response.get_json()["errors"]["inputs[0].data[0]"][0]


@pytest.fixture
def triton_client(server: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=server.removeprefix("http://"))


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_gets_our_predictions(
    triton_client: Any, client: Any, trained: Any, binary: bool
) -> None:
    job = trained("digits")
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready(job["id"])
    metadata = triton_client.get_model_metadata(job["id"])
    assert schema_errors(metadata, "V2ModelMetadata") == []
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]

    tensor = triton.InferInput("input", [5, 64], "FP32")
    tensor.set_data_from_numpy(np.asarray(ROWS, dtype=np.float32), binary_data=binary)
    outputs = [triton.InferRequestedOutput("output", binary_data=binary)]
    result = triton_client.infer(job["id"], [tensor], outputs=outputs, request_id="r-1")
    assert schema_errors(result.get_response(), "V2InferResponse") == []
    assert result.get_response()["id"] == "r-1"
    np.testing.assert_allclose(
        result.as_numpy("output"), ours(client, job)["predictions"], atol=1e-6
    )


def test_tritonclient_sees_errors_as_exceptions_naming_the_problem(
    triton_client: Any, trained: Any
) -> None:
    job = trained("digits")
    tensor = triton.InferInput("input", [1, 8], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 8), np.float32))
    with pytest.raises(InferenceServerException, match=r"Expected shape \[-1, 64\]"):
        triton_client.infer(job["id"], [tensor])
    assert not triton_client.is_model_ready("00000000-0000-4000-8000-000000000000")
    with pytest.raises(InferenceServerException, match="No job"):
        triton_client.get_model_metadata("00000000-0000-4000-8000-000000000000")
