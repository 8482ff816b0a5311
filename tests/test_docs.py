"""docs/ is the source of truth (README): its links resolve, and docs/api.md names every route
and every setting the code has, so a change that adds one without documenting it fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.main import create_app
from app.services import services
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
API = ROOT / "docs" / "api.md"
# Routes FastAPI adds by itself (the schema and its viewers), documented as one line.
FRAMEWORK_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)
_STALE = re.compile(r"shared/spec|\bSPEC\.md|\bAPI\.md")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_slug(h) for h in _HEADING.findall(text)}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for target in _LINK.findall(document.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target}: no file {linked}")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert not broken, f"{document.name} has broken links: {broken}"


def _documented(path: str, text: str) -> bool:
    """``/v1/series/{series_id}/plan`` is documented by any spelling of its parameters."""
    pattern = re.escape(path)
    pattern = re.sub(r"\\\{[a-z_]+\\\}", lambda _: r"\{[a-z_]+\}", pattern)
    return re.search(pattern + r"(?![\w/{])", text) is not None


def test_api_md_names_every_route() -> None:
    app = create_app(Settings(environment="test", database_url="sqlite:///:memory:"))
    text = API.read_text(encoding="utf-8")
    try:
        schema = app.openapi()
    finally:
        services(app).engine.dispose()
    routes = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert routes, "the app has no routes?"
    missing = [
        f"{method} {path}"
        for method, path in sorted(routes)
        if path not in FRAMEWORK_ROUTES and not _documented(path, text)
    ]
    assert not missing, f"docs/api.md does not document: {missing}"


def test_api_md_names_every_setting() -> None:
    text = API.read_text(encoding="utf-8")
    missing = [
        f"SCHEDULER_{name.upper()}"
        for name in Settings.model_fields
        if f"`SCHEDULER_{name.upper()}`" not in text
    ]
    assert not missing, f"docs/api.md's configuration table lacks: {missing}"


def test_no_references_to_the_spec_outside_the_repository() -> None:
    stale = []
    for path in [ROOT / "README.md", *ROOT.glob("app/**/*.py"), *ROOT.glob("tests/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        if path != Path(__file__).resolve() and _STALE.search(text):
            stale.append(str(path.relative_to(ROOT)))
    assert not stale, f"point these at docs/rules.md or docs/api.md instead: {stale}"
