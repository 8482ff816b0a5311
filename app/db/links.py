"""Secret, revocable links (feeds and share pages): ≥128-bit tokens, stored only as hashes."""

from __future__ import annotations

import hmac
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from app.db.accounts import hash_secret, new_secret
from app.db.models import Feed, ShareLink

L = TypeVar("L", Feed, ShareLink)

TOKEN_MAX_LENGTH = 100


def issue_link(session: Session, model: type[L], **fields: Any) -> tuple[L, str]:
    """Create a link row; the token (256 random bits) is returned once and stored hashed."""
    token = new_secret("")
    row = model(token_hash=hash_secret(token), **fields)
    session.add(row)
    session.flush()
    return row, token


def token_digest(token: str) -> str | None:
    """The stored hash of a token, or None for anything that cannot be one of ours."""
    if not token or len(token) > TOKEN_MAX_LENGTH or not token.isascii():
        return None
    return hash_secret(token)


def same_digest(stored: str, digest: str) -> bool:
    return hmac.compare_digest(stored, digest)


def find_link(session: Session, model: type[L], token: str) -> L | None:
    """The live link for ``token``; unknown and revoked tokens look the same (None)."""
    digest = token_digest(token)
    if digest is None:
        return None
    row = session.exec(
        select(model).where(model.token_hash == digest, col(model.revoked_at).is_(None))
    ).first()
    if row is None or not same_digest(row.token_hash, digest):
        return None
    return row


def link_urls(public_base: str, path: str) -> tuple[str, str]:
    """The https (or http) URL and its webcal:// twin for calendar apps."""
    url = f"{public_base.rstrip('/')}{path}"
    _scheme, _, rest = url.partition("://")
    return url, f"webcal://{rest}" if rest else url
