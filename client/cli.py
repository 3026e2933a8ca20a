"""`keras-service`: submit, watch, predict, summarize and list training jobs, and run
sweeps, from a shell.

Exit status: 0 done; 1 a job that failed or was canceled, a server error or no answer;
2 a client error (a 4xx problem, a missing or unreadable file, bad arguments). An API
problem is printed as its title, detail and field errors, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from client import render
from client.api import DEFAULT_URL, ApiError, Client, ClientError

URL_ENV = "KERAS_SERVICE_URL"
API_KEY_ENV = "KERAS_SERVICE_API_KEY"
STATUSES = ("queued", "started", "finished", "failed", "canceled", "pruned")
RETURNS = ("probabilities", "classes", "both")

Command = Callable[[Client, argparse.Namespace, Console], int]


class InputError(Exception):
    """A file the user named cannot be used: missing, unreadable, not the JSON expected."""


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Piped output has no width to fit: rich's default of 80 would fold the jobs table.
    out, err = Console(highlight=False, width=None if sys.stdout.isatty() else 200), stderr()
    url = getattr(args, "url", None) or os.environ.get(URL_ENV) or DEFAULT_URL
    api_key = getattr(args, "api_key", None) or os.environ.get(API_KEY_ENV) or None
    client = Client(url, api_key=api_key, timeout=getattr(args, "timeout", 60.0))
    try:
        return args.run(client, args, out)
    except ApiError as error:
        err.print(render.problem(f"{error.title} ({error.status})", error.detail, error.errors))
        return 2 if error.is_client_error else 1
    except InputError as error:
        err.print(render.problem("Cannot read the input", str(error)))
        return 2
    except ClientError as error:
        err.print(render.problem("No answer from the service", str(error)))
        return 1
    except KeyboardInterrupt:  # Ctrl-C while watching: the job itself carries on
        err.print("Interrupted; the job goes on (`keras-service cancel ID` stops it).")
        return 130


def stderr() -> Console:
    # Bound to sys.stderr when printing, not when made: tests capture it in-process.
    # Soft wrap: a message stays one line in logs, and the terminal wraps it.
    return Console(stderr=True, highlight=False, soft_wrap=True)


def parser() -> argparse.ArgumentParser:
    # The global options are accepted before or after the command: SUPPRESS keeps a
    # subcommand's parser from overwriting what the main parser read.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"the API's base URL (env {URL_ENV}; default {DEFAULT_URL})",
    )
    common.add_argument(
        "--api-key", default=argparse.SUPPRESS, help=f"an API key (env {API_KEY_ENV})"
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS,
        help="seconds to wait for each answer (default 60)",
    )
    main_parser = argparse.ArgumentParser(
        prog="keras-service",
        description="Train Keras models on the training service and use them.",
        parents=[common],
    )
    commands = main_parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    def command(name: str, run: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(run=run)
        return sub

    sub = command("submit", submit, "queue a training job; prints its ID only")
    sub.add_argument("spec", help="the training spec, a JSON file (- for stdin)")
    sub.add_argument("--idempotency-key", help="makes a retried submit answer the same job")

    sub = command("watch", watch, "follow a job epoch by epoch until it ends")
    sub.add_argument("job_id", metavar="ID")

    sub = command("predict", predict, "predict with a finished job's model; prints JSON")
    sub.add_argument("model", metavar="ID|ALIAS")
    sub.add_argument(
        "input", help='a JSON file: a list of rows or {"instances": [...]} (- for stdin)'
    )
    sub.add_argument("--return", dest="return_", choices=RETURNS, help="for classifiers")

    sub = command("summary", summary, "the layers and parameter counts of a model")
    sub.add_argument("model", metavar="ID|ALIAS|SPEC.json", help="a trained model or a spec file")

    sub = command("sweep", sweep, "start a hyperparameter sweep and follow its leaderboard")
    sub.add_argument("sweep", help="the sweep (spec, search, objective...), a JSON file")

    sub = command(
        "alias", alias, "set an alias's weighted targets and shadow, and print its report"
    )
    sub.add_argument("name", metavar="ALIAS")
    sub.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="ID[=WEIGHT]",
        help="a job to send requests to, with its weight (default 1); repeat for a split",
    )
    sub.add_argument(
        "--shadow", metavar="ID[=PERCENT]", help="a job mirrored a share of requests (100)"
    )

    sub = command("jobs", jobs, "list jobs, newest first")
    sub.add_argument("--status", choices=STATUSES)
    sub.add_argument("--limit", type=int, default=20, help="1 to 100 (default 20)")

    sub = command("cancel", cancel, "cancel a queued or running job")
    sub.add_argument("job_id", metavar="ID")

    sub = command("delete", delete, "delete an ended job and its model")
    sub.add_argument("job_id", metavar="ID")
    return main_parser


def alias(client: Client, args: argparse.Namespace, out: Console) -> int:
    if args.shadow and not args.target:
        raise InputError("--shadow needs the alias's --target(s) too: a setting is whole.")
    if args.target:
        setting: dict[str, Any] = {"targets": [_weighted(t, 1) for t in args.target]}
        if args.shadow:
            job_id, percent = _weighted(args.shadow, 100).values()
            setting["shadow"] = {"job_id": job_id, "percent": percent}
        client.set_alias(args.name, setting)
    out.print(render.rollout(client.alias_report(args.name)))
    return 0


def _weighted(text: str, default: int) -> dict[str, Any]:
    job_id, _, weight = text.partition("=")
    try:
        return {"job_id": job_id, "weight": int(weight) if weight else default}
    except ValueError:
        raise InputError(f"{text}: expected ID or ID=NUMBER.") from None


def submit(client: Client, args: argparse.Namespace, out: Console) -> int:
    spec = read_json(args.spec)
    if not isinstance(spec, dict):
        raise InputError(f"{args.spec}: a training spec is a JSON object.")
    job = client.submit(spec, idempotency_key=args.idempotency_key)
    print(job["id"])  # only the ID, so that ID=$(keras-service submit spec.json) works
    return 0


def watch(client: Client, args: argparse.Namespace, out: Console) -> int:
    job = client.job(args.job_id)  # a 404 here, before any progress bar is drawn
    # The bar shows the latest loss only, so it fits 80 columns; each epoch's line
    # printed above it has all the metrics.
    columns = (
        TextColumn("{task.description}", table_column=Column(max_width=24, no_wrap=True)),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[loss]}"),
    )
    with Progress(*columns, console=out) as bar:
        name = job.get("name") or job["id"]
        task = bar.add_task(name, total=job["progress"]["epochs"], loss="")
        for event in client.events(args.job_id):
            data = event.json()
            if event.event == "epoch":
                loss = f"loss: {render.number(data['loss'])}" if "loss" in data else ""
                bar.update(task, completed=data["epoch"], total=data["epochs"], loss=loss)
                bar.console.print(render.epoch_line(data), soft_wrap=True)
            elif event.event == "end":
                job = data
    return ended(job, out)


def ended(job: dict[str, Any], out: Console) -> int:
    """The end of a watched job: its test metrics (0), or why it did not finish (1)."""
    if job["status"] == "finished":
        result = job.get("result") or {}
        line = Text("Finished", style="bold green")
        if "epochs_run" in result:
            line.append(f" after {result['epochs_run']} epochs")
            if result["epochs_run"] < job["progress"]["epochs"] and result.get("best_epoch"):
                line.append(f" (early stopping kept epoch {result['best_epoch']})")
        if "seconds" in result:
            line.append(f" in {result['seconds']:.1f} s")
        line.append(f"; test metrics: {render.metrics_line(job.get('metrics'))}")
        out.print(line, soft_wrap=True)
        return 0
    error = job.get("error") or {}
    title = error.get("title") or f"Job {job['status']}"
    heading = title if job["status"] in title.lower() else f"{title} ({job['status']})"
    stderr().print(render.problem(heading, error.get("detail", "")))
    return 1


def sweep(client: Client, args: argparse.Namespace, out: Console) -> int:
    """Start a sweep, show its leaderboard live as trials end, and exit 0 when it
    finished with a best trial (its job ID is printed last), 1 otherwise."""
    body = read_json(args.sweep)
    if not isinstance(body, dict):
        raise InputError(f"{args.sweep}: a sweep is a JSON object with `spec` and `search`.")
    found = client.sweep(body)
    out.print(f"Sweep {found['id']}")
    with Live(render.sweep(found), console=out, auto_refresh=False) as live:
        for event in client.sweep_events(found["id"]):
            found = event.json() if event.event == "end" else client.get_sweep(found["id"])
            live.update(render.sweep(found), refresh=True)
    if found["status"] == "finished" and found["best"]:
        best = found["best"]
        out.print(
            Text("Best: ", style="bold green").append(
                f"trial {best['number']}, {found['objective']['metric']} "
                f"{render.number(best['objective'])}, test metrics "
                f"{render.metrics_line(best['metrics'])}"
            )
        )
        promotion = found.get("promotion")
        if promotion:
            out.print(promotion["reason"])
        print(best["job_id"])
        return 0
    stderr().print(render.problem(f"Sweep {found['status']}", "No trial finished."))
    return 1


def predict(client: Client, args: argparse.Namespace, out: Console) -> int:
    given = read_json(args.input)
    if isinstance(given, dict) and isinstance(given.get("instances"), list):
        instances, return_ = given["instances"], given.get("return")
    elif isinstance(given, list):
        instances, return_ = given, None
    else:
        raise InputError(f'{args.input}: expected a JSON list of rows or {{"instances": [...]}}.')
    answer = client.predict(args.model, instances, return_=args.return_ or return_)
    if out.is_terminal:
        out.print_json(data=answer)
    else:  # one line for pipes, never wrapped at the console's width
        print(json.dumps(answer))
    return 0


def summary(client: Client, args: argparse.Namespace, out: Console) -> int:
    if args.model.endswith(".json") or Path(args.model).is_file():
        spec = read_json(args.model)
        if not isinstance(spec, dict):
            raise InputError(f"{args.model}: a spec is a JSON object with a `model`.")
        model = client.dry_run_summary(spec)
    else:
        model = client.summary(args.model)
    out.print(render.summary(model))
    return 0


def jobs(client: Client, args: argparse.Namespace, out: Console) -> int:
    listed = client.jobs(status=args.status, limit=args.limit)
    out.print(render.jobs(listed) if listed else "No jobs.")
    return 0


def cancel(client: Client, args: argparse.Namespace, out: Console) -> int:
    job = client.cancel(args.job_id)
    line = Text(f"{job['id']} ").append(render.status(job["status"]))
    if job["status"] != "canceled":  # 202: a running fit stops after its current batch
        line.append(": stopping after its current batch")
    out.print(line)
    return 0


def delete(client: Client, args: argparse.Namespace, out: Console) -> int:
    client.delete(args.job_id)
    out.print(f"{args.job_id} deleted")
    return 0


def read_json(name: str) -> Any:
    """A JSON file's content (`-`: standard input), or InputError saying what is wrong."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{name}: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{name}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})."
        ) from None
