"""The worked examples in the core's docstrings are tested, so they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import app.scheduling

WORKED_EXAMPLES = {"clock", "windows", "burden", "search", "planner", "rotation"}
MODULES = sorted(m.name for m in pkgutil.iter_modules(app.scheduling.__path__, "app.scheduling."))


class _Finder(doctest.DocTestFinder):
    """Skips the copies mutation testing makes of each function (``x_name__mutmut_1`` …,
    thousands, every one with the same docstring) before doctest even looks at them."""

    def _find(self, tests, obj, name, module, source_lines, globs, seen):  # type: ignore[no-untyped-def]
        if "__mutmut_" not in name:
            super()._find(tests, obj, name, module, source_lines, globs, seen)  # type: ignore[misc]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in _Finder().find(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    if name.rsplit(".", 1)[1] in WORKED_EXAMPLES:
        assert result.attempted > 0
