"""A bounded LRU cache of loaded models, one per API process (no TensorFlow here)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class ModelCache(Generic[T]):
    """At most `size` loaded models, least recently used dropped first.

    A model is loaded once even when several threads ask for it at the same time; a
    load does not block requests for models already loaded. `on_lookup(hit)` hears of
    every `get`: whether the model was there already (for metrics).
    """

    def __init__(
        self, load: Callable[[str], T], size: int, on_lookup: Callable[[bool], None] | None = None
    ) -> None:
        self._load = load
        self.size = size
        self._on_lookup = on_lookup
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

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
                with self._lock:
                    self._items[key] = found
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
        with self._lock:
            self._loading.pop(key, None)
        return found

    def discard(self, key: str) -> None:
        """Forget a model (its job was deleted); a later get loads it again."""
        with self._lock:
            self._items.pop(key, None)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def _lookup(self, key: str) -> T | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None
