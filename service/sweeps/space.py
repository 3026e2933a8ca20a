"""A sweep's search space: JSON paths into a training spec, each with a distribution,
and what a trial's parameters make of the spec.

A path names a value of the normalized spec as a client writes it in JSON
(`model.layers[0].units`, `compile.optimizer.learning_rate`, `fit.batch_size`); every
object and list on the way must exist, and so must a list's item, while an object's
last key may be one the spec leaves to its default (the spec's schema then says what
it may be). A distribution is `int` or `float` (a range, optionally `log`) or `choice`
(any JSON values, whole layer lists included).
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.errors import InvalidSpec, InvalidSweep
from service.schemas.fields import is_int

if TYPE_CHECKING:
    from service.config import Settings
    from service.ml.uploads import Table

Step = str | int
_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
# At most this many corners of a space are built and checked (each ~50 ms); a larger
# space is checked at its two extreme corners and each range's ends and each choice
# with every other dimension at its upper end.
MAX_CORNERS = 64
KINDS = ("int", "float", "choice")


@dataclass(frozen=True)
class Dimension:
    path: str
    steps: tuple[Step, ...]
    kind: str  # one of KINDS
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def extremes(self) -> list[Any]:
        """The values a check must try: a range's ends, or every choice."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


def parse_path(path: str) -> tuple[Step, ...] | None:
    """`model.layers[0].units` -> ("model", "layers", 0, "units"); None if malformed."""
    steps: list[Step] = []
    at = 0
    while at < len(path):
        found = _STEP.match(path, at)
        if found is None:
            return None
        name, index = found.groups()
        if name is not None and (path[at] == ".") != (at > 0):
            return None  # a name follows a dot, except the first
        steps.append(name if name is not None else int(index))
        at = found.end()
    return tuple(steps) if steps and isinstance(steps[0], str) else None


def lookup(spec: Any, steps: tuple[Step, ...]) -> tuple[bool, Any, str | None]:
    """(found, value, why not): whether the path can be set in `spec`, its value there
    (None when an object's last key is absent) and, if it cannot, why."""
    node = spec
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        where = render(steps[:depth]) or "the spec"
        if isinstance(step, int):
            if not isinstance(node, list):
                return False, None, f"{where} is not a list."
            if step >= len(node):
                return False, None, f"{where} has {len(node)} items; there is no item {step}."
            node = node[step]
        else:
            if not isinstance(node, dict):
                return False, None, f"{where} is not an object."
            if step not in node:
                if last:
                    return True, None, None
                return False, None, f"{where} has no {step!r}."
            node = node[step]
    return True, node, None


def render(steps: tuple[Step, ...]) -> str:
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
    return text


def dimensions(
    search: Mapping[str, Mapping[str, Any]], spec: dict[str, Any]
) -> tuple[list[Dimension], dict[str, list[str]]]:
    """The space `search` (path -> loaded distribution: kind, low and high or choices,
    log) describes over the normalized `spec`, and the errors keyed by the search path
    (a path that does not exist, a distribution that does not fit)."""
    found, errors = [], {}
    for path, distribution in search.items():
        steps = parse_path(path)
        if steps is None:
            errors[path] = ["Not a path: write it as in JSON, e.g. model.layers[0].units."]
            continue
        exists, current, why = lookup(spec, steps)
        if not exists:
            errors[path] = [f"No such value in the spec: {why}"]
            continue
        kind = distribution["kind"]
        misfit = _misfit(kind, current)
        if misfit:
            errors[path] = [misfit]
            continue
        if kind == "choice":
            found.append(Dimension(path, steps, kind, choices=tuple(distribution["choices"])))
        else:
            low, high = distribution["low"], distribution["high"]
            found.append(Dimension(path, steps, kind, low, high, distribution["log"]))
    for one, other in itertools.permutations(found, 2):
        if other.steps[: len(one.steps)] == one.steps:
            errors[other.path] = [f"It lies inside {one.path}, which is searched too."]
    return found, errors


def _misfit(kind: str, current: Any) -> str | None:
    if current is None or kind == "choice":
        return None  # left to its default: the spec's schema judges each value
    if kind == "int" and not is_int(current):
        return (
            f"An int range does not fit this field: the spec has {current!r} here. Use "
            "float for a real number, or choice."
        )
    if kind == "float" and (isinstance(current, bool) or not isinstance(current, int | float)):
        return f"A float range does not fit this field: the spec has {current!r} here. Use choice."
    return None


def grid_values(dimension: Mapping[str, Any]) -> list[int]:
    """The values a grid sweep tries for a dimension (stored as a dict): every choice
    (by index), or every integer of an int range."""
    if dimension["kind"] == "choice":
        return list(range(len(dimension["choices"])))
    return list(range(int(dimension["low"]), int(dimension["high"]) + 1))


def apply(spec: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `spec` with each searched path set to its parameter's value."""
    trial = copy.deepcopy(spec)
    for path, value in params.items():
        steps = parse_path(path)
        assert steps is not None  # checked when the sweep was submitted
        node = trial
        for step in steps[:-1]:
            node = node[step]
        node[steps[-1]] = copy.deepcopy(value)
    return trial


def corners(space: list[Dimension]) -> list[dict[str, Any]]:
    """The parameters at the corners of the space, as many as MAX_CORNERS allows."""
    sizes = [len(d.extremes) for d in space]
    total = 1
    for size in sizes:
        total *= size
    if total <= MAX_CORNERS:
        return [
            {d.path: v for d, v in zip(space, values, strict=True)}
            for values in itertools.product(*(d.extremes for d in space))
        ]
    high = {d.path: d.extremes[-1] for d in space}
    found = [{d.path: d.extremes[0] for d in space}, high]
    for d in space:
        found += [{**high, d.path: value} for value in d.extremes[:-1]]
    return found


def check_corners(
    spec: dict[str, Any], space: list[Dimension], settings: Settings, uploaded: Table | None
) -> None:
    """Refuse a space with a corner a job could not train: each corner's spec through
    the checks of a job (its schema and limits, then Keras: parameters, activation
    memory, the data). Errors are keyed `search.<path>` by the path whose value broke
    the check, or `search` when no single one did."""
    from service.ml.preflight import check_spec  # TensorFlow: on first use
    from service.schemas.spec import load_spec

    errors: dict[str, list[str]] = {}
    for params in corners(space):
        try:
            check_spec(load_spec(apply(spec, params), settings), settings, uploaded)
        except InvalidSpec as exc:
            for field, messages in (exc.errors or {}).items():
                key, text = _blame(field, params, space)
                errors.setdefault(key, []).extend(f"{text}: {m}" for m in messages)
        if errors:
            break  # one failing corner says what to change
    if errors:
        raise InvalidSweep({k: list(dict.fromkeys(v)) for k, v in errors.items()})


def _blame(field: str, params: Mapping[str, Any], space: list[Dimension]) -> tuple[str, str]:
    for d in space:
        if field == d.path or field.startswith((f"{d.path}.", f"{d.path}[")):
            where = "" if field == d.path else f" ({field})"
            return f"search.{d.path}", f"At {params[d.path]!r}{where}"
    at = ", ".join(f"{path}={value!r}" for path, value in params.items())
    return "search", f"At the corner {at} ({field})"
