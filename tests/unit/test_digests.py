"""Artifact digests: the sha256 of the bytes, read once per file version."""

from __future__ import annotations

import hashlib
import io
from typing import IO

from service.ml.digests import DigestCache, sha256_of


class Opener:
    """Opens the same bytes each time and counts how often it was asked to."""

    def __init__(self, content: bytes) -> None:
        self.content, self.opened = content, 0

    def __call__(self) -> IO[bytes]:
        self.opened += 1
        return io.BytesIO(self.content)


def test_the_digest_is_the_sha256_of_every_block() -> None:
    content = bytes(range(256)) * 10_000  # several read blocks
    assert sha256_of(io.BytesIO(content)) == hashlib.sha256(content).hexdigest()


def test_a_file_version_is_read_once_and_a_new_version_again() -> None:
    cache, opener = DigestCache(), Opener(b"model")
    first = cache.sha256(("job", "model.keras", 5, "v1"), opener)
    assert cache.sha256(("job", "model.keras", 5, "v1"), opener) == first
    assert opener.opened == 1
    cache.sha256(("job", "model.keras", 5, "v2"), opener)
    assert opener.opened == 2


def test_the_least_recently_used_digests_are_dropped_beyond_the_size() -> None:
    cache, opener = DigestCache(size=2), Opener(b"x")
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        cache.sha256(key, opener)
    assert opener.opened == 3
    cache.sha256("a", opener)
    assert opener.opened == 3
    cache.sha256("b", opener)
    assert opener.opened == 4
