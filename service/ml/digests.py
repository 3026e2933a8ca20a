"""sha256 digests of stored artifacts, computed once per file version in each process.

Computed on first listing rather than written at save time: it needs no change to how
jobs are saved, covers jobs saved before it existed and exports added later, and works
the same on every store. A file's version (mtime and inode, or an object's ETag) is part
of the key, so a replaced file is hashed again; nothing stale is served.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import IO

CHUNK = 1 << 20


def sha256_of(stream: IO[bytes]) -> str:
    """The hex sha256 of everything `stream` holds, read in blocks."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


class DigestCache:
    """At most `size` digests, least recently used dropped first (a few hundred bytes
    each). Thread-safe; two threads may hash the same new file once each, harmlessly."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def sha256(self, key: Hashable, open_file: Callable[[], IO[bytes]]) -> str:
        """The digest of the file `key` names, reading it through `open_file` only the
        first time."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        with open_file() as stream:
            found = sha256_of(stream)
        with self._lock:
            self._items[key] = found
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return found
