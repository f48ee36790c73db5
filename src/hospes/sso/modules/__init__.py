"""Provisioning modules: the interface Application Links drives, and how modules are found.

A module is any object with ``name``, ``description`` (WHMCS's ``ApplicationLinkDescription``),
``create_application_link(params)`` and ``delete_application_link(params)``, each returning a list
of error strings (empty: success), as WHMCS's ``<module>_CreateApplicationLink`` does. Modules are
found through the Python entry-point group ``hospes.provisioning_modules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

ENTRY_POINT_GROUP = "hospes.provisioning_modules"


@dataclass(frozen=True)
class ServiceCredential:
    service_id: int
    username: str
    domain: str
    client_identifier: str
    client_secret: str
    scope: str


@dataclass(frozen=True)
class Link:
    scope: str
    label: str
    order: int
    # Where the remote panel sends a person when the token request fails (WHMCS's ``url``).
    fallback_url: str


@dataclass(frozen=True)
class AppLinkParams:
    system_url: str
    token_endpoint: str
    server_id: int
    server_name: str
    server_hostname: str
    server_config: dict[str, str]
    credentials: list[ServiceCredential] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


class ProvisioningModule(Protocol):
    name: str
    description: str

    def create_application_link(self, params: AppLinkParams) -> list[str]: ...

    def delete_application_link(self, params: AppLinkParams) -> list[str]: ...


def config_problems(module: ProvisioningModule, config: dict[str, str]) -> list[str]:
    """What is wrong with a server's settings for ``module`` (its optional ``check_config``), before the
    server is saved."""
    check = getattr(module, "check_config", None)
    return list(check(config)) if callable(check) else []


def available() -> dict[str, ProvisioningModule]:
    """Every installed module, by name."""
    found: dict[str, ProvisioningModule] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj: Any = ep.load()
        module = obj() if isinstance(obj, type) else obj
        found[getattr(module, "name", ep.name)] = module
    return found
