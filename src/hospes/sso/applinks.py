"""Application Links: one single_sign_on credential per service on each server of a module, with the
configured links pushed to the module (https://docs.whmcs.com/system/authentication/application-links).

Secrets are stored only as hashes, so every sync issues fresh secrets and pushes them: the remote
end always holds working ones, and a secret never needs to be read back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hospes import audit
from hospes.clock import now
from hospes.config import Settings
from hospes.oauth import credentials
from hospes.sso import destinations
from hospes.sso.modules import AppLinkParams, Link, ProvisioningModule, ServiceCredential, available
from hospes.store.models import AppLink, AppLinkLink, AppLinkLog, OAuthCredential, Server, Service

# WHMCS's link destinations, grouped as its Application Links page groups them
# (https://docs.whmcs.com/system/authentication/application-links).
DEFAULT_LINKS: list[tuple[str, str]] = [
    ("clientarea:upgrade", "Upgrade/Downgrade"),
    ("clientarea:shopping_cart_domain_register", "Register New Domain"),
    ("clientarea:shopping_cart_domain_transfer", "Transfer a Domain"),
    ("clientarea:submit_ticket", "Open Ticket"),
    ("clientarea:tickets", "View Ticket History"),
    ("clientarea:announcements", "News & Announcements"),
    ("clientarea:downloads", "Download Resources"),
    ("clientarea:knowledgebase", "Search our Knowledgebase"),
    ("clientarea:network_status", "Check Network Status"),
    ("clientarea:profile", "Manage Profile"),
    ("clientarea:invoices", "View Billing Information"),
    ("clientarea:billing_info", "Manage Billing Information"),
    ("clientarea:emails", "View Email History"),
    ("clientarea:invoices", "View Invoice History"),
]
# The scopes WHMCS gives the SSO credentials it creates for application links (compare the example at
# https://developers.whmcs.com/api-reference/listoauthcredentials/, which lists all but services,
# domains and upgrade).
CREDENTIAL_SCOPE = ("clientarea:sso clientarea:profile clientarea:billing_info clientarea:emails "
                    "clientarea:announcements clientarea:downloads clientarea:knowledgebase "
                    "clientarea:network_status clientarea:services clientarea:product_details clientarea:domains "
                    "clientarea:invoices clientarea:tickets clientarea:submit_ticket clientarea:upgrade "
                    "clientarea:shopping_cart_addons clientarea:shopping_cart_domain_register "
                    "clientarea:shopping_cart_domain_transfer")
SERVICE_STATUSES = ("Active", "Suspended")


class AppLinkError(ValueError):
    pass


def _module(name: str) -> ProvisioningModule:
    modules = available()
    if name not in modules:
        raise AppLinkError(f"No provisioning module named {name!r} is installed.")
    return modules[name]


def get_or_create(s: Session, module: str) -> AppLink:
    _module(module)
    app = s.scalar(select(AppLink).where(AppLink.module == module))
    if app is None:
        app = AppLink(module=module, enabled=False, status="DISABLED")
        s.add(app)
        s.flush()
        # Dedupe labels per scope: the first label for a scope wins.
        seen: set[str] = set()
        for order, (scope, label) in enumerate(DEFAULT_LINKS):
            if scope in seen:
                continue
            seen.add(scope)
            s.add(AppLinkLink(applink_id=app.id, scope=scope, display_label=label, is_enabled=True, order=order))
    return app


def links(s: Session, app: AppLink) -> list[AppLinkLink]:
    return list(s.scalars(select(AppLinkLink).where(AppLinkLink.applink_id == app.id)
                          .order_by(AppLinkLink.order, AppLinkLink.id)))


def log(s: Session, app: AppLink, message: str, *, level: str = "info", server_id: int | None = None) -> None:
    s.add(AppLinkLog(applink_id=app.id, at=now(), level=level, server_id=server_id, message=message[:2000]))


def sync_log(s: Session, app: AppLink, limit: int = 200) -> list[AppLinkLog]:
    return list(s.scalars(select(AppLinkLog).where(AppLinkLog.applink_id == app.id)
                          .order_by(AppLinkLog.at.desc(), AppLinkLog.id.desc()).limit(limit)))


@dataclass(frozen=True)
class SyncResult:
    status: str
    errors: list[str]


def _servers(s: Session, module: str) -> list[Server]:
    return list(s.scalars(select(Server).where(Server.module == module, Server.active.is_(True)).order_by(Server.id)))


def _link_params(settings: Settings, app_links: list[AppLinkLink]) -> list[Link]:
    out = []
    for link in app_links:
        if not link.is_enabled:
            continue
        dest = destinations.DESTINATIONS.get(link.scope)
        if dest is None:
            fallback = settings.url(destinations.HOME)
        else:
            base = settings.external_base if dest.external else settings.issuer
            fallback = base + dest.path.format(service_id="", domain_id="")
        out.append(Link(scope=link.scope, label=link.display_label, order=link.order, fallback_url=fallback))
    return out


def _params(settings: Settings, server: Server, creds: list[ServiceCredential], link_list: list[Link]) -> AppLinkParams:
    return AppLinkParams(
        system_url=settings.issuer, token_endpoint=settings.url("/oauth/token.php"), server_id=server.id,
        server_name=server.name, server_hostname=server.hostname, server_config=dict(server.config or {}),
        credentials=creds, links=link_list)


def sync(s: Session, settings: Settings, app: AppLink, *, actor: str, ip: str = "") -> SyncResult:
    """Enable (or re-sync): a fresh-secret SSO credential per service, pushed with the links to each server."""
    module = _module(app.module)
    app.enabled = True
    errors: list[str] = []
    link_list = _link_params(settings, links(s, app))
    for server in _servers(s, app.module):
        services = s.scalars(select(Service).where(Service.server_id == server.id,
                                                   Service.status.in_(SERVICE_STATUSES)).order_by(Service.id)).all()
        creds: list[ServiceCredential] = []
        for service in services:
            cred = s.scalar(select(OAuthCredential).where(OAuthCredential.applink_id == app.id,
                                                          OAuthCredential.service_id == service.id))
            if cred is None:
                made = credentials.create(s, grant_type="single_sign_on", scope=CREDENTIAL_SCOPE, service_id=service.id,
                                          description=f"Application Link: {app.module}", company=settings.company_name)
                cred = s.get(OAuthCredential, made.credential_id)
                assert cred is not None
                cred.applink_id = app.id
                secret = made.client_secret
            else:
                secret = credentials.update_credential(s, cred, reset_secret=True) or ""
            creds.append(ServiceCredential(service_id=service.id, username=service.username, domain=service.domain,
                                           client_identifier=cred.identifier, client_secret=secret,
                                           scope=cred.scope))
        problems = module.create_application_link(_params(settings, server, creds, link_list))
        if problems:
            errors += problems
            for p in problems:
                log(s, app, p, level="error", server_id=server.id)
        else:
            log(s, app, f"Synced {len(creds)} service(s) and {len(link_list)} link(s) to {server.name}.",
                server_id=server.id)
    app.status = "ERROR" if errors else "ACTIVE"
    audit.record(s, actor=actor, action="applink.synced", target=f"applink:{app.module}", ip=ip,
                 details={"status": app.status, "errors": len(errors)})
    return SyncResult(app.status, errors)


def disable(s: Session, settings: Settings, app: AppLink, *, actor: str, ip: str = "") -> SyncResult:
    """Remove the links from each server and delete the credentials (their tokens die with them)."""
    module = _module(app.module)
    errors: list[str] = []
    for server in _servers(s, app.module):
        creds = s.scalars(select(OAuthCredential).join(Service, Service.id == OAuthCredential.service_id)
                          .where(OAuthCredential.applink_id == app.id, Service.server_id == server.id)).all()
        summary = [ServiceCredential(service_id=c.service_id or 0, username="", domain="",
                                     client_identifier=c.identifier, client_secret="", scope=c.scope) for c in creds]
        problems = module.delete_application_link(_params(settings, server, summary, []))
        for p in problems:
            log(s, app, p, level="error", server_id=server.id)
        errors += problems
        if not problems:
            log(s, app, f"Removed {len(summary)} credential(s) from {server.name}.", server_id=server.id)
    # Credentials go whatever the remote end said: a server that did not answer must not keep working ones.
    for cred in s.scalars(select(OAuthCredential).where(OAuthCredential.applink_id == app.id)).all():
        credentials.delete_credential(s, cred)
    app.enabled = False
    app.status = "DISABLED"
    audit.record(s, actor=actor, action="applink.disabled", target=f"applink:{app.module}", ip=ip,
                 details={"errors": len(errors)})
    return SyncResult(app.status, errors)
