"""Signing in with a one-time SSO token (GET /oauth/singlesignon.php): the token is redeemed and a fresh
session started in one transaction, and both outcomes are audited.

WHMCS: https://developers.whmcs.com/api-reference/createssotoken/ (the link is valid once, for a minute).
"""

from __future__ import annotations

from dataclasses import dataclass

from hospes import audit
from hospes.accounts import sessions
from hospes.accounts.assurance import SINGLE_SIGN_ON
from hospes.config import Settings
from hospes.sso.tokens import Redeemed, redeem
from hospes.store.db import Database


@dataclass(frozen=True)
class SignedOn:
    token: str  # the new session's cookie value
    landing_url: str


@dataclass(frozen=True)
class Refused:
    message: str


def sign_on(db: Database, settings: Settings, token: str, *, ip: str, user_agent: str,
            old_session: str | None) -> SignedOn | Refused:
    with db.transaction() as s:
        result = redeem(s, settings, token)
        if not isinstance(result, Redeemed):
            audit.record(s, actor=f"user:{result.user_id}" if result.user_id else "anonymous", action="sso.refused",
                         target=f"client:{result.client_id}" if result.client_id else "", ip=ip,
                         details={"reason": result.message})
            return Refused(result.message)
        # A fresh session, never the one the browser came with (no session fixation).
        sessions.end(s, old_session)
        new, _ = sessions.start(s, user=result.user, ttl=settings.session_ttl, assurance=SINGLE_SIGN_ON, ip=ip,
                                user_agent=user_agent)
        audit.record(s, actor=f"user:{result.user.id}", action="sso.redeemed", target=f"client:{result.client_id}",
                     ip=ip, details={"landing": result.landing_url})
        return SignedOn(token=new, landing_url=result.landing_url)
