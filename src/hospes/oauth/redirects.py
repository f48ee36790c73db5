"""Matching a presented redirect URI against the client's registered ones (RFC 6749 §3.1.2.3).

The one rule, used by the authorization endpoint (the request, and the login and consent pages posted back):

- exact string comparison, no normalisation (RFC 9700 §4.1.3, §2.1);
- except the port of a loopback IP literal over plain http, which may be any (RFC 8252 §7.3: a native app
  listens on whatever ephemeral port the operating system gives it). Only ``127.0.0.0/8`` and ``[::1]``
  written as IP literals: ``localhost`` is matched exactly (RFC 8252 §8.3 calls it NOT RECOMMENDED, and a
  name may resolve elsewhere), and so is ``https``. Everything but the port (scheme, host as written,
  path, query) must still be identical.

The token endpoint does not match against the registration at all: it compares the token request's
``redirect_uri`` with the one the authorization request used (``identical``, RFC 6749 §4.1.3).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

_HTTP = "http://"


def loopback_without_port(uri: str) -> str | None:
    """``uri`` without its port when it is ``http://`` to a loopback IP literal; None for any other URI."""
    if not uri.startswith(_HTTP):  # scheme as written: "HTTP://" is another string, matched exactly
        return None
    rest = uri[len(_HTTP):]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        return None
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            return None
        host, after = authority[:close + 1], authority[close + 1:]
        literal = host[1:-1]
    else:
        host = authority.partition(":")[0]
        after = authority[len(host):]
        literal = host
    if after:
        port = after[1:]
        if not after.startswith(":") or not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            return None
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        return None
    if not address.is_loopback or (address.version == 6) != host.startswith("["):
        return None
    return _HTTP + host + tail


def matches(registered: Iterable[str], presented: str) -> bool:
    """Whether ``presented`` is one of the ``registered`` redirect URIs (the rule above)."""
    registered = list(registered)
    if presented in registered:
        return True
    bare = loopback_without_port(presented)
    return bare is not None and any(loopback_without_port(r) == bare for r in registered)


def identical(used: str, presented: str) -> bool:
    """RFC 6749 §4.1.3: the token request's redirect_uri is identical to the authorization request's."""
    return hmac.compare_digest(used.encode(), presented.encode())
