"""The language people read: gettext catalogues (Babel) under ``hospes/locale``, one language per request.

English is the source language (the msgids); every other language is a ``<lang>/LC_MESSAGES/messages.mo``
compiled from its ``.po`` (``make translations``; docs/BRANDING.md). The web layer chooses the language of a
request (``web/locale.py``: the authorization request's ``ui_locales``, a language the person picked, the
browser's Accept-Language) and sets it here; templates and Python code then translate through ``gettext``.
Strings defined at import time (tables, constants) are marked with ``N_`` and translated where they are shown.
"""

from __future__ import annotations

import functools
import gettext as _gettext
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
# Accept-Language is a header anyone can send: read at most this many of its tags.
MAX_TAGS = 16

_current: ContextVar[str] = ContextVar("hospes_locale", default=DEFAULT)


@functools.cache
def available() -> tuple[str, ...]:
    """English and every language with a compiled catalogue."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return (DEFAULT, *(name for name in found if name != DEFAULT))


@functools.cache
def translations(locale: str) -> _gettext.NullTranslations:
    if locale == DEFAULT or locale not in available():
        return _gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], DOMAIN)


@functools.cache
def language_name(locale: str) -> str:
    """The language's own name for itself ("Deutsch"), for a switch link."""
    name = Locale.parse(locale).get_display_name(locale) or locale
    return name[:1].upper() + name[1:]


def _match(tags: Iterable[str]) -> str | None:
    tags = [t.strip() for t in tags if t.strip() and t.strip() != "*"]
    if not tags:
        return None
    # Babel's negotiation: an exact tag first, else its language alone ("de-AT" → "de").
    return negotiate_locale(tags, list(available()), sep="-")


def from_ui_locales(ui_locales: str | None) -> str | None:
    """OIDC Core §3.1.2.1 ui_locales: space-separated BCP 47 tags, the most preferred first; the first one
    Hospes has, else None (the parameter is a preference, never an error)."""
    if not ui_locales:
        return None
    return _match(ui_locales.split()[:MAX_TAGS])


def from_accept_language(header: str | None) -> str | None:
    """RFC 9110 §12.5.4 Accept-Language: tags weighted by q (default 1, 0 means "not this one")."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:MAX_TAGS]):
        tag, _, params = part.partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            weighted.append((-q, i, tag.strip()))
    return _match(tag for _, _, tag in sorted(weighted))


def choose(*preferences: str | None) -> str:
    """The first preference that names an available language, else English."""
    for p in preferences:
        if p in available():
            return p
    return DEFAULT


def current() -> str:
    return _current.get()


def use(locale: str) -> None:
    """Make ``locale`` the language of the rest of this request (or task)."""
    _current.set(locale if locale in available() else DEFAULT)


@contextmanager
def using(locale: str) -> Iterator[None]:
    """The language for a block (a mail for someone else than the person asking, a test)."""
    token = _current.set(locale if locale in available() else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A message whose English reads the same as another's but means something else ("Client ID": the
    customer number in the client area, an OAuth client's identifier in the admin area)."""
    return translations(_current.get()).pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 (gettext's name)
    """Marks a string for the catalogue where it is defined; ``gettext`` translates it where it is shown."""
    return message


_ = gettext
