"""The model cache: bounded, least recently used out first, one load per model."""

from __future__ import annotations

import threading
import time

from service.ml.cache import ModelCache


def test_cache_keeps_at_most_size_models_dropping_the_least_recently_used() -> None:
    loads: list[str] = []
    cache = ModelCache(lambda key: loads.append(key) or key.upper(), size=2)
    assert cache.get("a") == "A"
    cache.get("b")
    cache.get("a")  # a is now the most recently used
    cache.get("c")  # evicts b
    assert "a" in cache
    assert "c" in cache
    assert "b" not in cache
    cache.get("a")
    assert loads == ["a", "b", "c"]


def test_concurrent_requests_for_one_model_load_it_once() -> None:
    loads: list[str] = []

    def slow_load(key: str) -> str:
        loads.append(key)
        time.sleep(0.2)
        return key

    cache = ModelCache(slow_load, size=4)
    threads = [threading.Thread(target=cache.get, args=("m",)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == ["m"]


def test_cache_keeps_the_loaded_models_within_their_byte_budget() -> None:
    weights = {"a": 60, "b": 50, "c": 30, "huge": 500}
    seen: list[int] = []
    cache = ModelCache(
        lambda key: key, size=10, max_bytes=100, weigh=weights.__getitem__, on_weight=seen.append
    )
    cache.get("a")
    cache.get("b")  # 110 bytes: a, the least recently used, goes
    assert cache.loaded() == ["b"]
    cache.get("c")
    assert (cache.loaded(), cache.nbytes) == (["b", "c"], 80)
    cache.get("huge")  # heavier than the budget on its own: kept, alone
    assert (cache.loaded(), cache.nbytes) == (["huge"], 500)
    cache.discard("huge")
    assert (cache.nbytes, seen[-1]) == (0, 0)
