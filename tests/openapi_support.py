"""openapi.yaml as a JSON Schema registry, to check real responses against it."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.helpers import ROOT

BASE = "urn:openapi"


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text())


@cache
def _validator(schema_name: str) -> Draft202012Validator:
    registry = Registry().with_resource(BASE, Resource(document(), DRAFT202012))
    ref = {"$ref": f"{BASE}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=registry)


def schema_errors(instance: Any, schema_name: str) -> list[str]:
    """Why `instance` does not conform to components/schemas/<schema_name> (empty if it does)."""
    return [
        f"{list(e.absolute_path)}: {e.message}"
        for e in _validator(schema_name).iter_errors(instance)
    ]
