"""A small least-recently-used memo, safe to share between a worker's threads."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``size`` values by key; the least recently used goes first.

    >>> memo: Lru[str, int] = Lru(2)
    >>> memo.put("a", 1), memo.put("b", 2), memo.get("a"), memo.put("c", 3)
    (1, 2, 1, 3)
    >>> memo.get("b") is None, len(memo)
    (True, 2)
    """

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` (returned, for ``return memo.put(key, compute())``)."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)
