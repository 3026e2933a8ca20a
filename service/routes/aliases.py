"""/v1/aliases: stable model names that point at finished jobs, split traffic over
weighted targets and mirror it to a shadow; their reports and payload logs."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for
from werkzeug.wsgi import wrap_file

from service.api import Blueprint, location_header
from service.auth import FULL, READ, requires
from service.context import services
from service.errors import NotFound
from service.rollouts import report
from service.rollouts.routing import Route, Shadow, Target
from service.schemas.aliases import AliasListSchema, AliasPath, AliasRequestSchema, AliasSchema
from service.schemas.rollouts import PayloadListSchema, ReportSchema
from service.store.aliases import Alias

BLOCK = 256 * 1024

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
    """Create or change an alias

    Points the alias at a finished job (`job_id`), or splits its requests over weighted
    `targets`, optionally mirroring a share to a `shadow`: `201` when the alias is
    created, `200` when an existing one is changed (its `history` gains an entry).
    Changing an alias fails no request: each request resolves it once, to the old
    setting or the new one, and every model either uses stays stored. Each API process
    remembers a resolution for about a second. Promoting a target is setting it alone
    (`job_id`); rolling back is setting the previous job again. Every job named must
    exist (404), have finished (409) and have its model stored (503).
    """
    ctx = services()
    route = _route(body)
    for job_id in sorted(route.job_ids):
        ctx.require_model(job_id)  # 404 unknown, 409 unfinished, 503 missing
    alias, created = ctx.aliases.set(name, route)
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
    return _resource(_alias(name))


@bp.delete("/<alias:name>")
@bp.response(204, description="The alias is deleted.")
@requires(FULL)
def delete_alias(name: str) -> tuple[str, int]:
    """Delete an alias

    Removes the alias and its history; the job and its model stay. Model routes stop
    answering to the name within about a second.
    """
    ctx = services()
    if not ctx.aliases.delete(name):
        raise NotFound(f"No alias {name!r}.")
    ctx.rollouts.delete(name)
    return "", 204


@bp.get("/<alias:name>/report")
@bp.response(200, ReportSchema, description="The alias's report.")
@bp.problems(503)
@requires(READ)
def get_report(name: str) -> dict[str, Any]:
    """Report on an alias's models

    For each target and the shadow (and models the alias used before): requests, error
    rate, p50/p99 latency, what it predicted, the shadow's agreement with the primary,
    and, where outcomes were fed back (`POST /v1/feedback`), accuracy or mean absolute
    error with a 95 % interval; then the best candidate tested against the primary, with
    a plain verdict. Counters reach the report within about a second of each answer.
    """
    ctx = services()
    alias = _alias(name)
    return report.build(alias, ctx.rollouts.stats(name))


@bp.get("/<alias:name>/payloads")
@bp.response(200, PayloadListSchema, description="The alias's payload log files, oldest first.")
@requires(READ)
def list_payloads(name: str) -> dict[str, Any]:
    """List an alias's payload logs

    JSON Lines files of sampled predictions through the alias (PAYLOAD_LOG_RATE; off by
    default) and of the outcomes fed back for them: one object a line, `type`
    `prediction` (time, request_id, alias, job_id, inputs, outputs) or `feedback`
    (time, request_id, alias, job_id, labels), to join by `request_id`. Each file appears
    whole once written.
    """
    _alias(name)
    files = services().artifacts.payload_files(name)
    return {
        "alias": name,
        "files": [
            {
                "name": f.name,
                "size": f.size,
                "url": url_for("aliases.download_payloads", name=name, file=f.name),
            }
            for f in files
        ],
    }


@bp.get("/<alias:name>/payloads/<file>")
@bp.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/x-ndjson",
    description="The file, as JSON Lines.",
)
@requires(READ)
def download_payloads(name: str, file: str) -> Response:
    """Download a payload log file

    The name is looked up in the alias's listing, never used as a path.
    """
    artifacts = services().artifacts
    found = {f.name: f for f in artifacts.payload_files(name)}.get(file)
    if found is None:
        raise NotFound(f"Alias {name!r} has no payload log {file!r}.")
    response = current_app.response_class(
        wrap_file(request.environ, artifacts.open_payload(name, file), BLOCK),
        mimetype="application/x-ndjson",
        direct_passthrough=True,
    )
    response.content_length = found.size
    return response


def _alias(name: str) -> Alias:
    alias = services().aliases.get(name)
    if alias is None:
        raise NotFound(f"No alias {name!r}.")
    return alias


def _route(body: dict[str, Any]) -> Route:
    """The setting a PUT body asks for."""
    if "job_id" in body:
        targets = (Target(body["job_id"], 100),)
    else:
        targets = tuple(Target(t["job_id"], t["weight"]) for t in body["targets"])
    shadow = body["shadow"]
    return Route(targets, Shadow(shadow["job_id"], shadow["percent"]) if shadow else None)


def _resource(alias: Alias) -> dict[str, Any]:
    return {
        **alias.resource(),
        "links": {
            "self": url_for("aliases.get_alias", name=alias.name),
            "job": url_for("jobs.get_job", job_id=alias.job_id),
            "predict": url_for("models.predict", ref=alias.name),
            "report": url_for("aliases.get_report", name=alias.name),
            "payloads": url_for("aliases.list_payloads", name=alias.name),
        },
    }
