"""hospes.oauth.pkce against RFC 7636 (S256 only, RFC 9700 §2.1.1)."""

from __future__ import annotations

import pytest

from hospes.oauth import pkce

# RFC 7636 Appendix B: the worked example.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc_7636_appendix_b_vector():
    assert pkce.s256(RFC_VERIFIER) == RFC_CHALLENGE
    assert pkce.verify(RFC_VERIFIER, RFC_CHALLENGE)
    assert pkce.valid_challenge(RFC_CHALLENGE)


def test_the_challenge_is_unpadded_base64url():
    for verifier in ("a" * 43, "~" * 128, "A-._~" * 20):
        c = pkce.s256(verifier)
        assert len(c) == 43
        assert not set(c) & set("=+/")
        assert pkce.valid_challenge(c)


def test_wrong_verifier_fails():
    assert not pkce.verify(RFC_VERIFIER[:-1] + "l", RFC_CHALLENGE)
    assert not pkce.verify("a" * 43, RFC_CHALLENGE)
    # The challenge itself is not a verifier for itself (that would be "plain").
    assert not pkce.verify(RFC_CHALLENGE, RFC_CHALLENGE)


@pytest.mark.parametrize("verifier", [
    "a" * 42,          # RFC 7636 §4.1: at least 43 characters
    "a" * 129,         # ... and at most 128
    "",
    "a" * 42 + " ",    # not unreserved
    "a" * 42 + "+",
    "a" * 42 + "/",
    "a" * 42 + "=",
    "a" * 42 + "\u00e9",
    "a" * 43 + "\n",   # "$" in a regex would let this through
])
def test_malformed_verifiers_never_verify(verifier):
    # Even when the challenge was computed from the very same string.
    challenge = pkce.s256(verifier) if verifier.isascii() else RFC_CHALLENGE
    assert not pkce.verify(verifier, challenge)


@pytest.mark.parametrize("n", [43, 64, 128])
def test_verifier_lengths_at_the_bounds(n):
    verifier = ("Az09-._~" * 20)[:n]
    assert pkce.verify(verifier, pkce.s256(verifier))


@pytest.mark.parametrize("challenge", [
    "",
    RFC_CHALLENGE[:-1],            # 42
    RFC_CHALLENGE + "A",           # 44
    RFC_CHALLENGE[:-1] + "=",      # padding
    RFC_CHALLENGE[:-1] + "+",      # base64, not base64url
    RFC_CHALLENGE[:-1] + "/",
    RFC_CHALLENGE[:-1] + ".",
    RFC_CHALLENGE + "\n",
])
def test_malformed_challenges(challenge):
    assert not pkce.valid_challenge(challenge)
