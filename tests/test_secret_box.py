"""SCHEDULER_SECRET_KEY: what it seals opens only under it; production needs one of its own."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from app.secret_box import SecretBox, secret_box
from app.settings import Settings

POSTGRES = "postgresql+psycopg://scheduler@127.0.0.1:5432/scheduler"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_sealed_opens_only_under_its_key() -> None:
    box = SecretBox(Fernet.generate_key())
    sealed = box.seal("feed-token-123")
    assert "feed-token-123" not in sealed
    assert box.open(sealed) == "feed-token-123"
    assert SecretBox(Fernet.generate_key()).open(sealed) is None
    assert box.open(sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]) is None
    assert box.open("not sealed at all") is None


def test_production_refuses_to_start_without_a_key() -> None:
    with pytest.raises(ValidationError, match="SCHEDULER_SECRET_KEY"):
        _settings(environment="production", database_url=POSTGRES)
    key = Fernet.generate_key().decode()
    settings = _settings(environment="production", database_url=POSTGRES, secret_key=key)
    assert secret_box(settings).open(SecretBox(key.encode()).seal("x")) == "x"


@pytest.mark.parametrize("key", ["changeme", "A" * 43, "é" * 44])
def test_a_key_that_is_not_a_fernet_key_says_how_to_make_one(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(secret_key=key)
    message = str(caught.value)
    assert "Fernet.generate_key()" in message and key not in message


def test_development_without_a_key_warns_and_still_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.secret_box import _box

    _box.cache_clear()
    with caplog.at_level(logging.WARNING, logger="app.secret_box"):
        box = secret_box(_settings(environment="development", secret_key=""))
    assert "SCHEDULER_SECRET_KEY is not set" in caplog.text
    # Every worker and restart opens what another sealed.
    _box.cache_clear()
    assert secret_box(_settings(environment="test")).open(box.seal("t")) == "t"
