"""Two-factor login with TOTP (RFC 6238, via pyotp) and single-use backup codes.

The TOTP secret is kept encrypted (AES-GCM, key derived from the secret key with HKDF, RFC 5869), bound to
its user. Enrolment is two steps: ``begin`` makes a secret (shown as a QR code and as text) that counts for
nothing until ``confirm`` sees a first correct code; then ten backup codes are made, shown once, and only
their keyed hashes (HMAC-SHA256) kept. A TOTP code is accepted once: the time step it belongs to is stored
and that step, or an earlier one, is refused afterwards (RFC 6238 §5.2). Every wrong code counts against
the user in ``throttle`` (rule ``SECOND_FACTOR``): five in fifteen minutes and the user must wait.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from hospes.accounts import throttle
from hospes.clock import epoch, now
from hospes.sealing import Sealer, derive
from hospes.store.models import BackupCode, TwoFactor

SECOND_FACTOR = throttle.Rule("2fa", limit=5, window=900)
BACKUP_CODE_COUNT = 10
# RFC 6238 §5.2: accept the previous and the next time step too, for clocks that drift.
VALID_WINDOW = 1
INTERVAL = 30
DIGITS = 6
# Backup codes: 10 characters from an alphabet without look-alikes (no 0/o, 1/l/i), about 50 bits.
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_BACKUP_LENGTH = 10


class Keys:
    """The keys two-factor login derives from the secret key: one to encrypt TOTP secrets, one to hash
    backup codes. Derived, not the secret key itself, so no two uses share a key."""

    def __init__(self, secret_key: bytes) -> None:
        self._sealer = Sealer(secret_key, b"hospes totp secret encryption")
        self._mac = derive(secret_key, b"hospes backup code hashing")

    def encrypt(self, user_id: int, secret: str) -> bytes:
        return self._sealer.seal(secret.encode("ascii"), _aad(user_id))

    def decrypt(self, user_id: int, blob: bytes) -> str | None:
        opened = self._sealer.open(blob, _aad(user_id))
        return opened.decode("ascii") if opened is not None else None

    def backup_hash(self, code: str) -> bytes:
        return hmac.new(self._mac, b"backup:" + code.encode(), hashlib.sha256).digest()


def _aad(user_id: int) -> bytes:
    # A ciphertext copied onto another user's row does not decrypt there.
    return f"user:{user_id}".encode()


@dataclass(frozen=True)
class Status:
    enrolled: bool
    pending_secret: str | None  # enrolment begun, waiting for its first code
    backup_codes_left: int


@dataclass(frozen=True)
class Checked:
    """The outcome of a code: ``method`` "otp" or "backup" when accepted; else ``wait`` > 0 when the user
    must wait (throttled), or neither (wrong, or already used)."""

    method: str | None = None
    wait: int = 0

    @property
    def ok(self) -> bool:
        return self.method is not None


def normalize(code: str) -> str:
    """What a person types, less spaces and dashes, lower case."""
    return "".join(c for c in code if c not in " -\t").lower()[:64]


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits (RFC 4226 §4 R6)


def provisioning_uri(secret: str, account: str, issuer_name: str) -> str:
    """The otpauth:// URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(name=account,
                                                                              issuer_name=issuer_name)


def qr_data_uri(uri: str) -> str:
    """The QR code, as an SVG data: URI for an <img> (the pages' CSP allows img data:)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=4))


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def status(s: Session, keys: Keys, user_id: int) -> Status:
    row = s.get(TwoFactor, user_id)
    if row is None:
        return Status(False, None, 0)
    if row.confirmed_at is None:
        return Status(False, keys.decrypt(user_id, row.secret_encrypted), 0)
    left = s.scalar(select(func.count()).select_from(BackupCode)
                    .where(BackupCode.user_id == user_id, BackupCode.used_at.is_(None))) or 0
    return Status(True, None, int(left))


def is_enrolled(s: Session, user_id: int) -> bool:
    return s.scalar(select(TwoFactor.user_id).where(TwoFactor.user_id == user_id,
                                                    TwoFactor.confirmed_at.is_not(None))) is not None


def begin(s: Session, keys: Keys, user_id: int) -> str:
    """Start (or restart) enrolment: a new secret, not yet in force. Returns it."""
    row = s.get(TwoFactor, user_id)
    if row is not None and row.confirmed_at is not None:
        raise ValueError("two-factor login is already on")
    secret = new_secret()
    if row is None:
        s.add(TwoFactor(user_id=user_id, secret_encrypted=keys.encrypt(user_id, secret), created_at=now()))
    else:
        row.secret_encrypted = keys.encrypt(user_id, secret)
        row.created_at = now()
        row.last_step = None
    return secret


def cancel(s: Session, user_id: int) -> None:
    """Drop an enrolment that was begun and never confirmed."""
    s.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id, TwoFactor.confirmed_at.is_(None)))


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code this is, within the window; None when none matches."""
    # isascii: "²".isdigit() holds, and compare_digest refuses non-ASCII text.
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    t = epoch()
    current = totp.timecode(t)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _use_totp(s: Session, keys: Keys, row: TwoFactor, code: str) -> bool:
    secret = keys.decrypt(row.user_id, row.secret_encrypted)
    step = _matching_step(secret, code) if secret else None
    if step is None:
        return False
    # Once per time step, and never an older one; atomically, so two requests cannot both use it.
    claimed = s.execute(update(TwoFactor).where(
        TwoFactor.user_id == row.user_id,
        (TwoFactor.last_step.is_(None)) | (TwoFactor.last_step < step),
    ).values(last_step=step))
    return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _use_backup(s: Session, keys: Keys, user_id: int, code: str) -> bool:
    if len(code) != _BACKUP_LENGTH:
        return False
    claimed = s.execute(update(BackupCode).where(
        BackupCode.user_id == user_id, BackupCode.code_hash == keys.backup_hash(code),
        BackupCode.used_at.is_(None)).values(used_at=now()))
    return claimed.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _admit(s: Session, user_id: int) -> int:
    """Take this code's place in the user's window before checking it (``throttle.admit``): the wait when
    refused, else 0. A wrong code leaves its place as a failure; a right one clears the window."""
    return throttle.admit(s, [(SECOND_FACTOR, str(user_id))]).wait


def check(s: Session, keys: Keys, user_id: int, code: str, *, allow_backup: bool = True) -> Checked:
    """Check a code for an enrolled user: a TOTP code, or (``allow_backup``) an unused backup code, which
    is then used up. Wrong codes are counted; when too many, nothing is checked until the wait is over."""
    wait = _admit(s, user_id)
    if wait:
        return Checked(wait=wait)
    row = s.get(TwoFactor, user_id)
    if row is None or row.confirmed_at is None:
        return Checked()
    code = normalize(code)
    if _use_totp(s, keys, row, code):
        method = "otp"
    elif allow_backup and _use_backup(s, keys, user_id, code):
        method = "backup"
    else:
        return Checked()
    throttle.clear(s, SECOND_FACTOR, str(user_id))
    return Checked(method=method)


def _new_backup_codes(s: Session, keys: Keys, user_id: int) -> list[str]:
    s.execute(delete(BackupCode).where(BackupCode.user_id == user_id))
    t = now()
    codes = ["".join(secrets.choice(_BACKUP_ALPHABET) for _ in range(_BACKUP_LENGTH))
             for _ in range(BACKUP_CODE_COUNT)]
    for code in codes:
        s.add(BackupCode(user_id=user_id, code_hash=keys.backup_hash(code), created_at=t))
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def confirm(s: Session, keys: Keys, user_id: int, code: str) -> tuple[Checked, list[str]]:
    """Finish enrolment with the first code from the app. On success: two-factor login is on, and the
    backup codes (shown once, never again) are returned."""
    wait = _admit(s, user_id)
    if wait:
        return Checked(wait=wait), []
    row = s.get(TwoFactor, user_id)
    if row is None or row.confirmed_at is not None or not _use_totp(s, keys, row, normalize(code)):
        return Checked(), []
    s.execute(update(TwoFactor).where(TwoFactor.user_id == user_id).values(confirmed_at=now()))
    throttle.clear(s, SECOND_FACTOR, str(user_id))
    return Checked(method="otp"), _new_backup_codes(s, keys, user_id)


def disable(s: Session, keys: Keys, user_id: int, code: str) -> Checked:
    """Turn two-factor login off; needs a current code (or a backup code)."""
    checked = check(s, keys, user_id, code)
    if checked.ok:
        remove(s, user_id)
    return checked


def remove(s: Session, user_id: int) -> bool:
    """Two-factor login off, with its backup codes and its count of wrong codes (the person's own ``disable``,
    and support staff's reset for a person who lost the device and the codes). True when it was on."""
    was_on = is_enrolled(s, user_id)
    s.execute(delete(BackupCode).where(BackupCode.user_id == user_id))
    s.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))
    throttle.clear(s, SECOND_FACTOR, str(user_id))
    return was_on


def regenerate_backup_codes(s: Session, keys: Keys, user_id: int, code: str) -> tuple[Checked, list[str]]:
    """A fresh set of backup codes (the old ones stop working); needs a current code."""
    checked = check(s, keys, user_id, code, allow_backup=False)
    if not checked.ok:
        return checked, []
    return checked, _new_backup_codes(s, keys, user_id)

