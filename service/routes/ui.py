"""/ui: a small dashboard to watch training in a browser (HTML pages for people).

Auth: the pages and their assets are public because they carry no data. Every job,
metric and summary is fetched by the page's JavaScript from the JSON API, with the API
key the user typed once (kept in sessionStorage, sent as `Authorization: Bearer`), so
the API's scopes apply to the dashboard exactly as to any other client and no cookie
can be ridden by another site (no CSRF). A strict Content-Security-Policy keeps the
pages to their own scripts, so a job name from a client can never run as code there.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template, send_from_directory
from flask.typing import ResponseReturnValue

from service.auth import public
from service.http import secure_pages

bp = Blueprint("ui", __name__, url_prefix="/ui")
ASSETS = Path(__file__).resolve().parents[1] / "static" / "ui"

# The charts' SVG is built through the DOM, which this policy allows.
secure_pages(bp)


@bp.get("")
@public
def jobs_page() -> str:
    """The jobs list, newest first; its script polls GET /v1/jobs."""
    return render_template("ui/jobs.html")


@bp.get("/jobs/<job_id:job_id>")
@public
def job_page(job_id: str) -> str:
    """One job: curves, summary, predict form. Only the (checked) ID is in the HTML."""
    return render_template("ui/job.html", job_id=job_id)


@bp.get("/sweeps")
@public
def sweeps_page() -> str:
    """The sweeps list, newest first; its script polls GET /v1/sweeps."""
    return render_template("ui/sweeps.html")


@bp.get("/sweeps/<sweep_id:sweep_id>")
@public
def sweep_page(sweep_id: str) -> str:
    """One sweep: its leaderboard, live, and the objective against each parameter."""
    return render_template("ui/sweep.html", sweep_id=sweep_id)


@bp.get("/aliases")
@public
def aliases_page() -> str:
    """The aliases, with their targets, weights and shadow; its script polls GET /v1/aliases."""
    return render_template("ui/aliases.html")


@bp.get("/aliases/<alias:name>")
@public
def alias_page(name: str) -> str:
    """One alias: its setting and its report (traffic, latency, agreement, outcomes and the
    verdict), polled. Only the (checked) name is in the HTML."""
    return render_template("ui/alias.html", name=name)


# Our own route rather than Flask's `static` endpoint, so the assets can be public
# like the pages (an undeclared view needs a full key when keys are configured).
@bp.get("/static/<path:filename>")
@public
def asset(filename: str) -> ResponseReturnValue:
    return send_from_directory(ASSETS, filename)
