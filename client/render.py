"""What the command prints, as rich renderables built from the API's JSON: pure
functions of their input, so they are tested without a server or a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

STATUS_STYLES = {
    "queued": "yellow",
    "started": "cyan",
    "finished": "green",
    "failed": "bold red",
    "canceled": "magenta",
    "pruned": "blue",
    "running": "cyan",
}
LEADERBOARD_ROWS = 10


def number(value: Any) -> str:
    """A metric as Keras's progress bar prints it: 4 decimals, or scientific when tiny."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    return f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"


def metrics_line(metrics: Mapping[str, Any] | None, skip: Iterable[str] = ()) -> str:
    """`loss: 0.1234 - mae: 0.2345`, the way Keras's fit reports an epoch."""
    skipped = set(skip)
    return " - ".join(
        f"{name}: {number(value)}" for name, value in (metrics or {}).items() if name not in skipped
    )


def epoch_line(event: Mapping[str, Any]) -> Text:
    """One epoch of the event stream: `Epoch 3/20 - loss: 0.1234 - mae: 0.2345`."""
    text = Text(f"Epoch {event['epoch']}/{event['epochs']}", style="bold")
    metrics = metrics_line(event, skip=("epoch", "epochs"))
    if metrics:
        text.append(f" - {metrics}")
    return text


def shape(dims: Iterable[Any]) -> str:
    """`(None, 512)`, as Keras's summary prints an output shape."""
    return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ")"


def memory(size: float) -> str:
    """`150.04 KB`: Keras's readable_memory_size (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def summary(model: Mapping[str, Any]) -> Group:
    """The table Keras's `model.summary()` prints: Layer (type) | Output Shape | Param #,
    then the total, trainable and non-trainable counts."""
    table = Table(box=box.HEAVY_HEAD, show_lines=True)
    table.add_column("Layer (type)", no_wrap=True)
    table.add_column("Output Shape", no_wrap=True)
    table.add_column("Param #", justify="right", no_wrap=True)
    for layer in model["layers"]:
        table.add_row(
            f"{layer['name']} ({layer['type']})",
            shape(layer["output_shape"]),
            f"{layer['params']:,}",
        )
    total = model["total_params"]
    # The API reports the memory of all weights; every weight here has the model's one
    # dtype, so each part's share of it is proportional to its count.
    per_param = model["size_bytes"] / total if total and "size_bytes" in model else None
    lines = [Text(f'Model: "{model["name"]}"')]
    lines.append(table)
    for label, count in (
        ("Total params", total),
        ("Trainable params", model["trainable_params"]),
        ("Non-trainable params", model["non_trainable_params"]),
    ):
        size = f" ({memory(count * per_param)})" if per_param is not None else ""
        lines.append(Text(f" {label}: {count:,}{size}"))
    return Group(*lines)


def progress(job: Mapping[str, Any]) -> str:
    done = job.get("progress") or {}
    return f"{done.get('epoch', 0)}/{done.get('epochs', '?')}"


def age(iso: str | None, now: datetime | None = None) -> str:
    """`2026-11-23T19:26:04.407389Z` -> `3m ago`: short enough that a whole job ID and
    its status still fit an 80-column terminal."""
    if not iso:
        return ""
    then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def status(name: str) -> Text:
    return Text(name, style=STATUS_STYLES.get(name, ""))


def jobs(listed: Iterable[Mapping[str, Any]], now: datetime | None = None) -> Table:
    """Jobs newest first: id, name, status, epochs done, age, final test metrics."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    # The ID whole, never cut: it is what the next command takes. Name and metrics
    # wrap instead when the terminal is narrow.
    table.add_column("ID", no_wrap=True, min_width=36)
    table.add_column("Name", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Epoch", justify="right", no_wrap=True)
    table.add_column("Created", justify="right", no_wrap=True)
    table.add_column("Metrics", overflow="fold")
    for job in listed:
        metrics = job.get("metrics") or {}
        table.add_row(
            job["id"],
            Text(job.get("name") or ""),  # Text: a name is never read as rich markup
            status(job["status"]),
            progress(job),
            age(job.get("created_at"), now),
            " ".join(f"{name}={number(value)}" for name, value in metrics.items()),
        )
    return table


def sweep(found: Mapping[str, Any], rows: int = LEADERBOARD_ROWS) -> Group:
    """A sweep: its status and trial counts, then its leaderboard (best first)."""
    objective = found["objective"]
    counts = ", ".join(f"{n} {status}" for status, n in found["counts"].items() if n)
    head = Text(f"{found.get('name') or found['id']} ").append(status(found["status"]))
    head.append(f": {counts or 'no trials yet'} of {found['trials']}; ")
    head.append(f"{objective['direction']} {objective['metric']}")
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column(objective["metric"], justify="right", no_wrap=True)
    table.add_column("Epochs", justify="right", no_wrap=True)
    table.add_column("Parameters", overflow="fold")
    for trial in found["leaderboard"][:rows]:
        table.add_row(
            str(trial["number"]),
            status(trial["status"]),
            number(trial["objective"]) if trial["objective"] is not None else "",
            str(trial["epochs"]),
            Text(" ".join(f"{path}={json_value(v)}" for path, v in trial["params"].items())),
        )
    return Group(head, table)


def rollout(report: Mapping[str, Any]) -> Group:
    """An alias's report: one row per model, then the verdict of the comparison."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("Job", no_wrap=True, min_width=36)
    for name in ("Role", "Traffic", "Requests", "Errors", "p50 ms", "p99 ms", "Agreement"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Outcomes", overflow="fold")
    for model in report["models"]:
        role = model["role"] + (" (primary)" if model.get("primary") else "")
        if not model["current"]:
            role += " (before)"
        traffic = (
            f"{model['share']:.0%}"
            if "share" in model
            else f"{model.get('percent', 0):g}% mirrored"
        )
        agreement = model["agreement"] or {}
        outcomes = model["outcomes"] or {}
        table.add_row(
            model["job_id"],
            role,
            traffic if model["current"] else "",
            str(model["requests"]),
            f"{model['error_rate']:.1%}" if model["error_rate"] is not None else "",
            number(model["latency_ms"]["p50"]) if model["latency_ms"]["p50"] else "",
            number(model["latency_ms"]["p99"]) if model["latency_ms"]["p99"] else "",
            _agreement(agreement),
            _outcomes(outcomes),
        )
    comparison = report["comparison"]
    verdict = Text(comparison["summary"] if comparison else "One model: nothing to compare.")
    return Group(Text(f"{report['alias']}: primary {report['primary']}"), table, verdict)


def _agreement(found: Mapping[str, Any]) -> str:
    if "rate" in found:
        return f"{found['rate']:.1%} of {found['rows']}"
    if "mean_abs_difference" in found:
        return f"±{number(found['mean_abs_difference'])} over {found['rows']}"
    return ""


def _outcomes(found: Mapping[str, Any]) -> str:
    if not found:
        return ""
    metric = "accuracy" if "accuracy" in found else "mae"
    interval = found.get("ci95")
    spread = f" [{number(interval[0])}, {number(interval[1])}]" if interval else ""
    return f"{metric} {number(found[metric])}{spread} on {found['count']}"


def json_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value, separators=(",", ":"))


def problem(title: str, detail: str, errors: Mapping[str, Iterable[str]] | None = None) -> Text:
    """An API problem (or a failed job's error) for people: the title, what to change,
    and one line per field it names."""
    text = Text()
    text.append(title, style="bold red")  # the title alone: a base style would color it all
    errors = errors or {}
    # A 422's detail is its field errors on one line: shown once, a field a line.
    on_one_line = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
    if detail and detail not in (title, on_one_line):
        text.append(f"\n{detail}")
    for field, messages in errors.items():
        for message in messages:
            text.append(f"\n  {field}", style="bold")
            text.append(f": {message}")
    return text
