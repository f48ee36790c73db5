"""Secrets kept at rest under the secret key: AES-256-GCM with a key derived for one purpose (HKDF-SHA256,
RFC 5869), so no two uses share a key, and each sealed value bound to what it belongs to (its row: a
ciphertext copied onto another row does not open there). From the ``cryptography`` package; nothing here is
hand-made cryptography."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12  # NIST SP 800-38D §8.2: a random 96-bit nonce


def derive(secret_key: bytes, purpose: bytes) -> bytes:
    """A 256-bit key for ``purpose`` from the secret key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key)


class Sealer:
    def __init__(self, secret_key: bytes, purpose: bytes) -> None:
        self._aead = AESGCM(derive(secret_key, purpose))

    def seal(self, plaintext: bytes, belongs_to: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, belongs_to)

    def open(self, blob: bytes, belongs_to: bytes) -> bytes | None:
        """The plaintext; None when the blob was sealed under another key, for another row, or altered."""
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], belongs_to)
        except (InvalidTag, ValueError):
            return None
