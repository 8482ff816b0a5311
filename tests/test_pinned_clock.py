"""The test kit's clock: every app a test uses reads ``pinned_now``, never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI

from app.main import create_app
from app.services import services
from tests.conftest import PINNED_NOW, clock_at, make_settings


def test_the_shared_app_stands_at_the_pinned_instant(app: FastAPI, pinned_now: datetime) -> None:
    assert pinned_now == PINNED_NOW
    assert services(app).clock() == PINNED_NOW


def test_an_app_the_test_creates_stands_there_too(database_url: str) -> None:
    own = create_app(make_settings(database_url))
    try:
        assert services(own).clock() == PINNED_NOW
    finally:
        services(own).engine.dispose()


def test_clock_at_moves_it_and_puts_it_back(app: FastAPI) -> None:
    later = datetime(2031, 1, 1, tzinfo=UTC)
    with clock_at(app, later):
        assert services(app).clock() == later
    assert services(app).clock() == PINNED_NOW
