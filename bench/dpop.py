"""The DPoP rows of ``make bench`` (RFC 9449): userinfo with a DPoP-bound access token, each request with a proof
of its own, beside the peer's (../shared/peers/oidc-provider/server-full.mjs, DPoP on).

A proof's ``jti`` is single use on both servers, so wrk cannot repeat one request: the proofs are made before the
measurement (ES256, each with its own jti, the request's htm and htu, the token's ath, ``iat`` the time they are
made) and a Lua script sends the next one with each request. Nothing on the server is widened for this: the proofs
are made within seconds of the run and well inside both servers' iat window (300 s); a proof sent twice (if the run
outlasts the supply) is refused and counted as an error, so the row is honest either way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey

ROW = "userinfo (DPoP)"
# Proofs per second of measurement: above what one core serves (Hospes's bearer userinfo is below 10,000 req/s on
# one core); a run that goes faster runs out and shows errors.
PER_SECOND = 12_000


class Key:
    """The load generator's DPoP key (P-256)."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256")
        self.header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}

    def proof(self, method: str, url: str, token: str | None = None) -> str:
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if token is not None:
            claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        return str(jws.serialize_compact(self.header, json.dumps(claims, separators=(",", ":")).encode(), self.key))


def proofs_file(key: Key, url: str, token: str, count: int) -> Path:
    """``count`` proofs for GET ``url`` with ``token``, one a line."""
    with tempfile.NamedTemporaryFile("w", suffix=".proofs", delete=False) as f:
        for _ in range(count):
            f.write(key.proof("GET", url, token) + "\n")
        return Path(f.name)


def lua(path: str, token: str, proofs: Path) -> str:
    """A wrk script: GET ``path`` with the token under the DPoP scheme and the next unused proof."""
    return "\n".join([
        "local proofs = {}",
        f"for line in io.lines({json.dumps(str(proofs))}) do proofs[#proofs + 1] = line end",
        "local i = 0",
        "request = function()",
        "  i = i + 1",
        "  local proof = proofs[(i - 1) % #proofs + 1]",
        f"  return wrk.format('GET', {json.dumps(path)}, {{['Authorization'] = {json.dumps('DPoP ' + token)}, "
        "['DPoP'] = proof})",
        "end",
        "response = function(status, headers, body) if status >= 300 then "
        "wrk.thread:set('bad', (wrk.thread:get('bad') or 0) + 1) end end",
    ])


def count_for(duration: float) -> int:
    return int(duration * PER_SECOND)


def remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
