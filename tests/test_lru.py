"""app.lru.Lru: the memo behind plans, series events and feed blocks."""

from __future__ import annotations

import doctest
import threading

import app.lru
from app.lru import Lru


def test_the_least_recently_used_goes_first() -> None:
    memo: Lru[str, int] = Lru(3)
    for i, key in enumerate("abc"):
        assert memo.put(key, i) == i
    assert memo.get("a") == 0  # a is now the most recent
    memo.put("d", 3)
    assert memo.get("b") is None  # b was the least recent
    assert [memo.get(k) for k in "acd"] == [0, 2, 3]
    memo.put("c", 20)  # replacing keeps the size
    assert len(memo) == 3 and memo.get("c") == 20


def test_falsy_values_are_kept() -> None:
    memo: Lru[str, tuple[int, ...]] = Lru(2)
    memo.put("empty", ())
    assert memo.get("empty") == ()


def test_threads_share_it_safely() -> None:
    memo: Lru[int, int] = Lru(50)

    def work(offset: int) -> None:
        for i in range(2000):
            memo.put((i + offset) % 200, i)
            memo.get((i * 7) % 200)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(memo) == 50


def test_docstring_example() -> None:
    assert doctest.testmod(app.lru).failed == 0
