"""The worked examples in the core's docstrings are tested, so they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import app.scheduling

WORKED_EXAMPLES = {"clock", "windows", "burden", "search", "planner", "rotation"}
MODULES = sorted(m.name for m in pkgutil.iter_modules(app.scheduling.__path__, "app.scheduling."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name.rsplit(".", 1)[1] in WORKED_EXAMPLES:
        assert result.attempted > 0
