"""Request IDs: validated or generated, returned on every response, and carried by the
log lines of their request in JSON (or text)."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import gunicorn.config
import pytest
from flask import Flask

from service.access_log import AccessLogger
from service.app import create_app
from service.config import Settings
from service.logs import (
    BufferedStreamHandler,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    dict_config,
    is_valid_request_id,
    request_context,
    request_id_from,
)
from tests.helpers import offline_settings

GENERATED = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize("value", ["a", "req-42", "x" * 128, "with space", "Abc:/=+_.~"])
def test_printable_ids_up_to_128_characters_are_kept(value: str) -> None:
    assert is_valid_request_id(value)
    assert request_id_from(value) == value


@pytest.mark.parametrize("value", ["", "x" * 129, "tab\there", "line\nbreak", "é", "\x7f"])
def test_other_ids_are_replaced_by_a_generated_one(value: str) -> None:
    assert not is_valid_request_id(value)
    assert GENERATED.match(request_id_from(value))


def test_a_missing_id_is_generated_fresh_each_time() -> None:
    assert GENERATED.match(request_id_from(None))
    assert request_id_from(None) != request_id_from(None)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines go, as the services configure them, into a buffer."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_the_request_id_of_their_context(captured: Any) -> None:
    logger, out = captured
    with request_context("req-1"):
        logger.info("inside %s", "the request")
    logger.warning("outside")
    inside, outside = lines(out)
    assert inside["message"] == "inside the request"
    assert inside["request_id"] == "req-1"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "tests.logs"
    assert inside["time"].endswith("+00:00")
    assert outside["request_id"] is None


def test_an_exception_stays_one_json_line_with_its_traceback(captured: Any) -> None:
    logger, out = captured
    try:
        raise ValueError("bad")
    except ValueError:
        logger.exception("failed")
    (line,) = lines(out)
    assert line["message"] == "failed"
    assert "ValueError: bad" in line["exception"]


def test_gunicorn_access_lines_become_fields_with_the_response_request_id() -> None:
    cfg = gunicorn.config.Config()
    cfg.set("accesslog", "-")
    logger = AccessLogger(cfg)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.access_log.addHandler(handler)
    response = SimpleNamespace(
        status_code=200, sent=42, headers=[("Content-Type", "x"), ("x-request-id", "req-7")]
    )
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/models/x/predict",
        "QUERY_STRING": "",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": 'curl/8 "quoted"',
    }
    logger.access(response, None, environ, timedelta(microseconds=1530))
    (record,) = records
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-7"
    assert line["message"] == '127.0.0.1 "POST /v1/models/x/predict" 200 42'
    assert line["method"] == "POST"
    assert line["path"] == "/v1/models/x/predict"
    assert line["query"] is None
    assert line["status"] == 200
    assert line["bytes"] == 42
    assert line["duration_ms"] == 1.53
    assert line["user_agent"] == 'curl/8 "quoted"'


def test_buffered_lines_are_written_whole_in_order_by_the_flusher() -> None:
    stream = io.StringIO()
    handler = BufferedStreamHandler(stream, capacity=1000, interval=0.05)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.buffered")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(300):
            logger.info("line %d %s", i, "x" * 40)
        assert stream.getvalue() == ""  # waiting for the flusher, not written one by one
        deadline = time.monotonic() + 5
        while stream.getvalue().count("\n") < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.getvalue().splitlines() == [f"line {i} {'x' * 40}" for i in range(300)]
    finally:
        logger.removeHandler(handler)


def test_a_full_buffer_is_written_at_once_in_pipe_sized_batches() -> None:
    writes: list[str] = []
    stream = SimpleNamespace(write=writes.append, flush=lambda: None)
    handler = BufferedStreamHandler(stream, capacity=100, interval=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for i in range(100):
        handler.handle(logging.LogRecord("x", logging.INFO, "", 0, "%d" + "y" * 99, (i,), None))
    assert "".join(writes).splitlines() == [f"{i}" + "y" * 99 for i in range(100)]
    assert all(len(w) <= 4096 and w.endswith("\n") for w in writes)
    assert len(writes) > 1


def test_text_lines_end_with_the_request_id_when_there_is_one() -> None:
    formatter = TextFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, "", 0, "hello", (), None)
    assert formatter.format(record) == "INFO hello"
    record.request_id = "req-9"
    assert formatter.format(record) == "INFO hello [request req-9]"


def test_an_unknown_log_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match=r"LOG_FORMAT must be json or text\. Received: 'xml'"):
        dict_config("xml")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    settings = offline_settings(
        tmp_path_factory,
    )
    app = create_app(settings)

    @app.get("/logs-something")
    def logs_something() -> dict[str, str]:
        logging.getLogger("tests.logs").info("handling")
        return {}

    return app


def test_a_valid_request_id_is_returned_as_sent(app: Flask) -> None:
    response = app.test_client().get("/healthz", headers={"X-Request-ID": "req-abc"})
    assert response.headers["X-Request-ID"] == "req-abc"


def test_without_a_valid_request_id_one_is_generated_and_returned(app: Flask) -> None:
    for headers in ({}, {"X-Request-ID": "x" * 129}):
        response = app.test_client().get("/healthz", headers=headers)
        assert GENERATED.match(response.headers["X-Request-ID"])


def test_problem_responses_carry_the_request_id(app: Flask) -> None:
    client = app.test_client()
    headers = {"X-Request-ID": "req-err"}
    for response in (
        client.get("/nowhere", headers=headers),  # 404 before any view
        client.delete("/v1/jobs", headers=headers),  # 405
        client.get("/v1/jobs", headers=headers),  # 503: Redis is not there
    ):
        assert response.mimetype == "application/problem+json"
        assert response.headers["X-Request-ID"] == "req-err"


def test_a_refused_request_still_has_its_id(tmp_path: Any) -> None:
    keys = Settings(artifact_root=str(tmp_path), api_keys="k" * 16 + ":read")
    response = create_app(keys).test_client().get("/v1/jobs", headers={"X-Request-ID": "req-401"})
    assert response.status_code == 401
    assert response.headers["X-Request-ID"] == "req-401"


def test_lines_logged_while_handling_a_request_carry_its_id(app: Flask, captured: Any) -> None:
    _, out = captured
    app.test_client().get("/logs-something", headers={"X-Request-ID": "req-log"})
    app.test_client().get("/logs-something")
    sent, generated = lines(out)
    assert sent["request_id"] == "req-log"
    assert GENERATED.match(generated["request_id"])
