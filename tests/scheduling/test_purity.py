"""The core stays pure: no web framework, database or HTTP client anywhere in it."""

from __future__ import annotations

import ast
from pathlib import Path

import app.scheduling

BANNED = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "httpx", "app.api", "app.db")
PACKAGE = Path(app.scheduling.__file__).parent


def imported_modules(source: str, package: list[str]) -> set[str]:
    """Absolute names of every module imported anywhere in ``source`` (a module of
    ``package``), relative imports resolved, ``from x import y`` counted as x and x.y."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.update(a.value for a in node.args if isinstance(a, ast.Constant))
    return names


def banned(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == b or n.startswith(b + ".") for b in BANNED))


def test_core_imports_no_web_or_database_package() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert {"model.py", "windows.py", "burden.py", "search.py"} <= {p.name for p in files}
    offenders = {}
    for path in files:
        package = ["app", "scheduling", *path.relative_to(PACKAGE).parent.parts]
        found = banned(imported_modules(path.read_text(encoding="utf-8"), package))
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_the_checker_sees_relative_aliased_and_dynamic_imports() -> None:
    source = (
        "from ..db import models\n"
        "import sqlalchemy.orm as orm\n"
        "def f():\n"
        "    from fastapi import FastAPI\n"
        "    return __import__('httpx')\n"
    )
    assert banned(imported_modules(source, ["app", "scheduling"])) == [
        "app.db",
        "app.db.models",
        "fastapi",
        "fastapi.FastAPI",
        "httpx",
        "sqlalchemy.orm",
    ]
