"""The HTTP client of the training service: plain `requests`, no Flask, RQ or
TensorFlow, so it runs on any machine that can reach the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from client import sse

DEFAULT_URL = "http://127.0.0.1:8000"
# The event stream sends a keepalive comment every 15 s, so a read that waits longer
# means the connection is gone.
STREAM_READ_TIMEOUT_S = 45.0
STREAM_RETRIES = 3  # reconnections in a row without a new event before giving up


class ClientError(Exception):
    """Anything the client cannot do: the API refused (ApiError) or was unreachable."""


class ApiError(ClientError):
    """An RFC 9457 problem the API answered with (or the closest reading of a non-problem
    error response, e.g. from a proxy)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type: str = problem.get("type", "about:blank")
        self.title: str = problem.get("title") or f"HTTP {status}"
        self.detail: str = problem.get("detail") or ""
        self.errors: dict[str, list[str]] = problem.get("errors") or {}
        super().__init__(f"{status} {self.title}: {self.detail}" if self.detail else self.title)

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.status < 500


class Unreachable(ClientError):
    """No answer: connection refused, DNS, timeout, a cut stream."""


class Client:
    """`Client("http://127.0.0.1:8000", api_key=...)`: one method per API operation,
    each returning the JSON the API answered, or raising ApiError with its problem."""

    def __init__(
        self, base_url: str = DEFAULT_URL, api_key: str | None = None, timeout: float = 60.0
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    # Jobs

    def submit(self, spec: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self._call("POST", "/v1/jobs", json=spec, headers=headers)

    def job(self, job_id: str, wait: int | None = None) -> dict[str, Any]:
        """The job; with `wait`, long-polls up to that many seconds for its next change."""
        params = {"wait": wait} if wait else None
        return self._call("GET", f"/v1/jobs/{_segment(job_id)}", params=params, extra_s=wait or 0)

    def jobs(self, status: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return self._call("GET", "/v1/jobs", params=params)["jobs"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/jobs/{_segment(job_id)}/cancel")

    def delete(self, job_id: str) -> None:
        self._call("DELETE", f"/v1/jobs/{_segment(job_id)}")

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[sse.Event]:
        """The job's event stream: an `epoch` event per finished epoch (the epochs
        already done first), then `end` with the job. A dropped connection is resumed
        where it left off (`Last-Event-ID`), so no epoch is missed or repeated."""
        return self._stream(f"/v1/jobs/{_segment(job_id)}/events", "job", last_event_id)

    # Sweeps

    def sweep(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a sweep: a training spec (`spec`), a search space over it (`search`)
        and how to search it."""
        return self._call("POST", "/v1/sweeps", json=body)

    def get_sweep(self, sweep_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/sweeps/{_segment(sweep_id)}")

    def sweep_events(self, sweep_id: str) -> Iterator[sse.Event]:
        """The sweep's event stream: a `trial` event per ended trial, then `end` with
        the sweep; resumed like a job's."""
        return self._stream(f"/v1/sweeps/{_segment(sweep_id)}/events", "sweep")

    def _stream(
        self, path: str, what: str, last_event_id: str | None = None
    ) -> Iterator[sse.Event]:
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            try:
                response = self._request(
                    "GET",
                    path,
                    headers=headers,
                    stream=True,
                    timeout=(self.timeout, STREAM_READ_TIMEOUT_S),
                )
                with response:
                    for event in sse.events(sse.lines(response.iter_content(chunk_size=None))):
                        failures = 0
                        if event.id is not None:
                            last_event_id = event.id
                        yield event
                        if event.event == "end":
                            return
            except (requests.RequestException, Unreachable) as error:
                cause: Exception = error
            else:
                cause = Unreachable(f"The event stream closed before the {what} ended.")
            failures += 1
            if failures > STREAM_RETRIES:
                raise Unreachable(f"Lost the event stream {path}: {cause}") from None
            time.sleep(0.5 * failures)

    # Models

    def predict(self, ref: str, instances: list[Any], return_: str | None = None) -> dict[str, Any]:
        """Predictions of a finished job's model (`ref`: a job ID or an alias);
        `return_` is "probabilities", "classes" or "both" for classifiers."""
        body: dict[str, Any] = {"instances": instances}
        if return_:
            body["return"] = return_
        return self._call("POST", f"/v1/models/{_segment(ref)}/predict", json=body)

    def summary(self, ref: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/models/{_segment(ref)}/summary")

    def set_alias(self, name: str, setting: dict[str, Any]) -> dict[str, Any]:
        """Give an alias a setting: `{"job_id"}` or weighted `targets`, and a `shadow`."""
        return self._call("PUT", f"/v1/aliases/{_segment(name)}", json=setting)

    def alias_report(self, name: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/aliases/{_segment(name)}/report")

    def dry_run_summary(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The summary of a spec's model without training it (only `model` is read)."""
        return self._call("POST", "/v1/summary", json={"model": spec.get("model")})

    # Plumbing

    def _call(self, method: str, path: str, extra_s: float = 0, **kwargs: Any) -> Any:
        response = self._request(method, path, timeout=self.timeout + extra_s, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.base_url + path, **kwargs)
        except requests.RequestException as error:
            raise Unreachable(f"Could not reach {self.base_url}: {_reason(error)}.") from None
        if response.status_code >= 400:
            raise ApiError(response.status_code, _problem(response))
        return response


def _segment(ref: str) -> str:
    """A job ID or alias as one path segment: nothing in it can change the path."""
    return quote(ref, safe="")


def _reason(error: BaseException) -> str:
    """The root cause in a few words ("Connection refused"), not urllib3's whole chain."""
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return type(error).__name__


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = response.text.strip()
    return {"title": response.reason or f"HTTP {response.status_code}", "detail": text[:500]}
