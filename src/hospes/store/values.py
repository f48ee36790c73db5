"""What the database may be given from outside: row ids within its integer columns.

Every id column is INTEGER, which PostgreSQL keeps in 32 bits (https://www.postgresql.org/docs/current/
datatype-numeric.html); a larger number names no row, and sending it makes PostgreSQL fail the statement
("integer out of range") and SQLite's driver raise OverflowError beyond 64 bits. So an id from a form, a
query, the admin API or the command line goes through ``row_id`` before it reaches a query.
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
