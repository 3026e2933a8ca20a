"""Where an alias sends a request: one of its weighted targets, chosen at random by
weight or, for a routing key, by the key's hash, so one key always reaches one target
while the weights stand."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

# The header that makes the choice sticky (a user, session or device ID).
ROUTING_HEADER = "X-Routing-Key"
_HASH_SPAN = float(2**64)


@dataclass(frozen=True)
class Target:
    job_id: str
    weight: int


@dataclass(frozen=True)
class Shadow:
    job_id: str
    percent: float


@dataclass(frozen=True)
class Route:
    """An alias's setting: its targets (weights > 0, in the order they were given) and
    an optional shadow."""

    targets: tuple[Target, ...]
    shadow: Shadow | None = None

    @classmethod
    def of(cls, document: dict[str, Any]) -> Route:
        """From its stored JSON (`{"job_id"}` alone, as aliases were first stored, is one
        target of weight 100)."""
        if "targets" not in document:
            return cls((Target(document["job_id"], 100),))
        shadow = document.get("shadow")
        return cls(
            tuple(Target(t["job_id"], t["weight"]) for t in document["targets"]),
            Shadow(shadow["job_id"], shadow["percent"]) if shadow else None,
        )

    def document(self) -> dict[str, Any]:
        return {
            "targets": [{"job_id": t.job_id, "weight": t.weight} for t in self.targets],
            "shadow": (
                {"job_id": self.shadow.job_id, "percent": self.shadow.percent}
                if self.shadow
                else None
            ),
        }

    @property
    def primary(self) -> str:
        """The target with the largest weight (the first of equals): the model the
        alias stands for outside predictions, and the one candidates are tested against."""
        return max(self.targets, key=lambda t: t.weight).job_id

    @property
    def job_ids(self) -> set[str]:
        """Every job the setting uses, shadow included."""
        found = {t.job_id for t in self.targets}
        return found | {self.shadow.job_id} if self.shadow else found

    def pick(self, routing_key: str | None = None) -> str:
        """The job to answer a request: by weight, at random or by `routing_key`."""
        if len(self.targets) == 1:
            return self.targets[0].job_id
        point = random.random() if routing_key is None else _unit(routing_key)
        point *= sum(t.weight for t in self.targets)
        for target in self.targets:
            point -= target.weight
            if point < 0:
                return target.job_id
        return self.targets[-1].job_id  # rounding at the very top of the range

    def mirrors(self) -> bool:
        """Whether this request is mirrored to the shadow (its percent, at random)."""
        return self.shadow is not None and random.random() * 100 < self.shadow.percent


def _unit(routing_key: str) -> float:
    """A point in [0, 1) fixed by the key. Cumulative weights cut the range in order, so
    when weights change only the keys in the part that moved change target."""
    digest = hashlib.blake2b(routing_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _HASH_SPAN
