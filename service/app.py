"""The application factory."""

from __future__ import annotations

from flask import Flask

from service.config import Settings
from service.context import EXTENSION, Services
from service.problems import register_error_handlers
from service.routes import health, jobs, models


def create_app(settings: Settings | None = None) -> Flask:
    """A configured app; `settings` default to the environment (tests pass their own)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # keep resources in the order they are documented
    app.extensions[EXTENSION] = Services.create(settings)
    for blueprint in (jobs.bp, models.bp, health.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
