"""The provider: settings, storage, keys and grants that every endpoint of the core works with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hospes.config import Settings, ensure_secret_key
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

    def __post_init__(self) -> None:
        self.secret_key = ensure_secret_key(self.settings).encode()
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
