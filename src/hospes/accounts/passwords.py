"""Password hashing with Argon2id (RFC 9106), via argon2-cffi."""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Argon2id parameters: the first of the equivalent configurations in OWASP's Password Storage Cheat Sheet
# (m=19 MiB, t=2, p=1); RFC 9106 §4 leaves memory and passes to the deployment's budget. Hashes made with
# other parameters (argon2-cffi's defaults: 64 MiB, t=3, p=4) still verify, and are rehashed on login.
MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)
# Verified against when the account does not exist, so a miss costs as long as a hit (same parameters).
_DUMMY = _hasher.hash("hospes-dummy-password")

# Every hash and verify holds a slot: each takes its m KiB of memory and a core, so a flood of logins on
# the 40-thread pool runs at most one hash per core, keeping resident memory bounded and leaving the
# other threads free for everything else.
_SLOTS = threading.BoundedSemaphore(max(1, os.cpu_count() or 2))

MIN_LENGTH = 8
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    with _SLOTS:
        return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        with _SLOTS:
            return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def rehashed(password: str, stored: str) -> str | None:
    """A new hash of ``password`` (just verified against ``stored``) when ``stored`` was made with other
    parameters than the current ones; None when it is up to date."""
    return hash_password(password) if needs_rehash(stored) else None


def check_strength(password: str) -> str | None:
    """A reason the password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"The password must be at least {MIN_LENGTH} characters long."
    if len(password) > MAX_LENGTH:
        return f"The password must be at most {MAX_LENGTH} characters long."
    return None
