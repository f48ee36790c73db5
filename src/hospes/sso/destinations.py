"""Where an SSO token lands: WHMCS's destination scopes mapped to client-area paths.

The destinations are WHMCS's (https://docs.whmcs.com/customization/single-sign-on-into-whmcs/); each
goes to the client-area path WHMCS uses for that page. Pages Hospes renders are on the issuer;
the rest go to the external client area (``HOSPES_EXTERNAL_CLIENTAREA_URL``) that Hospes fronts.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hospes.config import Settings
from hospes.store.values import forbidden_character


class DestinationError(ValueError):
    pass


@dataclass(frozen=True)
class Destination:
    path: str
    external: bool = False
    needs_service: bool = False
    needs_domain: bool = False


DESTINATIONS: dict[str, Destination] = {
    "clientarea:profile": Destination("/clientarea.php?action=details"),
    "clientarea:billing_info": Destination("/clientarea.php?action=creditcard", external=True),
    "clientarea:emails": Destination("/clientarea.php?action=emails"),
    "clientarea:announcements": Destination("/announcements.php", external=True),
    "clientarea:downloads": Destination("/downloads.php", external=True),
    "clientarea:knowledgebase": Destination("/knowledgebase.php", external=True),
    "clientarea:network_status": Destination("/serverstatus.php", external=True),
    "clientarea:services": Destination("/clientarea.php?action=services"),
    "clientarea:product_details": Destination("/clientarea.php?action=productdetails&id={service_id}",
                                              needs_service=True),
    "clientarea:domains": Destination("/clientarea.php?action=domains"),
    "clientarea:domain_details": Destination("/clientarea.php?action=domaindetails&id={domain_id}",
                                             needs_domain=True),
    "clientarea:invoices": Destination("/clientarea.php?action=invoices"),
    "clientarea:tickets": Destination("/supporttickets.php"),
    "clientarea:submit_ticket": Destination("/submitticket.php"),
    "clientarea:shopping_cart": Destination("/cart.php", external=True),
    "clientarea:shopping_cart_addons": Destination("/cart.php?gid=addons", external=True),
    "clientarea:shopping_cart_domain_register": Destination("/cart.php?a=add&domain=register", external=True),
    "clientarea:shopping_cart_domain_transfer": Destination("/cart.php?a=add&domain=transfer", external=True),
    "clientarea:upgrade": Destination("/upgrade.php?type=package&id={service_id}", external=True,
                                      needs_service=True),
}
CUSTOM = "sso:custom_redirect"
HOME = "/clientarea.php"


def is_destination(scope: str) -> bool:
    return scope in DESTINATIONS or scope == CUSTOM


def check_custom_path(path: str) -> str:
    """A relative path on the issuer, or DestinationError. Refuses anything that could leave it:
    schemes, ``//host``, backslashes, control characters, ``..``, and encoded forms of each."""
    if not path or len(path) > 1000:
        raise DestinationError("Invalid sso_redirect_path")
    decoded = path
    for _ in range(3):  # undo double and triple encoding before judging
        decoded = unquote(decoded)
    for candidate in (path, decoded):
        if forbidden_character(candidate) is not None or "\\" in candidate:
            raise DestinationError("Invalid sso_redirect_path")
        stripped = candidate.lstrip("/")
        if candidate.startswith("//") or ":" in stripped.split("/", 1)[0].split("?", 1)[0]:
            raise DestinationError("Invalid sso_redirect_path")
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            raise DestinationError("Invalid sso_redirect_path")
        if ".." in parts.path.split("/"):
            raise DestinationError("Invalid sso_redirect_path")
    return "/" + path.lstrip("/")


def url_for(settings: Settings, destination: str, *, service_id: int | None = None, domain_id: int | None = None,
            redirect_path: str = "") -> str:
    """The absolute URL a redeemed token lands on; always on the issuer or the external client area."""
    if not destination:
        return settings.url(HOME)
    if destination == CUSTOM:
        return settings.url(check_custom_path(redirect_path))
    dest = DESTINATIONS.get(destination)
    if dest is None:
        raise DestinationError("Invalid destination")
    path = dest.path.format(service_id=service_id or "", domain_id=domain_id or "")
    base = settings.external_base if dest.external else settings.issuer
    return base + path
