"""Workspaces and API keys: creation and revocation, shared by the API and the CLI."""

from __future__ import annotations

import hashlib
import secrets

from sqlmodel import Session

from app.db.models import ApiKey, Workspace

KEY_PREFIX = "sk_"
# Keys are "sk_" and 43 characters: a longer or non-ASCII credential is none of ours.
KEY_MAX_LENGTH = 100


def plausible_key(key: str) -> bool:
    """False for what cannot be one of our keys, so it costs no database lookup."""
    return len(key) <= KEY_MAX_LENGTH and key.isascii()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(prefix: str) -> str:
    """256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def issue_api_key(session: Session, workspace: Workspace) -> tuple[ApiKey, str]:
    """A new key for ``workspace``; the plain key is returned once and never stored."""
    key = new_secret(KEY_PREFIX)
    row = ApiKey(workspace_id=workspace.id, key_hash=hash_secret(key), prefix=key[:10])
    session.add(row)
    session.flush()
    return row, key


def create_workspace(session: Session, name: str) -> tuple[Workspace, str]:
    workspace = Workspace(name=name)
    session.add(workspace)
    session.flush()
    _, key = issue_api_key(session, workspace)
    return workspace, key
