"""The worked examples in the core's docstrings are tested, so they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import app.scheduling

WORKED_EXAMPLES = {"clock", "windows", "burden", "search", "planner", "rotation"}
MODULES = sorted(m.name for m in pkgutil.iter_modules(app.scheduling.__path__, "app.scheduling."))


def _examples(module: object) -> list[doctest.DocTest]:
    """The module's examples, without the copies mutation testing makes of each function
    (``x_name__mutmut_1`` …, every one with the same docstring)."""
    found = doctest.DocTestFinder().find(module)
    return [test for test in found if "__mutmut_" not in test.name]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in _examples(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
    if name.rsplit(".", 1)[1] in WORKED_EXAMPLES:
        assert result.attempted > 0
