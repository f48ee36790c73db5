"""Reading the client commands' parameters as WHMCS names them, and finding the client they name.

Every reader returns None when the parameter is absent (or empty), and raises ``ApiError`` with a plain
message when it holds something else than the command can take.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes.accounts import service as accounts
from hospes.accounts.service import CLIENT_STATUSES, AccountError
from hospes.adminapi.dispatch import ApiError, Call
from hospes.store.models import ClientAccount
from hospes.store.values import row_id

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000

# WHMCS names languages by their full English name; Hospes keeps a BCP 47 tag (the OIDC ``locale`` claim).
LANGUAGES = {
    "arabic": "ar", "azerbaijani": "az", "catalan": "ca", "chinese": "zh", "croatian": "hr", "czech": "cs",
    "danish": "da", "dutch": "nl", "english": "en", "estonian": "et", "farsi": "fa", "french": "fr",
    "german": "de", "hebrew": "he", "hungarian": "hu", "italian": "it", "macedonian": "mk", "norwegian": "nb",
    "portuguese-br": "pt-BR", "portuguese-pt": "pt-PT", "romanian": "ro", "russian": "ru", "spanish": "es",
    "swedish": "sv", "turkish": "tr", "ukranian": "uk",
}
LANGUAGE_NAMES = {code.lower(): name for name, code in LANGUAGES.items()}
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")


def whole(call: Call, name: str) -> int | None:
    """A whole-number parameter."""
    raw = call.get(name)
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    if not re.fullmatch(r"\d{1,18}", raw):
        raise ApiError(f"The {name} parameter must be a whole number.")
    return int(raw)


def flag(call: Call, name: str) -> bool | None:
    """A boolean parameter: 1/0, true/false, yes/no, on/off."""
    raw = call.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ApiError(f"The {name} parameter must be 1 or 0 (true or false).")


def status(raw: str | None) -> str | None:
    """A client status, in any case."""
    if raw is None or not raw.strip():
        return None
    for known in CLIENT_STATUSES:
        if raw.strip().lower() == known.lower():
            return known
    raise ApiError(f"Invalid status: it must be one of {', '.join(CLIENT_STATUSES)}.")


def language(raw: str | None) -> str | None:
    """WHMCS's full name ('english') or a BCP 47 tag ('en', 'pt-BR'); "" when given empty."""
    if raw is None:
        return None
    value = raw.strip()
    if not value:
        return ""
    if value.lower() in LANGUAGES:
        return LANGUAGES[value.lower()]
    if _BCP47.match(value):
        return value
    raise ApiError("Invalid language: give a language name such as english, or a tag such as en.")


def language_name(locale: str) -> str:
    """The name WHMCS gives a stored locale, or the tag itself when WHMCS has no name for it."""
    return LANGUAGE_NAMES.get((locale or "").lower(), locale or "")


def page(call: Call) -> tuple[int, int]:
    """``limitstart`` and ``limitnum``: where a listing starts and how many it returns."""
    start = whole(call, "limitstart") or 0
    num = whole(call, "limitnum")
    if num is None:
        num = DEFAULT_LIMIT
    if num < 1 or num > MAX_LIMIT:
        raise ApiError(f"The limitnum parameter must be between 1 and {MAX_LIMIT}.")
    return start, num


def email(value: str, invalid: str) -> str:
    """An email address as ``accounts.service`` stores it; ``invalid`` is the command's own message."""
    try:
        return accounts.normalize_email(value)
    except AccountError:
        raise ApiError(invalid) from None


def date(value: Any) -> str:
    """WHMCS's date fields: YYYY-MM-DD, or "" when there is none."""
    return value.date().isoformat() if value is not None else ""


def client_by_id(s: Session, client_id: int | None) -> ClientAccount | None:
    wanted = row_id(client_id)
    return s.get(ClientAccount, wanted) if wanted is not None else None


def client_by_email(s: Session, address: str | None) -> ClientAccount | None:
    """The client account whose owner has this email (Hospes keeps a client's email on its owner)."""
    if not address or not address.strip():
        return None
    user = accounts.find_user_by_email(s, address)
    if user is None:
        return None
    return s.scalar(select(ClientAccount).where(ClientAccount.owner_user_id == user.id)
                    .order_by(ClientAccount.id).limit(1))


def named_client(s: Session, call: Call, *, email_param: str, not_found: str) -> ClientAccount:
    """The client ``clientid`` names or, without it, the one whose owner has the email in ``email_param``."""
    client_id = whole(call, "clientid")
    address = (call.get(email_param) or "").strip()
    if client_id is None and not address:
        raise ApiError(f"Either clientid Or {email_param} Is Required")
    client = client_by_id(s, client_id) if client_id is not None else client_by_email(s, address)
    if client is None:
        raise ApiError(not_found)
    return client
