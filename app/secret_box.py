"""Secrets the service must be able to show again, sealed with ``SCHEDULER_SECRET_KEY``.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``): the database holds only
ciphertext, which a dump or a read-only leak cannot open without the key, and any change
to it is detected. Feed tokens are sealed beside their hash so ``/meet feed`` can show a
person's existing link again; lookups still go by the hash alone.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from app.settings import Settings

log = logging.getLogger("app.secret_box")

# Development and tests only (production refuses to start without a key): workable across
# workers and restarts, and secret from nobody.
_DEVELOPMENT_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"meeting-scheduler development key: not a secret").digest()
)


class SecretBox:
    """Seals and opens short strings with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The plain text, or None when it was sealed under another key or altered."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            return None


def secret_box(settings: Settings) -> SecretBox:
    key = settings.secret_key
    return _box(None if key is None else key.get_secret_value())


@lru_cache(maxsize=8)
def _box(key: str | None) -> SecretBox:
    if key is None:
        log.warning(
            "SCHEDULER_SECRET_KEY is not set: sealing with the built-in development key, which "
            "is not secret. Production refuses to start without a key of its own."
        )
        return SecretBox(_DEVELOPMENT_KEY)
    return SecretBox(key.encode("ascii"))


def signing_key(settings: Settings) -> bytes:
    """Bytes to derive signing keys from (invitation links): the secret key itself, or the
    development key when unset (as for sealing)."""
    key = settings.secret_key
    return _DEVELOPMENT_KEY if key is None else key.get_secret_value().encode("ascii")
