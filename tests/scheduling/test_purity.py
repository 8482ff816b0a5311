"""The core stays pure: it imports only the standard library, a few numeric and calendar
packages, and itself. Anything else (the web framework, the database, other app packages,
templates, HTTP clients) is refused by an allow-list, not a list of known offenders."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import app.scheduling

CORE = "app.scheduling"
# Third-party packages the core may import, each for a reason.
ALLOWED_PACKAGES = frozenset(
    {
        "numpy",  # burden, clock, windows, search, planner, rotation, notices
        "scipy",  # rotation: scipy.optimize.milp and scipy.sparse
        "dateutil",  # recurrence: RRULE expansion
        "holidays",  # windows: public-holiday calendars
        "tzdata",  # the IANA database behind zoneinfo (stdlib)
    }
)
PACKAGE = Path(app.scheduling.__file__).parent


def imported_modules(source: str, package: list[str]) -> set[str]:
    """Absolute names of every module imported anywhere in ``source`` (a module of
    ``package``), relative imports resolved, ``from x import y`` counted as x and x.y,
    ``__import__("x")`` and ``importlib.import_module("x")`` with a constant name as x."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _dynamic_import(node.func):
            names.update(
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            )
    return names


def _dynamic_import(func: ast.expr) -> bool:
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name in ("__import__", "import_module")


def allowed(name: str) -> bool:
    """The standard library, :data:`ALLOWED_PACKAGES` and the core itself; nothing else."""
    root = name.split(".", 1)[0]
    if root == "app":
        return name == CORE or name.startswith(CORE + ".")
    return root in sys.stdlib_module_names or root in ALLOWED_PACKAGES


def refused(names: set[str]) -> list[str]:
    return sorted(n for n in names if not allowed(n))


def test_core_imports_only_the_stdlib_its_packages_and_itself() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert {"model.py", "windows.py", "burden.py", "search.py", "planner.py"} <= {
        p.name for p in files
    }
    offenders = {}
    for path in files:
        package = ["app", "scheduling", *path.relative_to(PACKAGE).parent.parts]
        found = refused(imported_modules(path.read_text(encoding="utf-8"), package))
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_the_checker_refuses_every_other_import() -> None:
    source = (
        "from ..db import models\n"
        "from .. import errors\n"
        "from app.share.render import city\n"
        "import app.slack\n"
        "import app.api.series as series\n"
        "import sqlalchemy.orm as orm\n"
        "import jinja2, sqlmodel\n"
        "def f():\n"
        "    from fastapi import FastAPI\n"
        "    import importlib\n"
        "    importlib.import_module('pydantic')\n"
        "    return __import__('httpx')\n"
    )
    assert refused(imported_modules(source, ["app", "scheduling"])) == [
        "app",
        "app.api.series",
        "app.db",
        "app.db.models",
        "app.errors",
        "app.share.render",
        "app.share.render.city",
        "app.slack",
        "fastapi",
        "fastapi.FastAPI",
        "httpx",
        "jinja2",
        "pydantic",
        "sqlalchemy.orm",
        "sqlmodel",
    ]


def test_the_checker_allows_the_stdlib_the_listed_packages_and_the_core() -> None:
    source = (
        "from __future__ import annotations\n"
        "import numpy.typing as npt\n"
        "from collections.abc import Sequence\n"
        "from zoneinfo import ZoneInfo\n"
        "from scipy.optimize import milp\n"
        "from dateutil.rrule import rrulestr\n"
        "import holidays, tzdata\n"
        "from . import model\n"
        "from .clock import Minutes\n"
        "from app.scheduling.burden import burden_matrix\n"
    )
    assert refused(imported_modules(source, ["app", "scheduling"])) == []
    # A package whose name merely starts like the core's is not the core.
    assert not allowed("app.scheduling_extra") and not allowed("numpyro")
