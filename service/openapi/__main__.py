"""`python -m service.openapi [PATH]` (`make openapi`): write the API description, as
the service generates it with the default settings, to PATH (default openapi.yaml)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from service.app import create_app
from service.config import Settings
from service.openapi import served_document


def main(argv: list[str]) -> None:
    target = Path(argv[0] if argv else "openapi.yaml")
    # Default settings, but stores that nothing is written to: only the routes and the
    # limits matter to the document, and building the app connects to nothing.
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(Settings(artifact_root=scratch, artifact_cache=scratch))
        text = served_document(app, "yaml")
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_bytes(text)
    os.replace(temp, target)
    print(f"wrote {target} ({len(text.splitlines()):,} lines)")


if __name__ == "__main__":
    main(sys.argv[1:])
