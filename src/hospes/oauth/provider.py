"""The provider: settings, storage, keys and grants that every endpoint of the core works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hospes.config import Settings, ensure_secret_key
from hospes.oauth.client_assertion import ClientKeys, Verifier
from hospes.oauth.discovery import Discovery
from hospes.oauth.dpop import Dpop
from hospes.oauth.keys import KeyRing
from hospes.oauth.web_origins import WebOrigins
from hospes.sealing import derive
from hospes.store.db import Database
from hospes.store.lookups import Lookups

if TYPE_CHECKING:  # the grants import this module
    from hospes.oauth.grants.base import Grants


@dataclass
class Provider:
    settings: Settings
    db: Database
    #: The grants the token endpoint offers, chosen when the application is built (app.py).
    grants: Grants
    keys: KeyRing = field(init=False)
    lookups: Lookups = field(init=False)
    #: The origins of the clients' redirect URIs, for the browser applications' CORS requests.
    origins: WebOrigins = field(init=False)
    #: The discovery document, with the operator's scopes read now and then.
    discovery: Discovery = field(init=False)
    #: The secret key (HOSPES_SECRET_KEY or var/secret_key): what seals a client_secret_jwt client's secret.
    secret_key: bytes = field(init=False)
    #: DPoP proofs (RFC 9449) and the server's nonces, under a key derived from the secret key (every node's).
    dpop: Dpop = field(init=False)
    #: The clients' key sets this process holds (private_key_jwt: registered, or fetched from a jwks_uri).
    client_keys: ClientKeys = field(init=False)
    _verifiers: dict[str, Verifier] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.secret_key = ensure_secret_key(self.settings).encode()
        self.client_keys = ClientKeys(allow_private=self.settings.fetch_allow_private)
        self.lookups = Lookups(self.db.engine, self.db.pg, self.db.timeout)
        self.origins = WebOrigins(self.lookups)
        self.discovery = Discovery(self.lookups, self.settings.issuer, self.grants.grant_types,
                                   registration=self.settings.registration != "off",
                                   require_par=self.settings.require_par)
        self.keys = KeyRing.for_settings(self.db, self.settings)
        self.dpop = Dpop(self.settings.issuer, derive(self.secret_key, b"hospes dpop nonce"), self.settings.dpop_nonce)

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    def verifier(self, path: str) -> Verifier:
        """Checks client assertions (RFC 7523) sent to the endpoint at ``path`` below the issuer: their aud is the
        issuer identifier, the token endpoint's URL or that endpoint's own (oauth/client_assertion.py)."""
        found = self._verifiers.get(path)
        if found is None:
            issuer = self.issuer
            audiences = (issuer, issuer + "/oauth/token.php", issuer + "/oauth/token", issuer + path)
            found = self._verifiers[path] = Verifier(audiences, self.secret_key, self.client_keys)
        return found
