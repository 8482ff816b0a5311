"""A small least-recently-used memo, safe to share between a worker's threads, bounded by
entry count and, when given a weigher, by (estimated) bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``size`` values by key, and at most ``max_bytes`` by ``weigh(value)`` when
    a weigher is given; the least recently used goes first. A value heavier than an eighth
    of ``max_bytes`` is handed back but not kept (it would evict everything else).

    >>> memo: Lru[str, int] = Lru(2)
    >>> memo.put("a", 1), memo.put("b", 2), memo.get("a"), memo.put("c", 3)
    (1, 2, 1, 3)
    >>> memo.get("b") is None, len(memo)
    (True, 2)
    >>> texts: Lru[str, str] = Lru(100, max_bytes=80, weigh=len)
    >>> _ = [texts.put(k, k * 10) for k in "abcdefghi"]  # 9 x 10 bytes: "a" goes
    >>> texts.get("a"), len(texts), texts.weight
    (None, 8, 80)
    >>> _ = texts.put("z", "z" * 11)  # more than 80 // 8: answered, not kept
    >>> texts.get("z"), len(texts)
    (None, 8)
    """

    def __init__(
        self, size: int, *, max_bytes: int | None = None, weigh: Callable[[V], int] | None = None
    ) -> None:
        if (max_bytes is None) != (weigh is None):
            raise ValueError("max_bytes and weigh go together")
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._size = size
        self._max_bytes = max_bytes
        self._weigh = weigh
        self._bytes = 0
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def keeps(self, value: V) -> bool:
        """Whether :meth:`put` would keep ``value`` (it is not too heavy)."""
        if self._max_bytes is None or self._weigh is None:
            return True
        return self._weigh(value) <= self._max_bytes // 8

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` (returned, for ``return memo.put(key, compute())``)."""
        weight = self._weigh(value) if self._weigh is not None else 0
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if self._max_bytes is not None and weight > self._max_bytes // 8:
                return value
            self._entries[key] = (value, weight)
            self._bytes += weight
            while len(self._entries) > self._size or (
                self._max_bytes is not None and self._bytes > self._max_bytes
            ):
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
        return value

    def keys(self) -> list[K]:
        with self._lock:
            return list(self._entries)

    def drop(self, keep: Callable[[K], bool]) -> None:
        """Forget every entry whose key ``keep`` refuses."""
        with self._lock:
            for key in [k for k in self._entries if not keep(k)]:
                self._bytes -= self._entries.pop(key)[1]

    @property
    def weight(self) -> int:
        """The estimated bytes held (0 without a weigher)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
