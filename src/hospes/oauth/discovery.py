"""The discovery document (OpenID Connect Discovery 1.0 §3; RFC 8414 §2), built once per set of scopes.

``scopes_supported`` ("SHOULD" list the scopes used, RFC 8414 §2) holds Hospes's own scopes and those of the
operator's resource servers (oauth/resources.py). Discovery is fetched by every relying party, so the operator's
scope names are read from the database (one query) at most every ``RELOAD_SECONDS`` per process and the
serialised document kept between reads: a resource added or removed shows within that time.
"""

from __future__ import annotations

import json
import time
from typing import Any

from hospes import i18n
from hospes.oauth.client_assertion import JWT_METHODS, SIGNING_ALGS
from hospes.oauth.dpop import ALGS as DPOP_ALGS
from hospes.oauth.keys import SUPPORTED_ALGS
from hospes.oauth.request_object import ALGORITHMS as REQUEST_OBJECT_ALGORITHMS
from hospes.oauth.scopes import SCOPES
from hospes.store.lookups import Lookups

RELOAD_SECONDS = 30.0

SECRET_METHODS = ("client_secret_basic", "client_secret_post")
CLAIMS = [
    "iss", "aud", "exp", "iat", "sub", "auth_time", "nonce", "at_hash", "azp", "acr", "amr", "sid",
    "name", "given_name", "family_name", "preferred_username", "locale", "updated_at", "email", "email_verified",
]


def document(issuer: str, grant_types: tuple[str, ...], operator_scopes: tuple[str, ...] = (), *,
             registration: bool = False, require_par: bool = False) -> dict[str, Any]:
    """``registration``: whether dynamic client registration is on (HOSPES_REGISTRATION not off);
    ``require_par``: whether every client must push its authorization requests (HOSPES_REQUIRE_PAR)."""
    def url(path: str) -> str:
        return issuer + path

    doc: dict[str, Any] = {
        # First the keys a WHMCS install's /oauth/openid-configuration.php serves, at WHMCS's paths
        # (https://docs.whmcs.com/system/authentication/openid-connect-development/).
        "issuer": issuer,
        "authorization_endpoint": url("/oauth/authorize.php"),
        "token_endpoint": url("/oauth/token.php"),
        "userinfo_endpoint": url("/oauth/userinfo.php"),
        "jwks_uri": url("/oauth/certs.php"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SUPPORTED_ALGS),
        "scopes_supported": [*SCOPES, *operator_scopes],
        "claims_supported": CLAIMS,
        # The rest of what Hospes does.
        "revocation_endpoint": url("/oauth/revoke"),
        "introspection_endpoint": url("/oauth/introspect"),
        "end_session_endpoint": url("/oauth/logout"),
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": list(grant_types),  # the grants the application was built with
        # RFC 8414 §2; the JWT methods and their algorithms: RFC 7523, OIDC Core §9 (oauth/client_assertion.py).
        "token_endpoint_auth_methods_supported": [*SECRET_METHODS, *JWT_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "revocation_endpoint_auth_methods_supported": [*SECRET_METHODS, *JWT_METHODS, "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "introspection_endpoint_auth_methods_supported": [*SECRET_METHODS, *JWT_METHODS],
        "introspection_endpoint_auth_signing_alg_values_supported": list(SIGNING_ALGS),
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": True,  # OIDC Core §5.5 (oauth/claims.py)
        # RFC 9101 (oauth/request_object.py): request objects by value, signed; a request_uri only from PAR.
        "request_parameter_supported": True,
        "request_object_signing_alg_values_supported": list(REQUEST_OBJECT_ALGORITHMS),
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": True,
        # RFC 9207 §3: the `iss` authorization-response parameter is always sent.
        "authorization_response_iss_parameter_supported": True,
        # accounts/assurance.py: "0" single sign-on; "1" password; "2" password and a second factor (TOTP).
        "acr_values_supported": ["0", "1", "2"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": list(i18n.available()),
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": True,  # OIDC Back-Channel Logout 1.0 §2.1 (oauth/backchannel.py)
        "backchannel_logout_session_supported": True,
        # draft-ietf-oauth-client-id-metadata-document: a client_id may be an https URL (oauth/metadata_documents.py).
        "client_id_metadata_document_supported": True,
        # RFC 9126 §5 (oauth/par.py): a credential may require it for itself (require_par), whatever this says.
        "pushed_authorization_request_endpoint": url("/oauth/par"),
        "require_pushed_authorization_requests": require_par,
        # RFC 9449 §5.1: DPoP proofs are accepted at the token endpoint and the resources (oauth/dpop.py).
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),
    }
    if "urn:ietf:params:oauth:grant-type:device_code" in grant_types:
        doc["device_authorization_endpoint"] = url("/oauth/device_authorization")  # RFC 8628 §4 (oauth/device.py)
    if registration:
        doc["registration_endpoint"] = url("/oauth/register")  # RFC 8414 §2, RFC 7591 §3
    return doc


class Discovery:
    """The document as JSON, with the operator's scopes as read at most ``reload_seconds`` ago (the module's
    docstring)."""

    def __init__(self, lookups: Lookups, issuer: str, grant_types: tuple[str, ...], *,
                 registration: bool = False, require_par: bool = False,
                 reload_seconds: float = RELOAD_SECONDS) -> None:
        self._lookups = lookups
        self._registration = registration
        self._require_par = require_par
        self._issuer = issuer
        self._grant_types = grant_types
        self._reload = reload_seconds
        self._scopes: tuple[str, ...] | None = None
        self._json = b""
        self._loaded = -float("inf")

    async def document_json(self) -> bytes:
        if time.monotonic() - self._loaded > self._reload:
            await self._load()
        return self._json

    async def _load(self) -> None:
        # Marked first, so the requests that arrive while the query runs answer with the document they have.
        before, self._loaded = self._loaded, time.monotonic()
        try:
            scopes = tuple(await self._lookups.resource_scope_names())
        except Exception:
            if not self._json:
                self._loaded = before
                raise
            # The database is unavailable: the document read last still holds; try again in a second.
            self._loaded = time.monotonic() - self._reload + 1.0
            return
        if scopes != self._scopes or not self._json:
            doc = document(self._issuer, self._grant_types, scopes, registration=self._registration,
                           require_par=self._require_par)
            self._json, self._scopes = json.dumps(doc, separators=(",", ":")).encode(), scopes
