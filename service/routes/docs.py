"""/docs: the API description (openapi.yaml) rendered by Swagger UI for people.

Swagger UI's files come from the pinned swagger-ui-bundle-v2 package, served by the app
itself rather than a CDN: the page works where the service has no internet, loads
exactly the version that was tested, and its Content-Security-Policy can stay 'self'.
Public like /openapi.yaml: the page carries no data. "Try it out" sends requests from
the browser with the key typed into "Authorize", so the API's scopes apply as to any
other client.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Response, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from swagger_ui_bundle import swagger_ui_path
from werkzeug.security import safe_join

from service.api import Blueprint
from service.auth import public
from service.errors import NotFound
from service.http import secure_pages

bp = Blueprint("docs", __name__, description="This description, rendered by Swagger UI.")
# Our start-up script first, then Swagger UI's distribution files.
ASSET_FOLDERS = (Path(__file__).resolve().parents[1] / "static" / "docs", Path(swagger_ui_path))

# Swagger UI's stylesheet draws its icons from data: URIs.
secure_pages(bp, img_src="'self' data:")


@bp.get("/docs")
@bp.response(200, {"type": "string"}, content_type="text/html", description="The page.")
@public
def page() -> Response:
    """Interactive API docs

    This description rendered by Swagger UI, served by the service itself (no CDN);
    "Try it out" calls the server that served the page.
    """
    page = render_template("docs/index.html", spec_url=url_for("health.openapi_json"))
    return Response(page, mimetype="text/html")


# merge_slashes off: `//x` is refused here (404) rather than redirected (308).
@bp.get("/docs/<path:asset>", merge_slashes=False)
@bp.response(200, {"type": "string"}, content_type="text/plain", description="The file.")
@public
def asset(asset: str) -> ResponseReturnValue:
    """A file of the docs page

    A script, stylesheet or image of the page: ours or Swagger UI's.
    """
    # safe_join refuses `..` and absolute paths: nothing outside these folders is served.
    for folder in ASSET_FOLDERS:
        path = safe_join(str(folder), asset)
        if path is not None and os.path.isfile(path):
            return send_from_directory(folder, asset)
    raise NotFound(f"No such resource: {request.path}.")
