"""A bounded LRU cache of loaded models, one per API process (no TensorFlow here)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ModelCache(Generic[T]):
    """At most `size` loaded models weighing at most `max_bytes` together (`weigh` says
    what one weighs), least recently used dropped first; one model heavier than the
    budget is kept alone, so the model asked for is always served.

    A model is loaded once even when several threads ask for it at the same time; a
    load does not block requests for models already loaded. `on_lookup(hit)` hears of
    every `get`, `on_weight(total)` of every change of the loaded bytes (for metrics).
    """

    def __init__(
        self,
        load: Callable[[str], T],
        size: int,
        on_lookup: Callable[[bool], None] | None = None,
        *,
        max_bytes: int | None = None,
        weigh: Callable[[T], int] = lambda _: 0,
        on_weight: Callable[[int], None] | None = None,
    ) -> None:
        self._load = load
        self.size = size
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._on_lookup = on_lookup
        self._on_weight = on_weight
        self._items: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.nbytes = 0

    def get(self, key: str) -> T:
        found = self._lookup(key)
        if self._on_lookup is not None:
            self._on_lookup(found is not None)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            found = self._lookup(key)  # another thread may have loaded it meanwhile
            if found is None:
                found = self._load(key)
                self._insert(key, found)
        with self._lock:
            self._loading.pop(key, None)
        return found

    def discard(self, key: str) -> None:
        """Forget a model (its job was deleted); a later get loads it again."""
        with self._lock:
            dropped = self._items.pop(key, None)
            if dropped is not None:
                self.nbytes -= dropped[1]
        if dropped is not None:
            self._weighed()

    def loaded(self) -> list[str]:
        """The keys loaded, least recently used first."""
        with self._lock:
            return list(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def _insert(self, key: str, value: T) -> None:
        weight = self._weigh(value)
        with self._lock:
            self._items[key] = (value, weight)
            self.nbytes += weight
            while len(self._items) > 1 and self._over():
                _, (_, dropped) = self._items.popitem(last=False)
                self.nbytes -= dropped
        self._weighed()

    def _over(self) -> bool:
        over_bytes = self.max_bytes is not None and self.nbytes > self.max_bytes
        return len(self._items) > self.size or over_bytes

    def _weighed(self) -> None:
        if self._on_weight is not None:
            self._on_weight(self.nbytes)

    def _lookup(self, key: str) -> T | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        return None
