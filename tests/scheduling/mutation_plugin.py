"""pytest plugin used by ``make mutation`` only (``-p`` in ``[tool.mutmut]``, pyproject.toml).

* Every test starts with the core's ``lru_cache``s empty. mutmut runs a mutant against the
  tests that reached the mutated function in its stats run; a test served from a cache
  warmed by an earlier test never reaches the cached function, so without this the test
  that would kill a mutant of, say, ``_find_year_transitions`` is never run against it.
* The tests chosen for a mutant run fastest first (durations from the stats run), so a
  killed mutant costs a fraction of a second instead of the slowest test it reaches.
* Against a mutant, a test that runs past ``5 s + 10 ×`` its time in the stats run (CPU
  time) ends the run as a timeout at once (exit 36, mutmut's code), instead of mutmut's
  limit for the whole set of tests, over a minute for the clock's mutants.
* Against a mutant, a failure is only counted, never read: tracebacks are Python's own
  (pytest's long ones parse the mutated modules, tens of thousands of lines, about 2 s per
  killed mutant) and hypothesis does not shrink a failing example.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import Phase, settings


def _core_caches() -> Iterator[functools._lru_cache_wrapper[object]]:
    for name, module in list(sys.modules.items()):
        if name == "app.scheduling" or name.startswith("app.scheduling."):
            for value in vars(module).values():
                if isinstance(value, functools._lru_cache_wrapper):
                    yield value


@pytest.fixture(autouse=True)
def _fresh_core_caches() -> None:
    for cache in _core_caches():
        cache.cache_clear()


STATS = Path("mutmut-stats.json")  # mutmut runs the tests inside mutants/
MUTMUT_TIMEOUT = 36


def _against_a_mutant() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST") not in (None, "", "stats")


def pytest_configure(config: pytest.Config) -> None:
    if _against_a_mutant():
        config.option.tbstyle = "native"
        settings.register_profile(
            "mutant", phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None
        )
        settings.load_profile("mutant")


@functools.cache
def _stats_seconds() -> dict[str, float]:
    if not STATS.exists():
        return {}
    seconds: dict[str, float] = json.loads(STATS.read_text())["duration_by_test"]
    return seconds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if _against_a_mutant():
        items.sort(key=lambda item: _stats_seconds().get(item.nodeid, 0.0))


def _time_out(_signum: int, _frame: object) -> None:
    os._exit(MUTMUT_TIMEOUT)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    if not _against_a_mutant():
        return (yield)
    budget = 5.0 + 10 * _stats_seconds().get(item.nodeid, 0.0)
    previous = signal.signal(signal.SIGPROF, _time_out)
    signal.setitimer(signal.ITIMER_PROF, budget)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
