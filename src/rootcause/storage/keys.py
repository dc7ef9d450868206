"""API key format and hashing.

A key looks like ``rc_<id>_<secret>``: ``id`` (12 characters) is public, stored in clear and
used to find the row; ``secret`` (43 characters, 256 random bits) is stored only as its
SHA-256. A fast hash is right here: the secret is random, not a password, so it cannot be
guessed from its hash, and checking it costs microseconds on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "rc_"
KEY_PATTERN = re.compile(r"^rc_(?P<id>[a-z0-9]{12})_(?P<secret>[A-Za-z0-9_-]{20,64})$")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

DEMO_KEY_ID = "demo00000000"
DEMO_API_KEY = f"{PREFIX}{DEMO_KEY_ID}_demo-key-public-never-use-in-production"
"""The well-known key ``rootcause seed-demo`` installs, so the demo is reproducible.

It is printed in the README; seeding refuses to run when ROOTCAUSE_ENVIRONMENT=production."""


def new_key() -> tuple[str, str, str]:
    """Return ``(key_id, secret_sha256, full_key)`` for a fresh random key."""
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    return key_id, hash_secret(secret), f"{PREFIX}{key_id}_{secret}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(presented: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed key, else ``None``."""
    match = KEY_PATTERN.match(presented)
    if match is None:
        return None
    return match.group("id"), match.group("secret")


def secret_matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_sha256)
