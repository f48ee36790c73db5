"""The scope table: WHMCS's scopes with their consent-screen descriptions, plus offline_access and the
customer API's scopes (read and write kept apart, so a person sees which an application may change).

The names are WHMCS's: credentials carry them (https://developers.whmcs.com/api-reference/createoauthcredential/)
and SSO tokens take them as destinations (https://docs.whmcs.com/customization/single-sign-on-into-whmcs/).
"""

from __future__ import annotations

from dataclasses import dataclass

from hospes.i18n import N_


@dataclass(frozen=True)
class Scope:
    name: str
    description: str
    # What a person reads on the consent page (translated where it is shown: hospes/i18n.py).
    consent_text: str
    is_default: bool = False
    # A scope of the customer API ({issuer}/api/v1): "read" or "write"; "" for the others.
    api_access: str = ""


SCOPES: dict[str, Scope] = {
    s.name: s
    for s in [
        Scope("openid", "Scope required for OpenID Connect ID tokens", N_("Confirm who you are")),
        Scope("profile", "Scope used for Profile Claim", N_("See your name and language")),
        Scope("email", "Scope used for Email Claim", N_("See your email address")),
        Scope(
            "offline_access",
            "Keep access while you are not using the application",
            N_("Keep access while you are not using the application"),
        ),
        Scope("clientarea:sso", "Single Sign-on for Client Area", N_("Sign you in to the client area"),
              is_default=True),
        Scope("clientarea:profile", "Account Profile", N_("Open your account profile")),
        Scope("clientarea:billing_info", "Manage Billing Information", N_("Open your billing information")),
        Scope("clientarea:emails", "Email History", N_("Open your email history")),
        Scope("clientarea:announcements", "Announcements", N_("Open announcements")),
        Scope("clientarea:downloads", "Downloads", N_("Open downloads")),
        Scope("clientarea:knowledgebase", "Knowledgebase", N_("Open the knowledgebase")),
        Scope("clientarea:network_status", "Network Status", N_("Open the network status")),
        Scope("clientarea:services", "Products/Services", N_("Open your products and services")),
        Scope("clientarea:product_details", "Product Info/Details (requires associated serviceId)",
              N_("Open a product's details")),
        Scope("clientarea:domains", "Domains", N_("Open your domains")),
        Scope("clientarea:domain_details", "Domain Info/Details (requires associated domainId)",
              N_("Open a domain's details")),
        Scope("clientarea:invoices", "Invoices", N_("Open your invoices")),
        Scope("clientarea:tickets", "Support Tickets", N_("Open your support tickets")),
        Scope("clientarea:submit_ticket", "Submit New Ticket", N_("Open a new support ticket")),
        Scope("clientarea:shopping_cart", "Shopping Cart Default Product Group", N_("Open the shopping cart")),
        Scope("clientarea:shopping_cart_addons", "Shopping Cart Product Addons",
              N_("Open the shopping cart's add-ons")),
        Scope("clientarea:shopping_cart_domain_register", "Shopping Cart Register New Domain",
              N_("Open domain registration")),
        Scope("clientarea:shopping_cart_domain_transfer", "Shopping Cart Transfer Existing Domain",
              N_("Open domain transfer")),
        Scope("clientarea:upgrade", "Upgrade/Downgrade", N_("Open upgrade and downgrade")),
        Scope("sso:custom_redirect", "Scope required for arbitrary path redirect on token creation",
              N_("Send you to a page of the client area")),
        # The customer API: what an application may read, or do, for the person, in the accounts they choose.
        Scope("services:read", "Read products and services", N_("See your products and services (read only)"),
              api_access="read"),
        Scope("domains:read", "Read domains", N_("See your domains and when they expire (read only)"),
              api_access="read"),
        Scope("invoices:read", "Read invoices", N_("See your invoices and what is due (read only)"), api_access="read"),
        Scope("tickets:read", "Read support tickets", N_("Read your support tickets (read only)"), api_access="read"),
        Scope("tickets:write", "Open and reply to support tickets",
              N_("Open support tickets and reply to them in your name"), api_access="write"),
    ]
}

# The customer API's scopes, in the table's order.
API_SCOPES = tuple(name for name, s in SCOPES.items() if s.api_access)

# Scopes an authorization_code credential may request for login (OpenID Connect Core §5.4, §11).
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")


def parse(scope: str | None) -> list[str]:
    """RFC 6749 §3.3: space-delimited, case-sensitive; order kept, duplicates dropped."""
    if not scope:
        return []
    seen: dict[str, None] = {}
    for part in scope.split(" "):
        if part:
            seen[part] = None
    return list(seen)


def asks_for_api(scopes: tuple[str, ...] | list[str]) -> bool:
    """Whether any of ``scopes`` is a customer-API scope (the consent page then asks which accounts)."""
    return any(name in API_SCOPES for name in scopes)


def join(scopes: list[str] | tuple[str, ...]) -> str:
    return " ".join(scopes)
