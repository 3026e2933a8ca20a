"""/v1/aliases: stable model names that point at finished jobs."""

from __future__ import annotations

from typing import Any

from flask import url_for

from service.api import Blueprint, location_header
from service.auth import FULL, READ, requires
from service.context import services
from service.errors import NotFound
from service.schemas.aliases import AliasListSchema, AliasPath, AliasRequestSchema, AliasSchema
from service.store.aliases import Alias

bp = Blueprint(
    "aliases",
    __name__,
    url_prefix="/v1/aliases",
    description=(
        "Stable names for trained models: an alias points at a finished job, every model "
        "route accepts it in place of the job's ID, and it can be moved to another job."
    ),
)
LOCATION = location_header("The alias resource (`/v1/aliases/{name}`).")


@bp.put("/<alias:name>")
@bp.arguments(AliasPath, location="path", as_kwargs=True)
@bp.arguments(AliasRequestSchema)
@bp.response(200, AliasSchema, description="The alias existed; it now points at this job.")
@bp.alt_response(
    201, schema=AliasSchema, description="The alias is created.", headers=LOCATION, success=True
)
@bp.problems(409, 503)
@requires(FULL)
def put_alias(body: dict[str, Any], name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Create or move an alias

    Points the alias at a finished job whose model is stored: `201` when the alias is
    created, `200` when an existing one is moved (its `history` gains an entry). Moving
    an alias fails no request: each request resolves it once, to the old job or the new
    one, and both models stay stored. Each API process remembers a resolution for about a
    second. The job must exist (404), have finished (409) and have its model stored (503).
    """
    ctx = services()
    ctx.require_model(body["job_id"])  # 404 unknown, 409 unfinished, 503 missing
    alias, created = ctx.aliases.set(name, body["job_id"])
    location = {"Location": url_for("aliases.get_alias", name=name)}
    return _resource(alias), 201 if created else 200, location


@bp.get("")
@bp.response(200, AliasListSchema, description="The aliases, by name.")
@requires(READ)
def list_aliases() -> dict[str, Any]:
    """List aliases

    Every alias, by name, with the job it points at and its history.
    """
    return {"aliases": [_resource(a) for a in services().aliases.list()]}


@bp.get("/<alias:name>")
@bp.response(200, AliasSchema, description="The alias.")
@requires(READ)
def get_alias(name: str) -> dict[str, Any]:
    """Get an alias

    The job the alias points at, and its history.
    """
    alias = services().aliases.get(name)
    if alias is None:
        raise NotFound(f"No alias {name!r}.")
    return _resource(alias)


@bp.delete("/<alias:name>")
@bp.response(204, description="The alias is deleted.")
@requires(FULL)
def delete_alias(name: str) -> tuple[str, int]:
    """Delete an alias

    Removes the alias and its history; the job and its model stay. Model routes stop
    answering to the name within about a second.
    """
    if not services().aliases.delete(name):
        raise NotFound(f"No alias {name!r}.")
    return "", 204


def _resource(alias: Alias) -> dict[str, Any]:
    return {
        **alias.resource(),
        "links": {
            "self": url_for("aliases.get_alias", name=alias.name),
            "job": url_for("jobs.get_job", job_id=alias.job_id),
            "predict": url_for("models.predict", ref=alias.name),
        },
    }
