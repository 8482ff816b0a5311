"""Secret, revocable links (feeds and share pages): ≥128-bit tokens, stored only as hashes."""

from __future__ import annotations

import hmac
import uuid
from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.db.accounts import hash_secret, new_secret
from app.db.models import Feed, Participant, ShareLink
from app.secret_box import SecretBox

L = TypeVar("L", Feed, ShareLink)

TOKEN_MAX_LENGTH = 100


def issue_link(session: Session, model: type[L], **fields: Any) -> tuple[L, str]:
    """Create a link row; the token (256 random bits) is returned once and stored hashed."""
    token = new_secret("")
    row = model(token_hash=hash_secret(token), **fields)
    session.add(row)
    session.flush()
    return row, token


def issue_feed(session: Session, box: SecretBox, **fields: Any) -> tuple[Feed, str]:
    """A new feed whose token is stored hashed (for lookups) and sealed (to be shown again)."""
    token = new_secret("")
    row = Feed(token_hash=hash_secret(token), token_sealed=box.seal(token), **fields)
    session.add(row)
    session.flush()
    return row, token


def personal_feed(
    session: Session, box: SecretBox, workspace_id: uuid.UUID, participant_id: uuid.UUID
) -> tuple[Feed, str]:
    """A participant's own feed and its token: the newest live one that can be shown again,
    or a new one. Asks for the same person run one at a time, so parallel asks make one."""
    # A write that changes nothing: a row lock on PostgreSQL, and on SQLite the database's
    # write lock, taken before anything is read (SQLite has no row locks).
    session.execute(
        update(Participant)
        .where(col(Participant.id) == participant_id)
        .values(version=Participant.version)
    )
    found = shown_again(session, box, workspace_id, participant_id)
    if found is not None:
        return found
    return issue_feed(
        session, box, workspace_id=workspace_id, scope="participant", target_id=participant_id
    )


def shown_again(
    session: Session, box: SecretBox, workspace_id: uuid.UUID, participant_id: uuid.UUID
) -> tuple[Feed, str] | None:
    """The participant's newest live feed whose token can be shown again: sealed under the
    current key and still the token its hash was made from."""
    rows = session.exec(
        select(Feed)
        .where(
            Feed.workspace_id == workspace_id,
            Feed.scope == "participant",
            Feed.target_id == participant_id,
            col(Feed.revoked_at).is_(None),
            col(Feed.token_sealed).is_not(None),
        )
        .order_by(col(Feed.created_at).desc(), col(Feed.id))
    )
    for row in rows:
        token = box.open(row.token_sealed or "")
        if token is not None and same_digest(row.token_hash, hash_secret(token)):
            return row, token
    return None


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
