"""The standard claims Hospes releases (OpenID Connect Core §5.1), for the ID token and userinfo alike: by
scope (§5.4), and one by one through the ``claims`` request parameter (§5.5).

Each claim is covered by the consent to one scope: what the person approved on the consent page. So a claim
asked for by the ``claims`` parameter is released only when the client may have that scope, and the consent
page asks for it (``consent_scopes``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from hospes.clock import utc
from hospes.oauth import errors

# OIDC Core §5.4: the claims each scope asks for, of those Hospes has data for. The other profile claims
# (middle_name, nickname, picture, website, gender, birthdate, zoneinfo, profile) have none and are omitted
# (§5.3.2: a claim without a value is left out, not null).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "preferred_username", "locale", "updated_at"),
    "email": ("email", "email_verified"),
}
# The scope whose consent covers each claim. preferred_username is the name the person logs in with, which
# here is the email address: it is never released on the consent to profile ("See your name and language")
# alone, only when the email address may be seen too.
CONSENT_SCOPE: dict[str, str] = {
    **{claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims},
    "preferred_username": "email",
}
# Where the claims parameter may ask for a claim (OIDC Core §5.5).
TARGETS = ("userinfo", "id_token")


class Profile(Protocol):
    """What the profile and email claims come from: a User, or the userinfo lookup's row."""

    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def email_verified(self) -> bool: ...
    @property
    def updated_at(self) -> datetime | None: ...


def _updated_at(user: Profile) -> int:
    return int(utc(user.updated_at).timestamp()) if user.updated_at else 0


# How each claim's value is read (§5.1).
Reader = Callable[[Profile], Any]
_VALUE: dict[str, Reader] = {
    "name": lambda user: f"{user.first_name} {user.last_name}".strip(),
    "given_name": lambda user: user.first_name,
    "family_name": lambda user: user.last_name,
    "preferred_username": lambda user: user.email,
    "locale": lambda user: user.locale,
    "updated_at": _updated_at,
    "email": lambda user: user.email,
    "email_verified": lambda user: bool(user.email_verified),
}


@lru_cache(maxsize=512)
def _release_plan(scope: tuple[str, ...], requested: tuple[str, ...]) -> tuple[tuple[str, Reader], ...]:
    """The claims a granted scope and a claims request release, in order, with how to read each. Worked out
    once per combination: userinfo answers it on every call."""
    granted = set(scope)
    names = [claim for s in SCOPE_CLAIMS if s in granted
             for claim in SCOPE_CLAIMS[s] if CONSENT_SCOPE[claim] in granted]
    names += [claim for claim in requested if claim in CONSENT_SCOPE and claim not in names]
    return tuple((claim, _VALUE[claim]) for claim in names)


def released(user: Profile, scope: Iterable[str], requested: Iterable[str] = ()) -> dict[str, Any]:
    """The claims ``scope`` releases (OIDC Core §5.4), and the ``requested`` ones (the claims parameter,
    already limited to what the consent covered), with their values."""
    return {claim: value(user) for claim, value in _release_plan(tuple(scope), tuple(requested))}


def profile_claims(user: Profile, scope: list[str]) -> dict[str, Any]:
    """OpenID Connect Core §5.4: claims by scope."""
    return released(user, scope)


# -- the claims request parameter (OIDC Core §5.5) ------------------------------------------------------


@dataclass(frozen=True)
class ClaimsRequest:
    """What a ``claims`` parameter asks for: standard claims by where they go, and the ID token's acr."""

    userinfo: tuple[str, ...] = ()
    id_token: tuple[str, ...] = ()
    # §5.5.1.1: acr as an Essential Claim of the ID token, with the values that would do ("value" or
    # "values"); empty when acr is not asked for as essential, or without values.
    essential_acr: tuple[str, ...] = ()


def _member(target: str, name: str, spec: Any) -> dict[str, Any]:
    """§5.5.1: each member is null or an object with optional essential (boolean), value, values (array)."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise errors.InvalidRequest(f"claims.{target}.{name} must be null or an object.")
    if "essential" in spec and not isinstance(spec["essential"], bool):
        raise errors.InvalidRequest(f"claims.{target}.{name}.essential must be true or false.")
    if "values" in spec and not isinstance(spec["values"], list):
        raise errors.InvalidRequest(f"claims.{target}.{name}.values must be an array.")
    return spec


def parse_request(raw: str | None) -> ClaimsRequest:
    """The ``claims`` parameter (a JSON object, §5.5); ``errors.InvalidRequest`` when it is malformed.
    Claims Hospes has no data for are ignored, like members other than userinfo and id_token."""
    if raw is None:
        return ClaimsRequest()
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise errors.InvalidRequest("The claims parameter is not JSON.") from None
    if not isinstance(parsed, dict):
        raise errors.InvalidRequest("The claims parameter must be a JSON object.")
    wanted: dict[str, list[str]] = {}
    essential_acr: tuple[str, ...] = ()
    for target in TARGETS:
        asked = parsed.get(target)
        if asked is None:
            continue
        if not isinstance(asked, dict):
            raise errors.InvalidRequest(f"claims.{target} must be an object.")
        wanted[target] = []
        for name, spec in asked.items():
            member = _member(target, name, spec)
            if target == "id_token" and name == "acr" and member.get("essential") is True:
                values = member["values"] if "values" in member else [member["value"]] if "value" in member else []
                if not all(isinstance(v, str) for v in values):
                    raise errors.InvalidRequest("claims.id_token.acr values must be strings.")
                essential_acr = tuple(values)
            elif name in CONSENT_SCOPE:
                wanted[target].append(name)
    return ClaimsRequest(tuple(wanted.get("userinfo", ())), tuple(wanted.get("id_token", ())), essential_acr)


def consent_scopes(claims: Iterable[str]) -> list[str]:
    """The scopes whose consent covers ``claims``."""
    return list(dict.fromkeys(CONSENT_SCOPE[claim] for claim in claims if claim in CONSENT_SCOPE))


# How a grant keeps the claims asked for one by one: "userinfo:name id_token:email" (grants.claims).
def stored(userinfo: Iterable[str], id_token: Iterable[str]) -> str | None:
    pairs = [f"userinfo:{c}" for c in userinfo] + [f"id_token:{c}" for c in id_token]
    return " ".join(pairs) or None


def stored_for(value: str | None, target: str) -> list[str]:
    """The claims a grant's ``stored`` value asks for in ``target``."""
    prefix = target + ":"
    return [pair[len(prefix):] for pair in (value or "").split() if pair.startswith(prefix)]
