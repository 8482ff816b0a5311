"""pytest plugin used by ``make mutation`` only (``-p`` in ``[tool.mutmut]``, pyproject.toml).

* Every test starts with the core's ``lru_cache``s empty. mutmut runs a mutant against the
  tests that reached the mutated function in its stats run; a test served from a cache
  warmed by an earlier test never reaches the cached function, so without this the test
  that would kill a mutant of, say, ``_find_year_transitions`` is never run against it.
* The tests chosen for a mutant run fastest first (durations from the stats run), so a
  killed mutant costs a fraction of a second instead of the slowest test it reaches.
* Against a mutant, a failure is only counted, never read: tracebacks are Python's own
  (pytest's long ones parse the mutated modules, tens of thousands of lines, about 2 s per
  killed mutant) and hypothesis does not shrink a failing example.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterator
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


def _against_a_mutant() -> bool:
    return os.environ.get("MUTANT_UNDER_TEST") not in (None, "", "stats")


def pytest_configure(config: pytest.Config) -> None:
    if _against_a_mutant():
        config.option.tbstyle = "native"
        settings.register_profile(
            "mutant", phases=(Phase.explicit, Phase.reuse, Phase.generate), database=None
        )
        settings.load_profile("mutant")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stats = Path("mutmut-stats.json")  # mutmut runs the tests inside mutants/
    if not _against_a_mutant() or not stats.exists():
        return
    seconds: dict[str, float] = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: seconds.get(item.nodeid, 0.0))
