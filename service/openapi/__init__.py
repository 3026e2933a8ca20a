"""The OpenAPI 3.1 document, generated from the schemas and the routes.

flask-smorest documents each operation from its view's declarations (arguments,
responses, problems, docstring); this module adds what every operation shares (the
problem answers each kind of operation may give, its scope, its `operationId`, the
X-Request-ID header), teaches apispec's marshmallow converter our fields (kinds told
apart by a member, JSON Schema keywords it does not know, exclusive bounds, closed
objects), and writes the document. The app serves it as generated under its own
settings, so the limits it states are the limits in force; `make openapi` writes it
with the defaults to openapi.yaml (`python -m service.openapi`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import yaml
from apispec import APISpec
from apispec.ext.marshmallow import OpenAPIConverter
from apispec.ext.marshmallow.common import resolve_schema_instance
from marshmallow import RAISE, fields, validate

from service.errors import PROBLEM_JSON
from service.schemas.fields import Items, Variants
from service.schemas.problems import ProblemSchema, ProtocolProblemSchema

DESCRIPTION = (Path(__file__).with_name("description.md")).read_text()

# JSON Schema keywords a field may carry in its metadata that apispec does not copy.
_EXTRA_KEYWORDS = ("const", "contentMediaType", "contentSchema", "discriminator")

# The problem answers, by status: their component's name and description.
PROBLEMS = {
    400: (
        "MalformedRequest",
        "`/problems/malformed-request`: the body is not JSON, or not an object.",
    ),
    401: ("Unauthorized", "`/problems/unauthorized`: no API key, or an unknown one."),
    403: ("Forbidden", "`/problems/forbidden`: the API key's scope does not cover this operation."),
    404: ("NotFound", "`/problems/not-found`: no such resource (see `detail`)."),
    409: (
        "Conflict",
        "`/problems/job-not-finished`, `/problems/conflict` or "
        "`/problems/idempotency-key-reused`: the resource's state does not allow it "
        "(`job_status` says a job's status).",
    ),
    413: ("PayloadTooLarge", "`/problems/payload-too-large`: the body is over MAX_BODY_BYTES."),
    415: ("UnsupportedMediaType", "`/problems/unsupported-media-type`: the body's type."),
    422: (
        "InvalidRequest",
        "`/problems/invalid-request`, `/problems/invalid-spec` or `/problems/invalid-input`: "
        "`errors` names each invalid field by its JSON path.",
    ),
    500: ("InternalError", "`/problems/internal-error`: an unexpected failure (logged)."),
    503: (
        "ServiceUnavailable",
        "`/problems/service-unavailable` (the job store does not answer) or "
        "`/problems/model-unavailable`; try again after `Retry-After` seconds.",
    ),
}
_PROBLEM_HEADERS = {401: "WWW-Authenticate", 503: "Retry-After"}
HEADERS = {
    "X-Request-ID": {
        "description": (
            "The request's ID: the client's `X-Request-ID` when it is 1-128 printable ASCII "
            "characters, else a new one. Every log line about the request, and about a job "
            "it submitted, carries it."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WWW-Authenticate": {
        "description": (
            'The Bearer challenge (RFC 6750): `Bearer realm="keras-service"`, with '
            '`, error="invalid_token"` when the key sent is not one this service knows.'
        ),
        "required": True,
        "schema": {"type": "string"},
    },
}


class Converter(OpenAPIConverter):
    """apispec's marshmallow converter, knowing our fields."""

    def init_attribute_functions(self) -> None:
        super().init_attribute_functions()
        self.attribute_functions += [self.variants2properties, self.extra2properties]
        self.attribute_functions.insert(
            self.attribute_functions.index(self.field2range) + 1, self.exclusive2properties
        )
        self.attribute_functions.insert(
            self.attribute_functions.index(self.field2length) + 1, self.items2properties
        )

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema = super().schema2jsonschema(schema)
        # apispec leaves this out of schemas that have a description.
        if resolve_schema_instance(schema).unknown == RAISE:
            jsonschema["additionalProperties"] = False
        return jsonschema

    def variants2properties(self, field: fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(field, Variants):
            return {}
        refs = {name: self.resolve_nested_schema(s) for name, s in field.variants.items()}
        mapping = {name: ref["$ref"] for name, ref in refs.items()}
        mapping |= {alias: mapping[name] for alias, name in field.aliases.items()}
        kinds: dict[str, Any] = {
            "oneOf": list(refs.values()),
            "discriminator": {"propertyName": field.by, "mapping": mapping},
        }
        if field.names_too:
            kinds = {"oneOf": [{"type": "string", "enum": list(mapping)}, kinds]}
        return {"anyOf": [kinds, {"type": "null"}]} if field.allow_none else kinds

    def items2properties(self, field: fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
        """Lengths of our array fields are item counts (apispec counts characters for
        any field that is not a List)."""
        if isinstance(field, Items):
            for kind in ("min", "max"):
                if f"{kind}Length" in ret:
                    ret[f"{kind}Items"] = ret.pop(f"{kind}Length")
            ret.setdefault("minItems", 1)
        return {}

    def extra2properties(self, field: fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
        return {k: field.metadata[k] for k in _EXTRA_KEYWORDS if k in field.metadata}

    def exclusive2properties(self, field: fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
        """Ranges that exclude an end: `exclusiveMinimum` (JSON Schema 2020-12's number
        form) instead of the `minimum` apispec writes for every Range."""
        for v in field.validators:
            if isinstance(v, validate.Range) and v.min is not None and not v.min_inclusive:
                ret.pop("minimum", None)
                ret["exclusiveMinimum"] = v.min
            if isinstance(v, validate.Range) and v.max is not None and not v.max_inclusive:
                ret.pop("maximum", None)
                ret["exclusiveMaximum"] = v.max
        return {}


def register_documentation(spec: APISpec) -> None:
    """The components every operation refers to: headers, problem answers (plain, and
    with the `error` member of the protocol routes), the API key scheme."""
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    for status, (name, description) in PROBLEMS.items():
        for prefix, schema in (("", ProblemSchema), ("Protocol", ProtocolProblemSchema)):
            headers = {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}
            if status in _PROBLEM_HEADERS:
                header = _PROBLEM_HEADERS[status]
                headers[header] = {"$ref": f"#/components/headers/{header}"}
            spec.components.response(
                f"{prefix}{name}",
                {
                    "description": description,
                    "headers": headers,
                    "content": {PROBLEM_JSON: {"schema": schema}},
                },
            )
    spec.components.security_scheme(
        "apiKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key, sent as `Authorization: Bearer <key>`. Keys are configured "
                "with API_KEYS and/or API_KEYS_FILE (`key:scope` entries); with none "
                "configured the service is open and no key is needed. A `read` key may "
                "call every operation marked `read` (whatever changes nothing: reading, "
                "following, predicting, summaries, metrics); a `full` key every "
                "operation. A missing or unknown key is a 401; a `read` key on a `full` "
                "operation a 403. Health checks and this description need no key."
            ),
        },
    )


def problem_answers(
    doc: dict[str, Any], doc_info: dict[str, Any], *, api: Any, app: Any, **kwargs: Any
) -> dict[str, Any]:
    """A flask-smorest doc callback (the last): what every operation of its kind shares.

    Problems: those the view declares (`Blueprint.problems`), 422 where it loads any
    argument, 400/413/415 where it takes a JSON body, 404 where its path has parameters,
    401/403/503 unless it is public, 500 everywhere."""
    from service.auth import PUBLIC, required_scope

    view = doc_info["view"]
    scope = required_scope(view["function"])
    (rule,) = app.url_map.iter_rules(f"{view['blueprint']}.{view['endpoint']}")
    responses = doc.setdefault("responses", {})
    statuses = {int(s) for s in responses if str(s).isdigit() and int(s) >= 400}
    statuses.add(500)
    if "requestBody" in doc and "application/json" in doc["requestBody"]["content"]:
        statuses |= {400, 413, 415}
    if rule.arguments:
        statuses.add(404)
    if scope != PUBLIC:
        statuses |= {401, 403, 503}
    prefix = "Protocol" if view["protocol"] else ""
    for status in sorted(statuses):
        responses[status] = f"{prefix}{PROBLEMS[status][0]}"
    for response in responses.values():
        if isinstance(response, dict):
            response.setdefault("headers", {})["X-Request-ID"] = {
                "$ref": "#/components/headers/X-Request-ID"
            }
    doc["operationId"] = operation_id(view["endpoint"], view["protocol"] and view["blueprint"])
    if scope == PUBLIC:
        doc["security"] = []
    else:  # the docstring's summary and description replace the doc's after this
        docstring = doc_info["docstring"]
        needs = f"Needs a `{scope}` API key when keys are configured."
        docstring["description"] = f"{docstring.get('description', '')}\n\n{needs}".strip()
    return doc


def operation_id(endpoint: str, blueprint: str | None = None) -> str:
    """`submit_job` -> `submitJob`; protocol routes are prefixed by their protocol."""
    words = re.split(r"_+", f"{blueprint}_{endpoint}" if blueprint else endpoint)
    return words[0] + "".join(w.capitalize() for w in words[1:])


def served_document(app: Any, form: str) -> bytes:
    """The app's document as YAML or JSON, made once per process (the routes and
    settings it describes do not change while it runs)."""
    cache = app.extensions.setdefault("openapi_documents", {})
    if form not in cache:
        document = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
        cache[form] = to_yaml(document).encode() if form == "yaml" else to_json(document)
    return cache[form]


class _Dumper(yaml.SafeDumper):
    """Multi-line text as YAML literal blocks, so descriptions read as written."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # repeated parts written out, not as anchors


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(document: dict[str, Any]) -> str:
    # Through JSON first: the document then holds only JSON types (no tuples, no
    # Python objects), which YAML writes without tags.
    plain = orjson.loads(orjson.dumps(document))
    return yaml.dump(plain, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def to_json(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
