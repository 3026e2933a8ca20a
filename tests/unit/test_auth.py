"""API keys: parsing, scopes, and 401 vs 403 on the real app (no Redis needed: the
routes used here answer before touching it, or fail validation after auth passed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.auth import ApiKeys
from service.config import Settings
from tests.helpers import example, offline_settings

READER = "reader-key-0123456789"
ADMIN = "admin-key-0123456789ab"


def test_parse_reads_scopes_from_commas_and_newlines() -> None:
    keys = ApiKeys.parse(f"{READER}:read,\n {ADMIN}:full\n")
    assert keys.scope_of(READER) == "read"
    assert keys.scope_of(ADMIN) == "full"
    assert keys.scope_of(READER + "x") is None
    assert keys.scope_of("") is None


def test_a_key_may_contain_colons() -> None:
    assert ApiKeys.parse("a:b:c:0123456789abcdef:full").scope_of("a:b:c:0123456789abcdef") == (
        "full"
    )


def test_no_keys_means_open() -> None:
    assert not ApiKeys.parse(" , \n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{READER}:admin", "entry 1 must be 'key:read' or 'key:full'"),
        (f"{READER}:read,{ADMIN}", "entry 2 must be"),
        ("short:full", "entry 1 is shorter than 16 characters"),
    ],
)
def test_malformed_entries_are_refused_without_echoing_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        ApiKeys.parse(text)
    assert READER not in str(caught.value)


def test_keys_are_read_from_a_file_too(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"{ADMIN}:full\n")
    keys = ApiKeys.from_settings(Settings(api_keys=f"{READER}:read", api_keys_file=str(path)))
    assert (keys.scope_of(READER), keys.scope_of(ADMIN)) == ("read", "full")


def test_settings_never_show_keys() -> None:
    assert READER not in repr(Settings(api_keys=f"{READER}:read"))


def test_a_malformed_key_stops_the_app_from_starting() -> None:
    with pytest.raises(ValueError, match="entry 1"):
        create_app(Settings(api_keys="short:full"))


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = offline_settings(
        tmp_path_factory,
        api_keys=f"{READER}:read,{ADMIN}:full",
    )
    return create_app(settings).test_client()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def invalid_spec() -> dict[str, Any]:
    spec = example("digits")
    spec["fit"]["epochs"] = 0  # refused by validation, after authorization
    return spec


def test_no_key_is_401_with_a_bearer_challenge(http: Any) -> None:
    response = http.post("/v1/summary", json={"model": example("digits")["model"]})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="keras-service"'


@pytest.mark.parametrize("header", ["Bearer nope-nope-nope-nope", f"Basic {READER}", "Bearer "])
def test_unknown_keys_and_other_schemes_are_401(http: Any, header: str) -> None:
    response = http.get("/v1/jobs", headers={"Authorization": header})
    assert response.status_code == 401
    assert READER not in response.get_data(as_text=True)


def test_an_unknown_key_is_named_invalid_token(http: Any) -> None:
    response = http.get("/v1/jobs", headers=bearer("not-a-key-0123456789"))
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_read_key_reads_but_cannot_submit(http: Any) -> None:
    summary = http.post(
        "/v1/summary", json={"model": example("digits")["model"]}, headers=bearer(READER)
    )
    assert summary.status_code == 200
    assert summary.get_json()["total_params"] == 38_410
    refused = http.post("/v1/jobs", json=invalid_spec(), headers=bearer(READER))
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/forbidden"
    assert "read-only" in refused.get_json()["detail"]


def test_a_full_key_gets_past_authorization_to_submit(http: Any) -> None:
    response = http.post("/v1/jobs", json=invalid_spec(), headers=bearer(ADMIN))
    assert response.status_code == 422  # validation ran: authorization let it through
    assert "fit.epochs" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "path", ["/healthz", "/openapi.yaml", "/v2", "/v2/health/live", "/v2/health/ready"]
)
def test_health_and_the_api_description_need_no_key(http: Any, path: str) -> None:
    assert http.get(path).status_code == 200


def test_unknown_routes_are_still_404(http: Any) -> None:
    assert http.get("/v1/nothing").status_code == 404


def test_every_route_declares_its_scope(http: Any) -> None:
    # A route added without a decision would need a full key; make the decision visible.
    app = http.application
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and not hasattr(app.view_functions[rule.endpoint], "required_scope")
    ]
    assert undeclared == []
