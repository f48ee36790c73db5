"""Settings: one typed object, read from the environment (or a TOML file), validated at start-up.

Every default lives here, documented once; README.md's Configuration table lists them for operators.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hospes import branding
from hospes.branding import DEFAULT_ACCENT, DEFAULT_PRIMARY
from hospes.logs import FORMATS

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
DEFAULT_KEY_RELOAD_SECONDS = 30.0
DEFAULT_JWKS_MAX_AGE = 300
# How long a request may wait for the database (HOSPES_DB_TIMEOUT): below common clients' own timeouts
# (openid-client's is 3.5 s), so they read a 503 with Retry-After instead of giving up on a request that runs on.
DEFAULT_DB_TIMEOUT = 3.0
# The customer API's scopes, which HOSPES_API_STEP_UP_SCOPES may name (oauth/scopes.py API_SCOPES is the table;
# the settings are read before any layer, and tests/api/test_scopes.py keeps the two the same).
CUSTOMER_API_SCOPES = ("services:read", "domains:read", "invoices:read", "tickets:read", "tickets:write")


class ConfigError(Exception):
    """A bad setting: the message is one line that names the variable."""


def _parse_networks(value: str | None, variable: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    if not value:
        return ()
    nets = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not an IP address or CIDR network") from exc
    return tuple(nets)


@dataclass(frozen=True)
class SmtpServer:
    """Where outgoing mail goes (HOSPES_SMTP_URL)."""

    host: str
    port: int
    security: str  # "none" | "starttls" | "tls"
    username: str | None
    password: str | None


_SMTP_SCHEMES = {"smtp": ("none", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


def smtp_server(url: str) -> SmtpServer:
    """Parse ``smtp://host:port``, ``smtp+starttls://user:pass@host:port`` or ``smtps://…``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SMTP_SCHEMES:
        raise ValueError("must start with smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be smtp[+starttls]://[user:password@]host[:port] and nothing more")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    security, default_port = _SMTP_SCHEMES[parts.scheme]
    if parts.password is not None and security == "none":
        # A password must not cross the network in the clear.
        raise ValueError("a user name and password need smtp+starttls:// or smtps://")
    return SmtpServer(host=parts.hostname, port=port or default_port, security=security,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password is not None else None)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOSPES_", extra="ignore", frozen=True)

    issuer: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///var/hospes.db"
    secret_key: str | None = None
    auth_code_ttl: int = 60
    # How long a device authorization request (RFC 8628 §3.2 expires_in) waits for the person's approval.
    device_code_ttl: int = 600
    access_token_ttl: int = 3600
    refresh_token_ttl: int = 2592000
    id_token_ttl: int = 3600
    sso_token_ttl: int = 60
    api_allowed_ips: str = "127.0.0.1,::1"
    api_access_key: str | None = None
    trusted_proxies: str | None = None
    # /metrics (web/metrics.py): "off", or the addresses that may read it (comma list, CIDR; empty: by token only).
    metrics: str = "127.0.0.1,::1"
    # A bearer token that lets any address read /metrics (compared in constant time).
    metrics_token: str | None = None
    var_dir: str = "var"
    company_name: str = "Hospes"
    # The company's look (branding.py, docs/BRANDING.md): a logo (an http(s) URL, or an image file Hospes serves
    # at /brand/logo.<ext>), the primary colour (buttons, links) and the accent colour (the focus ring), and a
    # folder whose templates replace the built-in ones of the same name.
    logo: str | None = None
    brand_color: str = DEFAULT_PRIMARY
    accent_color: str = DEFAULT_ACCENT
    template_dir: str | None = None
    session_ttl: int = 8 * 3600
    consent_ttl: int = 365 * 86400
    # Where SSO destinations that Hospes does not render live (cart, knowledgebase, …): an existing
    # client area that Hospes fronts. Default: the issuer itself.
    external_clientarea_url: str | None = None
    # Outgoing mail (password reset): smtp://host:port, smtp+starttls://user:pass@host:port or
    # smtps://user:pass@host:port. Unset: each mail is written as an .eml file into <var_dir>/outbox/.
    smtp_url: str | None = None
    # The From address of outgoing mail (default: noreply@ the issuer's host).
    mail_from: str | None = None
    # One log line per request (method, path, status, time; never the query). Off by default: a
    # reverse proxy usually keeps the access log, and writing a line is a real part of a userinfo call's cost.
    access_log: bool = False
    # The form of the log (hospes/logs.py): "text" (lines for people) or "json" (one JSON object a line: one
    # per request with its request id, and every other record). JSON logs every request, HOSPES_ACCESS_LOG or not.
    log_format: str = "text"
    # How long a node trusts its cached signing keys before reading them again, in seconds, so that
    # `hospes keys rotate` on one node reaches every node. Tests set 0.
    key_reload_seconds: float = DEFAULT_KEY_RELOAD_SECONDS
    # The background purge of dead rows (store/purge.py): a pass every this many seconds in each worker
    # (0: off, for instance when a cron job runs `hospes purge`); how long a dead row (expired, revoked,
    # ended, used) is kept first; how many rows one short transaction deletes.
    purge_interval: float = 300.0
    purge_grace: int = 86400
    purge_batch: int = 500
    # Days an audit entry is kept; the purge deletes older ones (0: kept for good).
    audit_retention_days: int = 365
    # HTTP limits of `hospes serve` (web/protocol.py), per worker process. A request's head (request line and
    # headers) over this many bytes is answered 431 and its connection closed.
    max_header_bytes: int = 32768
    # Seconds a connection has to complete a request head, from its start or its previous answer (408,
    # closed); and a body, from its head.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # Seconds an idle keep-alive connection stays open after its last answer.
    keep_alive_timeout: int = 5
    # Requests answered at once by one worker; beyond it 503 with Retry-After.
    max_concurrent_requests: int = 512
    # Seconds requests in flight get after SIGTERM before the server exits anyway (`serve --graceful-timeout`).
    graceful_timeout: float = 10.0
    # How long relying parties may cache the JWKS (its Cache-Control max-age), in seconds. A rotated key
    # signs only once every JWKS fetched before it was published has expired (oauth/keys.py).
    jwks_max_age: int = DEFAULT_JWKS_MAX_AGE
    # How long a request may wait for the database, in seconds: to connect, for a pooled connection or
    # SQLite's writer, and for each statement; a token request's whole transaction. Past it the request
    # answers 503 with Retry-After and changes nothing (a code or refresh token is not consumed).
    db_timeout: float = DEFAULT_DB_TIMEOUT
    # Dynamic client registration (RFC 7591, oauth/registration.py): "open" (anyone, at most
    # registration_limit registrations an hour per address), "token" (an initial access token from
    # `hospes registration-tokens create`) or "off". A registered client never sent through an authorization
    # for registration_unused_days days (and holding no live grant) is removed by the purge.
    registration: str = "open"
    registration_limit: int = 10
    registration_unused_days: int = 30
    # Documents Hospes fetches from addresses a client names (client ID metadata documents, oauth/fetch.py)
    # are refused from loopback, private and link-local addresses unless this is true: for tests and for
    # clients on the operator's own private network.
    fetch_allow_private: bool = False
    # Customer-API scopes (space-separated) whose operations need a login with a second factor (acr "2"): a token
    # from a lower one is refused with RFC 9470's insufficient_user_authentication. Default: none.
    api_step_up_scopes: str = ""
    # RFC 9126 §5: every client must push its authorization requests (oauth/par.py); a credential may require
    # it for itself alone (`--require-par`). Discovery's require_pushed_authorization_requests says this.
    require_par: bool = False
    # DPoP (RFC 9449 §8, §9; oauth/dpop.py): where a proof must carry a nonce of the server's: "off" (nowhere),
    # "token" (the token and PAR endpoints) or "always" (those and the resources: userinfo, the customer API,
    # the MCP server). A client without one is answered use_dpop_nonce with a DPoP-Nonce header and retries.
    dpop_nonce: str = "off"

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment (OpenID Connect Discovery §3)")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("plain http is only allowed for loopback hosts; use https")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not (v.startswith("sqlite:///") or v.startswith("postgresql://")
                or v.startswith("postgresql+psycopg://") or v.startswith("postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return v

    @field_validator("auth_code_ttl", "access_token_ttl", "refresh_token_ttl", "id_token_ttl",
                     "sso_token_ttl", "session_ttl", "consent_ttl")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("must be a positive number of seconds")
        return v

    @field_validator("max_header_bytes")
    @classmethod
    def _header_bytes(cls, v: int) -> int:
        if not 1024 <= v <= 1048576:
            raise ValueError("must be from 1024 to 1048576 bytes")
        return v

    @field_validator("header_timeout", "body_timeout", "keep_alive_timeout", "graceful_timeout")
    @classmethod
    def _timeout(cls, v: float) -> float:
        if not 0 < v <= 3600:
            raise ValueError("must be a number of seconds above 0, at most 3600")
        return v

    @field_validator("max_concurrent_requests")
    @classmethod
    def _concurrency(cls, v: int) -> int:
        if not 1 <= v <= 100000:
            raise ValueError("must be from 1 to 100000")
        return v

    @field_validator("auth_code_ttl")
    @classmethod
    def _short_code(cls, v: int) -> int:
        # RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED."
        if v > 600:
            raise ValueError("must be at most 600 seconds (RFC 6749 §4.1.2)")
        return v

    @field_validator("device_code_ttl")
    @classmethod
    def _device_code_ttl(cls, v: int) -> int:
        # Long enough to find a phone and log in; short enough that a user code shown is soon worthless to a
        # guesser (RFC 8628 §5.1: the code's entropy against its lifetime and the attempts allowed).
        if not 60 <= v <= 1800:
            raise ValueError("must be from 60 to 1800 seconds")
        return v

    @field_validator("api_allowed_ips", "trusted_proxies")
    @classmethod
    def _nets(cls, v: str | None) -> str | None:
        _parse_networks(v, "")
        return v

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: str) -> str:
        if v.strip().lower() != "off":
            _parse_networks(v, "")
        return v

    @field_validator("api_access_key")
    @classmethod
    def _access_key(cls, v: str | None) -> str | None:
        allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%.()*[]-_")
        if v is not None and (not v or set(v) - allowed):
            raise ValueError("may hold only letters, digits and ! @ # $ % . ( ) * [ ] - _")
        return v

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        if v is not None and len(v) < 32:
            raise ValueError("must be at least 32 characters")
        return v

    @field_validator("key_reload_seconds", mode="before")
    @classmethod
    def _key_reload(cls, v: Any) -> float:
        # Lenient, as this setting has always been: anything but a number from 0 up means the default.
        try:
            value = float(v)
        except (TypeError, ValueError):
            return DEFAULT_KEY_RELOAD_SECONDS
        return value if value >= 0 else DEFAULT_KEY_RELOAD_SECONDS

    @field_validator("purge_interval")
    @classmethod
    def _purge_interval(cls, v: float) -> float:
        if not 0 <= v <= 86400:
            raise ValueError("must be from 0 (off) to 86400 seconds")
        return v

    @field_validator("purge_grace")
    @classmethod
    def _purge_grace(cls, v: int) -> int:
        if not 0 <= v <= 365 * 86400:
            raise ValueError("must be from 0 to 31536000 seconds")
        return v

    @field_validator("purge_batch")
    @classmethod
    def _purge_batch(cls, v: int) -> int:
        if not 1 <= v <= 100_000:
            raise ValueError("must be from 1 to 100000 rows")
        return v

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in FORMATS:
            raise ValueError("must be " + " or ".join(FORMATS))
        return v

    @field_validator("audit_retention_days")
    @classmethod
    def _audit_retention(cls, v: int) -> int:
        if not 0 <= v <= 36500:
            raise ValueError("must be from 0 (kept for good) to 36500 days")
        return v

    @field_validator("jwks_max_age")
    @classmethod
    def _jwks_max_age(cls, v: int) -> int:
        # A rotation waits this long before the new key signs: a day is the most that makes sense.
        if not 0 <= v <= 86400:
            raise ValueError("must be a whole number of seconds from 0 to 86400")
        return v

    @field_validator("db_timeout")
    @classmethod
    def _db_timeout(cls, v: float) -> float:
        if not 0.1 <= v <= 300:
            raise ValueError("must be a number of seconds from 0.1 to 300")
        return v

    @field_validator("registration")
    @classmethod
    def _registration(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in ("open", "token", "off"):
            raise ValueError("must be open, token or off")
        return v

    @field_validator("registration_limit")
    @classmethod
    def _registration_limit(cls, v: int) -> int:
        if not 1 <= v <= 100_000:
            raise ValueError("must be from 1 to 100000 registrations an hour")
        return v

    @field_validator("registration_unused_days")
    @classmethod
    def _registration_unused(cls, v: int) -> int:
        if not 1 <= v <= 3650:
            raise ValueError("must be from 1 to 3650 days")
        return v

    @field_validator("dpop_nonce")
    @classmethod
    def _dpop_nonce(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in ("off", "token", "always"):
            raise ValueError("must be off, token or always")
        return v

    @field_validator("api_step_up_scopes")
    @classmethod
    def _step_up(cls, v: str) -> str:
        names = v.split()
        unknown = [name for name in names if name not in CUSTOMER_API_SCOPES]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a customer API scope ({', '.join(CUSTOMER_API_SCOPES)})")
        return " ".join(dict.fromkeys(names))

    @field_validator("external_clientarea_url")
    @classmethod
    def _external(cls, v: str | None) -> str | None:
        if not v:
            return None
        v = v.strip().rstrip("/")
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an absolute http(s) URL without query or fragment")
        return v

    @field_validator("logo")
    @classmethod
    def _logo(cls, v: str | None) -> str | None:
        branding.logo(v)  # raises ValueError with the reason
        return v.strip() if v and v.strip() else None

    @field_validator("brand_color", "accent_color")
    @classmethod
    def _colour(cls, v: str) -> str:
        return branding.css_colour(v)

    @field_validator("template_dir")
    @classmethod
    def _template_dir(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        if not Path(v.strip()).expanduser().is_dir():
            raise ValueError(f"{v} is not a directory")
        return str(Path(v.strip()).expanduser())

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, v: str | None) -> str | None:
        if not v:
            return None
        smtp_server(v)  # raises ValueError with the reason
        return v

    @field_validator("mail_from")
    @classmethod
    def _mail_from(cls, v: str | None) -> str | None:
        if not v:
            return None
        address = parseaddr(v)[1]
        if "@" not in address or any(c in v for c in "\r\n"):
            raise ValueError("must be an email address, optionally with a display name")
        return v

    # Derived values -------------------------------------------------------------------------
    @property
    def issuer_path(self) -> str:
        """The path part of the issuer ('' or '/portal'): every endpoint lives below it."""
        return urlsplit(self.issuer).path.rstrip("/")

    @property
    def request_log(self) -> bool:
        """Whether a line is written per request: HOSPES_ACCESS_LOG, or always with JSON logs."""
        return self.access_log or self.log_format == "json"

    @property
    def audit_retention(self) -> timedelta | None:
        """How long the purge keeps audit entries; None: for good."""
        return timedelta(days=self.audit_retention_days) if self.audit_retention_days else None

    @property
    def step_up_scopes(self) -> frozenset[str]:
        """HOSPES_API_STEP_UP_SCOPES as a set."""
        return frozenset(self.api_step_up_scopes.split())

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @property
    def sqlalchemy_url(self) -> str:
        url = self.database_url
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url

    @property
    def api_allowed_networks(self) -> tuple[Any, ...]:
        return _parse_networks(self.api_allowed_ips, "HOSPES_API_ALLOWED_IPS")

    @property
    def metrics_networks(self) -> tuple[Any, ...] | None:
        """Who may read /metrics by address; None: metrics are off."""
        return None if self.metrics.strip().lower() == "off" else _parse_networks(self.metrics, "HOSPES_METRICS")

    @property
    def trusted_proxy_networks(self) -> tuple[Any, ...]:
        return _parse_networks(self.trusted_proxies, "HOSPES_TRUSTED_PROXIES")

    @property
    def smtp(self) -> SmtpServer | None:
        return smtp_server(self.smtp_url) if self.smtp_url else None

    @property
    def mail_sender(self) -> str:
        if self.mail_from:
            return self.mail_from
        host = urlsplit(self.issuer).hostname or "localhost"
        if host in LOOPBACK_HOSTS or host.replace(".", "").isdigit() or ":" in host:
            host = "localhost"
        return f"{self.company_name} <noreply@{host}>"

    @property
    def brand_logo(self) -> branding.Logo | None:
        return branding.logo(self.logo)

    def absolute(self, link: str) -> str:
        """A link as a mail needs it: absolute (a path is below the issuer)."""
        return link if "://" in link else self.issuer + link

    @property
    def external_base(self) -> str:
        return self.external_clientarea_url or self.issuer

    def url(self, path: str) -> str:
        """An absolute URL below the issuer."""
        return self.issuer + path


def _toml_values() -> dict[str, Any]:
    path = os.environ.get("HOSPES_CONFIG")
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"HOSPES_CONFIG: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"HOSPES_CONFIG: {path} is not valid TOML: {exc}") from exc
    # Environment variables win over the file.
    return {k.lower(): v for k, v in data.items() if f"HOSPES_{k.upper()}" not in os.environ}


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigError with one line naming the variable."""
    try:
        values = {**_toml_values(), **overrides}
        settings = Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "HOSPES_" + str(err["loc"][0]).upper() if err["loc"] else "HOSPES_CONFIG"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {msg}") from None
    return settings


def ensure_secret_key(settings: Settings) -> str:
    """The secret key: from the setting, or generated once and kept under var/."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.var_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
