"""Protocol errors: one class per error code, each carrying its HTTP status.

An endpoint raises; one handler in ``web/`` renders (JSON, a redirect to a registered
redirect URI, or an error page). Descriptions never carry secrets.
"""

from __future__ import annotations

# RFC 6749 §5.2 (and §4.1.2.1; RFC 6750 §3): error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ).
_QUOTES = str.maketrans({'"': "'", "\\": "/"})


def description_text(text: str) -> str:
    """``text`` within error_description's characters: a double quote becomes ', a backslash /, any other
    character outside printable ASCII ?. The core's own texts keep to them (tests/oauth/test_errors.py);
    this bounds the values a request puts into one (a token_type_hint, a grant_type)."""
    text = text.translate(_QUOTES)
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c <= "~" else "?" for c in text)


class OAuthError(Exception):
    error = "server_error"
    status_code = 400

    def __init__(self, description: str = "", *, state: str | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description
        self.state = state

    def as_dict(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = description_text(self.description)
        return body


# RFC 6749 §5.2 (token endpoint) and §4.1.2.1 (authorization endpoint)
class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401

    # RFC 6749 §5.2 and RFC 9110 §15.5.2: a 401 carries a WWW-Authenticate challenge (web/ adds it), Basic
    # whichever way the client tried, since that is the scheme it may use.


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    # A redirect from the authorization endpoint (RFC 6749 §4.1.2.1); at the token endpoint (RFC 8628 §3.5)
    # a 400, as RFC 6749 §5.2 answers every error but invalid_client.
    error = "access_denied"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class ServerError(OAuthError):
    error = "server_error"
    status_code = 500


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status_code = 503


# OpenID Connect Core §3.1.2.6
class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class InteractionRequired(OAuthError):
    error = "interaction_required"


class UnmetAuthenticationRequirements(OAuthError):
    """https://openid.net/specs/openid-connect-unmet-authentication-requirements-1_0.html §3: the
    authentication the client requires (an essential acr, OIDC Core §5.5.1.1) cannot be met."""

    error = "unmet_authentication_requirements"


class RequestUriNotSupported(OAuthError):
    error = "request_uri_not_supported"


# RFC 9101 §6.2, §7 (OIDC Core §3.1.2.6): the request object is not valid (signature, claims, used before).
class InvalidRequestObject(OAuthError):
    error = "invalid_request_object"


class RegistrationNotSupported(OAuthError):
    error = "registration_not_supported"


# RFC 7591 §3.2.2: dynamic client registration's errors.
class InvalidRedirectUri(OAuthError):
    error = "invalid_redirect_uri"


class InvalidClientMetadata(OAuthError):
    error = "invalid_client_metadata"


# RFC 7009 §2.2.1
class UnsupportedTokenType(OAuthError):
    error = "unsupported_token_type"


# RFC 6750 §3.1
class InvalidToken(OAuthError):
    error = "invalid_token"
    status_code = 401


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status_code = 403


# RFC 8707 §2: the resource parameter names no resource this server issues tokens for, names several, or
# is not an absolute URI without a fragment.
class InvalidTarget(OAuthError):
    error = "invalid_target"


# RFC 9470 §3: the token's authentication (its acr) is below what the resource requires for the request.
class InsufficientUserAuthentication(OAuthError):
    error = "insufficient_user_authentication"
    status_code = 401

    def __init__(self, description: str = "", *, acr_values: str = "") -> None:
        super().__init__(description)
        self.acr_values = acr_values  # the challenge's acr_values (RFC 9470 §3)


# RFC 8628 §3.5: the token endpoint's answers while a device authorization is not (or no longer) approved.
class AuthorizationPending(OAuthError):
    error = "authorization_pending"


class SlowDown(OAuthError):
    error = "slow_down"


class ExpiredToken(OAuthError):
    error = "expired_token"


# RFC 9449 §5 and §7.1: a DPoP proof that fails a check of §4.3 (400 at the token endpoint; a resource answers 401
# with a DPoP challenge, web/ sets the status), and §8/§9: the server wants a nonce of its own in the proof,
# carried here so that web/ can give it in the DPoP-Nonce header.
class InvalidDpopProof(OAuthError):
    error = "invalid_dpop_proof"


class UseDpopNonce(OAuthError):
    error = "use_dpop_nonce"

    def __init__(self, description: str = "", *, nonce: str) -> None:
        super().__init__(description)
        self.nonce = nonce


class InvalidRedirect(Exception):
    """The client or redirect URI cannot be trusted: show an error page, never redirect.

    RFC 6749 §4.1.2.1: "the authorization server SHOULD inform the resource owner of the
    error and MUST NOT automatically redirect the user-agent to the invalid redirection URI."
    ``error`` keeps bshaffer/WHMCS's codes (``redirect_uri_mismatch``, ``invalid_uri``).
    """

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
