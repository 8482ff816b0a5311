"""In-process token buckets: a leaked link or a key-guessing client cannot hammer the database.

Limits are per worker process (N workers allow N times the rate); that bounds the load any
single source can cause without a shared store. Answers are 429 with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock

from app.errors import AppError


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``capacity`` requests at once, refilled at ``per_minute`` a minute, per key."""

    def __init__(
        self,
        capacity: int,
        per_minute: float,
        *,
        max_keys: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = Lock()

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets.move_to_end(key)
        return bucket

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may act again, or None if it may act now."""
        with self._lock:
            bucket = self._bucket(key, self.clock())
            if bucket.tokens >= 1:
                return None
            return max(1, math.ceil((1 - bucket.tokens) / self.rate)) if self.rate else 3600

    def take(self, key: str) -> int | None:
        """Spend one token; None if allowed, else the seconds to wait."""
        with self._lock:
            bucket = self._bucket(key, self.clock())
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return max(1, math.ceil((1 - bucket.tokens) / self.rate)) if self.rate else 3600


def too_many(retry_after: int, what: str) -> AppError:
    return AppError(
        "rate_limited",
        f"Too many {what}; wait {retry_after} s and try again.",
        429,
        headers={"Retry-After": str(retry_after)},
    )


class FailedAttempts:
    """Failures per client address (unknown links, wrong API keys). Only failures spend the
    budget and only failures are refused: a valid token or key is served whatever else came
    from the same address, so nobody behind the same NAT can lock the others out.

    Checking a token or key costs the same bounded work whether it is good or not (a shape
    check, one SHA-256 and at most one indexed lookup), so an address past its budget gets
    429 for every further failure, and one that keeps guessing gains nothing but 429s.
    """

    def __init__(self, buckets: TokenBuckets, what: str) -> None:
        self.buckets = buckets
        self.what = what

    def failed(self, client: str) -> None:
        """Spend one failure of ``client``; 429 once its budget is spent."""
        wait = self.buckets.take(client)
        if wait is not None:
            raise too_many(wait, self.what)


def auth_failures(capacity: int, per_minute: float) -> FailedAttempts:
    return FailedAttempts(
        TokenBuckets(capacity, per_minute), "failed API-key attempts from your address"
    )


class PublicLinks:
    """Public secret links (feeds, share pages): per link, and per address for bad tokens."""

    def __init__(self, per_link: TokenBuckets, unknown_per_client: TokenBuckets) -> None:
        self.per_link = per_link
        self.unknowns = FailedAttempts(
            unknown_per_client, "requests for unknown links from your address"
        )

    def unknown(self, client: str) -> None:
        """A token that names no live link: 429 past the address's budget (else the caller
        answers 404)."""
        self.unknowns.failed(client)

    def hit_link(self, link_id: str) -> None:
        wait = self.per_link.take(link_id)
        if wait is not None:
            raise too_many(wait, "requests for this link")
