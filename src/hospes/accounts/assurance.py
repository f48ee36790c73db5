"""How a session was authenticated: its ``acr`` and ``amr`` (OpenID Connect Core §2; the method names are
RFC 8176's), one value per way of logging in. Every session records one of these, and ID tokens carry it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assurance:
    acr: str
    amr: tuple[str, ...]


# A password alone (RFC 8176 §2 "pwd").
PASSWORD = Assurance(acr="1", amr=("pwd",))
# A password and a one-time code from an authenticator app or a backup code (RFC 8176 §2 "otp").
TWO_FACTOR = Assurance(acr="2", amr=("pwd", "otp"))
# A one-time single sign-on link minted by the operator or a provisioning module: no credential of the
# person's own was presented, so the lowest level ("0", OpenID Connect Core §2 "acr").
SINGLE_SIGN_ON = Assurance(acr="0", amr=("sso",))
