"""How errors are rendered: every 401 carries a challenge (RFC 6749 §5.2, RFC 9110 §15.5.2), and every
``error_description`` keeps to the characters RFC 6749 §5.2 (and §4.1.2.1, RFC 6750 §3) allow."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from hospes.oauth import errors
from tests.browserless import query_of, tokens_for

SRC = Path(__file__).resolve().parents[2] / "src" / "hospes"
# RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ); error_uri the same less space.
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]+\Z")
URI = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+\Z")
ERROR_CLASSES = {name for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.OAuthError)}


@pytest.fixture
def cred(make_credential: Any) -> Any:
    return make_credential(scope="openid offline_access")


@pytest.fixture
def issued(client: Any, make_account: Any, cred: Any) -> dict[str, Any]:
    return tokens_for(client, make_account(), cred, "openid offline_access")


NASTY = 'a "quoted" \\ back\\slash, caf\u00e9 \u2603 \x7f tab\tend'


def assert_description_allowed(body: dict[str, Any]) -> None:
    if "error_description" in body:
        assert DESCRIPTION.match(body["error_description"]), body
    assert "error_uri" not in body or URI.match(body["error_uri"]), body


def raised_texts() -> list[tuple[str, int, str]]:
    """The literal text of every OAuth error the code constructs: (file, line, text); for an f-string, its
    constant parts (the values put in are the request's, kept in bounds when rendered; see below)."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in ERROR_CLASSES:
                continue
            arg = node.args[0]
            parts = ([arg] if isinstance(arg, ast.Constant) else
                     [v for v in arg.values if isinstance(v, ast.Constant)] if isinstance(arg, ast.JoinedStr) else [])
            found += [(str(path.relative_to(SRC)), node.lineno, p.value) for p in parts if isinstance(p.value, str)]
    return found


def test_every_error_text_in_the_code_keeps_to_the_allowed_characters():
    texts = raised_texts()
    assert len(texts) > 50  # the walk finds the raises (oauth/, sso/, ...)
    bad = [(path, line, text) for path, line, text in texts if text and not DESCRIPTION.match(text)]
    assert not bad, bad


@pytest.mark.parametrize("cls", sorted(ERROR_CLASSES))
def test_a_description_holding_any_character_is_rendered_within_bounds(cls):
    extra = {"nonce": "n"} if cls == "UseDpopNonce" else {}  # RFC 9449 §8: its answer carries a nonce too
    exc = getattr(errors, cls)(NASTY, **extra)
    body = exc.as_dict()
    assert_description_allowed(body)
    assert body["error_description"].startswith("a 'quoted' / back/slash, caf")


def test_a_value_from_the_request_is_kept_within_bounds_at_the_token_and_revocation_endpoints(client, cred):
    r = client.post("/oauth/token.php", data={"grant_type": NASTY}, auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    assert_description_allowed(r.json())
    r = client.post("/oauth/revoke", data={"token": "t", "token_type_hint": NASTY},
                    auth=(cred.client_id, cred.client_secret))
    assert r.status_code == 400 and r.json()["error"] == "unsupported_token_type"
    assert_description_allowed(r.json())
    # repr() of a value holding ' is written with ": still within bounds.
    r = client.post("/oauth/revoke", data={"token": "t", "token_type_hint": "it's"},
                    auth=(cred.client_id, cred.client_secret))
    assert_description_allowed(r.json())


def test_a_value_from_the_request_is_kept_within_bounds_in_the_redirect(client, cred):
    query = {"response_type": 'code "x"', "client_id": cred.client_id, "redirect_uri": cred.redirect_uri,
             "scope": "openid", "state": "s"}
    r = client.get("/oauth/authorize.php?" + urlencode(query))
    assert r.status_code in (302, 303), r.text
    got = query_of(r.headers["location"])
    assert got["error"] == "unsupported_response_type"
    assert_description_allowed(got)


def test_the_bearer_challenge_quotes_its_description_cleanly(client):
    r = client.get("/oauth/userinfo.php", headers={"Authorization": "Bearer " + "x" * 20})
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    # RFC 6750 §3: auth-params as quoted-strings; the description holds no quote or backslash to escape.
    params = dict(re.findall(r'(\w+)="([^"\\]*)"', challenge))
    assert challenge == "Bearer " + ", ".join(f'{k}="{v}"' for k, v in params.items())
    assert params["error"] == "invalid_token"
    assert params["error_description"] == r.json()["error_description"]
    assert DESCRIPTION.match(params["error_description"])


# -- every 401 carries a challenge ----------------------------------------------------------------


def assert_challenged(r: Any) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"
    # RFC 9110 §15.5.2: a 401 MUST send WWW-Authenticate; RFC 6749 §5.2: the scheme the client may use.
    assert r.headers["www-authenticate"].startswith('Basic realm="hospes"')
    assert_description_allowed(r.json())


def test_a_wrong_client_secret_post_is_401_with_a_challenge(client, cred):
    r = client.post("/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": "x",
                                              "client_id": cred.client_id, "client_secret": "wrong"})
    assert_challenged(r)


def test_a_missing_secret_is_401_with_a_challenge(client, cred):
    for data in ({"client_id": cred.client_id}, {}):
        r = client.post("/oauth/token.php", data={"grant_type": "refresh_token", "refresh_token": "x", **data})
        assert_challenged(r)


@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke"])
def test_introspection_and_revocation_without_credentials_are_401_with_a_challenge(client, cred, issued, path):
    assert_challenged(client.post(path, data={"token": issued["access_token"]}))
    assert_challenged(client.post(path, data={"token": issued["access_token"], "client_id": cred.client_id,
                                              "client_secret": "wrong"}))
