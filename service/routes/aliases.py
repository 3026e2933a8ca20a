"""/v1/aliases: stable model names that point at finished jobs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from service.aliases import NAME_RULE, Alias, is_alias_name
from service.auth import FULL, READ, requires
from service.context import services
from service.errors import InvalidRequest, NotFound
from service.http import check_fields, checked_job_id, json_body

bp = Blueprint("aliases", __name__, url_prefix="/v1/aliases")


@bp.put("/<name>")
@requires(FULL)
def put_alias(name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Point an alias at a finished job whose model is stored: 201 when created, 200
    when moved. Requests already resolved keep the old model; new ones get the new."""
    if not is_alias_name(name):
        raise InvalidRequest({"name": [f"An alias name is {NAME_RULE}. Received: {name!r}."]})
    body = json_body()
    check_fields(body, ("job_id",), ("job_id",))
    job_id = body["job_id"]
    if not isinstance(job_id, str):
        raise InvalidRequest({"job_id": ["Expected a job ID (a string)."]})
    ctx = services()
    ctx.require_model(checked_job_id(job_id))  # 404 unknown, 409 unfinished, 503 missing
    alias, created = ctx.aliases.set(name, job_id)
    location = {"Location": url_for("aliases.get_alias", name=name)}
    return _resource(alias), 201 if created else 200, location


@bp.get("")
@requires(READ)
def list_aliases() -> dict[str, Any]:
    return {"aliases": [_resource(a) for a in services().aliases.list()]}


@bp.get("/<name>")
@requires(READ)
def get_alias(name: str) -> dict[str, Any]:
    alias = services().aliases.get(name) if is_alias_name(name) else None
    if alias is None:
        raise NotFound(f"No alias {name!r}.")
    return _resource(alias)


@bp.delete("/<name>")
@requires(FULL)
def delete_alias(name: str) -> tuple[str, int]:
    if not (is_alias_name(name) and services().aliases.delete(name)):
        raise NotFound(f"No alias {name!r}.")
    return "", 204


def _resource(alias: Alias) -> dict[str, Any]:
    return {
        **alias.resource(),
        "links": {
            "self": url_for("aliases.get_alias", name=alias.name),
            "job": url_for("jobs.get_job", job_id=alias.job_id),
            "predict": url_for("models.predict", job_id=alias.name),
        },
    }
