"""The admin API: check the address, authenticate, authorize the action, run it in one transaction.

Order of checks as WHMCS does them: address (or accesskey), credentials, action permission,
then the command's own validation. Each command is one transaction: it lands whole or not at all.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hospes import audit
from hospes.accounts import throttle
from hospes.adminapi.credentials import ApiCaller, AuthFailed, authenticate
from hospes.oauth.provider import Provider

# Per-identifier and per-address windows for failed API authentication.
API_IDENTIFIER = throttle.Rule("api-identifier", limit=10, window=900)
API_ADDRESS = throttle.Rule("api-address", limit=50, window=900)


class ApiError(Exception):
    """A command's refusal: WHMCS's message, HTTP 200 unless said otherwise."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Call:
    """What a command gets: the caller, its address, the parameters, and the provider."""

    caller: ApiCaller
    ip: str
    params: Mapping[str, str]
    provider: Provider
    multi: Mapping[str, list[str]]

    def get(self, name: str) -> str | None:
        return self.params.get(name)

    def has(self, name: str) -> bool:
        return name in self.params or any(k.startswith(name + "[") for k in self.multi)

    def list(self, name: str) -> list[str]:
        """PHP-style arrays (``name[]=a&name[]=b``, ``name[0]=a``) or a single value."""
        values: list[str] = list(self.multi.get(name, []))
        for key in sorted(k for k in self.multi if k.startswith(name + "[") and k.endswith("]")):
            values += self.multi[key]
        return values

    def keyed(self, name: str) -> Sequence[tuple[str, str]]:
        """PHP-style keyed arrays (``name[KEY]=VALUE``) as (KEY, VALUE) pairs, in the order sent."""
        return [(key[len(name) + 1:-1], value) for key, values in self.multi.items()
                if key.startswith(name + "[") and key.endswith("]") for value in values]

    @property
    def actor(self) -> str:
        return f"api:{self.caller.admin_username}:{self.caller.identifier[:8]}"

    def audit(self, s: Session, action: str, target: str = "", **details: Any) -> None:
        audit.record(s, actor=self.actor, action=action, target=target, ip=self.ip, details=details)


Command = Callable[[Session, Call], dict[str, Any]]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name.lower()] = fn
        return fn
    return register


def _address_allowed(provider: Provider, ip: str, accesskey: str | None) -> bool:
    key = provider.settings.api_access_key
    if key and accesskey is not None and hmac.compare_digest(key.encode(), accesskey.encode()):
        return True
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return any(addr in net or (mapped is not None and mapped in net)
               for net in provider.settings.api_allowed_networks)


def handle(provider: Provider, multi: Mapping[str, list[str]], ip: str) -> tuple[dict[str, Any], int]:
    """Returns (body, HTTP status). ``multi``: every form field with all its values."""
    params = {k: v[0] for k, v in multi.items() if v}
    if not _address_allowed(provider, ip, params.get("accesskey")):
        return {"result": "error", "message": f"Invalid IP {ip}"}, 403
    identifier = params.get("identifier") or params.get("username") or ""
    secret = params.get("secret") or params.get("password") or ""
    checks = [(API_IDENTIFIER, identifier[:100] or "-"), (API_ADDRESS, ip)]
    with provider.db.transaction() as s:
        # The attempt takes its place in both windows before the secret is checked (throttle.admit), so
        # parallel guesses cannot all pass one look at the count.
        admission = throttle.admit(s, checks)
        if admission.refused:
            return {"result": "error", "message": "Too many failed authentication attempts. Try again later."}, 429
        try:
            caller = authenticate(s, identifier[:200], secret[:500])
        except AuthFailed as exc:
            audit.record(s, actor=f"api:{identifier[:40]}", action="api.auth_failed", ip=ip,
                         details={"reason": exc.message})
            failure: str | None = exc.message
        else:
            throttle.release(s, admission)
            failure = None
    if failure is not None:
        return {"result": "error", "message": failure}, 403
    action = params.get("action") or ""
    fn = COMMANDS.get(action.lower())
    if not caller.may(action):
        return {"result": "error",
                "message": f'Invalid Permissions: API action "{action.lower()}" is not allowed'}, 403
    if fn is None:
        return {"result": "error", "message": "Command Not Found"}, 200
    call = Call(caller=caller, ip=ip, params=params, provider=provider, multi=multi)
    try:
        with provider.db.transaction() as s:
            body = fn(s, call)
    except ApiError as exc:
        return {"result": "error", "message": exc.message}, exc.status
    return {"result": "success", **body}, 200
