"""The customer API's errors, each with its HTTP status, answered as ``{"error", "error_description"}``.

A token that is missing, invalid or lacks the scope is oauth/errors.py's (RFC 6750 §3); these are the rest.
"""

from __future__ import annotations

from hospes.oauth import errors
from hospes.oauth.errors import OAuthError


class InsufficientScope(errors.InsufficientScope):
    """RFC 6750 §3.1 insufficient_scope, naming the scope the operation needs (its challenge's ``scope``)."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"The token was not granted the scope {scope}.")
        self.scope = scope


class NotFound(OAuthError):
    """No such record, or one of an account the token does not reach: the two look the same."""

    error = "not_found"
    status_code = 404


class InvalidRequest(OAuthError):
    """A parameter or body the operation cannot take (RFC 6750 §3.1's invalid_request, status 400)."""

    error = "invalid_request"
    status_code = 400


class MethodNotAllowed(OAuthError):
    error = "method_not_allowed"
    status_code = 405
