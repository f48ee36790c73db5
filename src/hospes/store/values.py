"""What the database may be given from outside: row ids within its integer columns, and text a person or an API
may store.

Every id column is INTEGER, which PostgreSQL keeps in 32 bits (https://www.postgresql.org/docs/current/
datatype-numeric.html); a larger number names no row, and sending it makes PostgreSQL fail the statement
("integer out of range") and SQLite's driver raise OverflowError beyond 64 bits. So an id from a form, a
query, the admin API or the command line goes through ``row_id`` before it reaches a query.

Text that is stored (names, descriptions, ticket messages, addresses, URIs) holds no control characters: none of
C0 (U+0000-U+001F; multi-line text may hold tab and line breaks), DEL and C1 (U+007F-U+009F), no lone surrogate
(not Unicode scalar values, so not UTF-8; RFC 3629 §3) and not U+FFFE/U+FFFF. PostgreSQL text cannot hold NUL,
XML 1.0 cannot carry the rest of C0 nor U+FFFE/U+FFFF (https://www.w3.org/TR/xml/#charsets), and none of them
shows as anything a reader can check. The operations that store text call ``check_text``, and raise their own
error with its message.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1


def row_id(value: object) -> int | None:
    """A positive id from text (ASCII digits, surrounding spaces allowed) or an int; None when it is not one or
    lies beyond ``MAX_ID``, so callers answer "not found" or their own "invalid" message."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        text = value.strip()
        # isdigit alone takes "²" and other digits int() refuses; ten digits is enough for MAX_ID.
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            return None
        n = int(text)
    else:
        return None
    return n if 0 < n <= MAX_ID else None


# The line breaks and the tab that multi-line text (a ticket's message, a description) may hold.
MULTILINE_ALLOWED = frozenset("\t\n\r")


def forbidden_character(value: str, *, multiline: bool = False) -> str | None:
    """The first character of ``value`` that stored text may not hold, or None."""
    for c in value:
        o = ord(c)
        if o < 0x20 or 0x7F <= o <= 0x9F or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            if multiline and c in MULTILINE_ALLOWED:
                continue
            return c
    return None


class TextRefused(ValueError):
    """Text that may not be stored; the message names the field and the character."""


def check_text(value: str, field: str, *, multiline: bool = False) -> str:
    """``value`` unchanged when it may be stored; else TextRefused("<field> must not contain ..."). ``field`` is
    the name the caller shows ("The name", "First name")."""
    c = forbidden_character(value, multiline=multiline)
    if c is not None:
        raise TextRefused(f"{field} must not contain control characters (U+{ord(c):04X}).")
    return value
