"""Opaque secrets: generation and the digests under which they are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# 256 bits of randomness (RFC 6749 §10.10: "probability of an attacker guessing ... ≤ 2^(-128)").
TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> bytes:
    """The stored form of a high-entropy token: its SHA-256 (a lookup key, not a password hash)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def hash_secret(secret: str) -> bytes:
    """A salted SHA-256 of a 256-bit random client secret: cheap to check, useless if stolen."""
    salt = secrets.token_bytes(16)
    return salt + hashlib.sha256(salt + secret.encode("utf-8")).digest()


def check_secret(secret: str, stored: bytes | None) -> bool:
    if not stored or len(stored) != 48:
        # Still spend the same work, so timing does not tell a public client from a wrong secret.
        hmac.compare_digest(b"\0" * 32, hashlib.sha256(b"\0" * 16 + secret.encode("utf-8", "replace")).digest())
        return False
    salt, expected = stored[:16], stored[16:]
    actual = hashlib.sha256(salt + secret.encode("utf-8", "replace")).digest()
    return hmac.compare_digest(actual, expected)


def short_id() -> str:
    """A short random identifier (key ids and the like): 96 bits."""
    return secrets.token_urlsafe(12)
