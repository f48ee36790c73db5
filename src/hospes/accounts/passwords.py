"""Password hashing with Argon2id (RFC 9106), via argon2-cffi."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hospes.i18n import _

# Argon2id parameters: the first of the equivalent configurations in OWASP's Password Storage Cheat Sheet
# (m=19 MiB, t=2, p=1); RFC 9106 §4 leaves memory and passes to the deployment's budget. Hashes made with
# other parameters (argon2-cffi's defaults: 64 MiB, t=3, p=4) still verify, and are rehashed on login.
MEMORY_COST_KIB = 19456
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)
# Verified against when the account does not exist, so a miss costs as long as a hit (same parameters).
_DUMMY = _hasher.hash("hospes-dummy-password")

# Every hash and verify runs on a small pool of its own, one thread per core this process may use. Each
# Argon2 run allocates its m KiB block; glibc keeps a freed block of that size in the allocating thread's
# arena, so hashing on any of the web server's 40 pool threads would leave up to 40 such blocks resident.
# Confined here, memory stays at (cores x m), and a flood of logins queues instead of taking every thread.
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_POOL = ThreadPoolExecutor(max_workers=max(1, _CORES), thread_name_prefix="hospes-argon2")


MIN_LENGTH = 8
MAX_LENGTH = 1024


def hash_password(password: str) -> str:
    return _POOL.submit(_hasher.hash, password).result()


def verify_password(password: str, stored: str | None) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _POOL.submit(_hasher.verify, stored or _DUMMY, password).result() and stored is not None
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
        return _("The password must be at least %(n)d characters long.") % {"n": MIN_LENGTH}
    if len(password) > MAX_LENGTH:
        return _("The password must be at most %(n)d characters long.") % {"n": MAX_LENGTH}
    return None
