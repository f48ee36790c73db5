"""Reading a parameter of a token, introspection or revocation request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hospes.oauth import errors

Params = Mapping[str, Sequence[str]]
MAX_PARAM = 4096
# A token as presented to introspection, revocation and userinfo: an opaque one is 43 characters, a JWT access
# token (RFC 9068) about a kilobyte; longer is no token of ours.
MAX_TOKEN = 4096


def one(params: Params, name: str, *, limit: int | None = MAX_PARAM) -> str | None:
    """The value of ``name``, or None when absent."""
    values = params.get(name) or []
    if len(values) > 1:
        # RFC 6749 §3.2: parameters MUST NOT be included more than once.
        raise errors.InvalidRequest(f"The {name} parameter must not be repeated.")
    if limit is not None and values and len(values[0]) > limit:
        raise errors.InvalidRequest(f"The {name} parameter is too long.")
    return values[0] if values else None
