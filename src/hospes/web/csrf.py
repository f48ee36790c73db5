"""CSRF protection for every form: a random cookie and, in the form, an HMAC of it.

The form token cannot be made by another site, which can neither read the cookie nor
compute the HMAC without the secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

COOKIE = "hospes_csrf"
FIELD = "token"


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)


def form_token(secret_key: bytes, cookie_value: str) -> str:
    mac = hmac.new(secret_key, b"csrf:" + cookie_value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def valid(secret_key: bytes, cookie_value: str | None, token: str | None) -> bool:
    if not cookie_value or not token or len(cookie_value) > 100 or len(token) > 100:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError, so a 500 for a form field
    # such as "²"); surrogatepass, since a cookie may hold what UTF-8 cannot.
    return hmac.compare_digest(form_token(secret_key, cookie_value).encode(), token.encode("utf-8", "surrogatepass"))
