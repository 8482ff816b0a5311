"""app.serving.lru.Lru: the memo behind plans, series events and feed blocks."""

from __future__ import annotations

import doctest
import threading
from datetime import UTC, date, datetime

import app.serving.lru
from app.db.schedules import PlanMemo, plan_bytes
from app.feeds.routes import FeedCache, RenderedFeed
from app.scheduling.model import Person, parse_working_hours
from app.scheduling.planner import Plan, SeriesSpec, plan_series
from app.serving.lru import Lru

HOURS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}]


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
    assert doctest.testmod(app.serving.lru).failed == 0


def test_a_byte_bound_evicts_the_least_recent_until_the_rest_fits() -> None:
    memo: Lru[str, bytes] = Lru(1000, max_bytes=1000, weigh=len)
    for key in "abcdefghij":
        memo.put(key, b"x" * 100)
    assert len(memo) == 10 and memo.weight == 1000
    memo.get("a")  # a is now the most recent
    memo.put("k", b"x" * 120)
    assert memo.get("b") is None and memo.get("c") is None  # 220 bytes went for 120
    assert memo.get("a") is not None and memo.weight <= 1000
    memo.put("a", b"x" * 10)  # replacing counts the new size only
    assert memo.weight == sum(len(memo.get(k) or b"") for k in memo.keys())  # noqa: SIM118


def test_a_value_over_an_eighth_of_the_bound_is_not_kept() -> None:
    memo: Lru[str, bytes] = Lru(10, max_bytes=800, weigh=len)
    memo.put("small", b"x" * 100)
    assert memo.put("big", b"x" * 101) == b"x" * 101
    assert memo.get("big") is None and memo.get("small") is not None


def test_plans_are_kept_by_their_weight_not_only_by_count() -> None:
    people = tuple(
        Person(f"p{i}", "America/New_York", parse_working_hours(HOURS)) for i in range(40)
    )

    def plan(count: int) -> Plan:
        spec = SeriesSpec(
            "FREQ=WEEKLY;BYDAY=TU",
            date(2027, 1, 5),
            count,
            None,
            "America/New_York",
            60,
            60,
            "rotate",
            people,
        )
        return plan_series(spec)

    small, big = plan(2), plan(20)
    assert plan_bytes(big) > 9 * plan_bytes(small)  # 40 participant times per occurrence
    memo = PlanMemo(size=128, max_bytes=8 * plan_bytes(big))
    memo.put("big", big)
    for i in range(100):  # ten times the weight of the big one
        memo.put(i, small)
    assert memo.get("big") is None  # pushed out by weight long before 128 entries
    assert memo.weight <= 8 * plan_bytes(big)
    assert 0 < len(memo) < 100 and memo.get(99) is small


def test_feed_caches_are_bounded_by_bytes() -> None:
    cache = FeedCache(size=512, max_bytes=64 * 1024)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for i in range(20):
        cache.put((f"feed{i}", "v1", "2026-12-01"), RenderedFeed.of(b"x" * 6000, now))
    assert len(cache) < 20 and cache.weight <= 64 * 1024
    assert cache.get(("feed19", "v1", "2026-12-01")) is not None
    cache.drop_feed("feed19")
    assert cache.get(("feed19", "v1", "2026-12-01")) is None
