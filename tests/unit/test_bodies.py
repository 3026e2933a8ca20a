"""Request bodies are parsed once, by orjson, within a nesting limit, and refuse what
JSON allows but no client means (a repeated key); every refusal is a 400 problem."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest

from service.app import create_app
from service.bodies import MAX_DEPTH, parse_json
from service.errors import MalformedRequest
from tests.helpers import example, offline_settings


def refusal(raw: bytes) -> str:
    with pytest.raises(MalformedRequest) as caught:
        parse_json(raw)
    return caught.value.detail


def nested(depth: int, opener: str = "[", closer: str = "]", inner: str = "1") -> bytes:
    return (opener * depth + inner + closer * depth).encode()


def test_bodies_nested_up_to_the_limit_parse() -> None:
    assert parse_json(nested(MAX_DEPTH)) is not None
    objects = ('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH).encode()
    assert parse_json(objects)["a"]["a"]["a"] is not None


@pytest.mark.parametrize(
    "raw",
    [
        nested(MAX_DEPTH + 1),
        nested(1_000),
        nested(100_000),
        ('{"a":' * 1_000 + "1" + "}" * 1_000).encode(),
        # Deep inside a wide body: the brackets' running count, not their total.
        b'{"x": [' + b"[1, 2]," * 200 + nested(MAX_DEPTH) + b"]}",
    ],
)
def test_bodies_nested_deeper_are_refused_naming_the_limit(raw: bytes) -> None:
    assert f"more than {MAX_DEPTH} levels deep" in refusal(raw)


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"name": "[" * 500, "x": [[1, 2]] * 100}).encode()
    assert parse_json(body)["name"] == "[" * 500


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{nope", "not valid JSON"),
        (b'{"x": [NaN]}', "not valid JSON"),
        (b'{"x": Infinity}', "not valid JSON"),
        (b'{"name": "\xff"}', "not valid JSON"),  # not UTF-8
        (b'{"a": 1} {"b": 2}', "not valid JSON"),
        (b"", "empty"),
    ],
)
def test_what_orjson_refuses_is_a_400_saying_why(raw: bytes, says: str) -> None:
    assert says in refusal(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b'{"type": "Dense", "units": 1, "units": 5}', "units"),
        (b'{"model": {"layers": [{"type": "Dense", "type": "Flatten"}]}}', "type"),
        (b'{"x": [[1, 2]], "y": [3], "y": [4]}', "y"),
    ],
)
def test_a_repeated_key_is_refused_naming_it(raw: bytes, key: str) -> None:
    assert refusal(raw) == f"The request body repeats the key {key!r} in an object."


def test_colons_inside_strings_are_not_keys() -> None:
    body = {"name": "a:b:c", "model": {"layers": [{"type": "Dense", "name": "x:y"}]}}
    assert parse_json(json.dumps(body).encode()) == body


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_app(offline_settings(tmp_path_factory)).test_client()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    return response.get_json()


@pytest.mark.parametrize(
    "raw",
    [nested(100_000), ('{"a":' * 1_000 + "1" + "}" * 1_000).encode(), b'{"a": 1, "a": 2}'],
)
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/summary", f"/v1/models/{uuid.uuid4()}/predict"])
def test_deep_or_repeating_bodies_are_400_on_every_route(http: Any, raw: bytes, path: str) -> None:
    body = problem(http.post(path, data=raw, content_type="application/json"), 400)
    assert body["type"] == "/problems/malformed-request"


def test_json_that_is_not_an_object_says_an_object_is_expected(http: Any) -> None:
    body = problem(http.post("/v1/jobs", data=b"null", content_type="application/json"), 400)
    assert body["detail"] == "Expected a JSON object. Received: null."


def test_a_repeated_field_of_a_spec_is_refused_not_last_one_wins(http: Any) -> None:
    text = json.dumps(example("digits")).replace('"units": 512', '"units": 1, "units": 512')
    body = problem(http.post("/v1/summary", data=text, content_type="application/json"), 400)
    assert "'units'" in body["detail"]


def test_a_compressed_body_is_415_saying_the_coding_is_not_supported(http: Any) -> None:
    response = http.post(
        "/v1/jobs",
        data=gzip.compress(json.dumps(example("digits")).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    body = problem(response, 415)
    assert "Content-Encoding 'gzip' is not supported" in body["detail"]
