"""The grant interface and its registry: how the token endpoint finds a grant, and what a grant reads."""

from __future__ import annotations

from typing import Any

import pytest

from hospes.app import grants
from hospes.oauth import errors
from hospes.oauth.grants import built_in
from hospes.oauth.grants.base import Grant, Grants, TokenRequest
from hospes.sso.grant import SingleSignOnGrant


def test_the_application_offers_each_grant_once():
    assert set(grants().grant_types) == {"authorization_code", "refresh_token", "client_credentials", "single_sign_on",
                                         "urn:ietf:params:oauth:grant-type:token-exchange",
                                         "urn:ietf:params:oauth:grant-type:device_code"}


def test_grant_type_selects_the_grant():
    registry = grants()
    assert registry.select({"grant_type": ["refresh_token"]}).grant_type == "refresh_token"
    with pytest.raises(errors.UnsupportedGrantType):
        registry.select({"grant_type": ["password"]})
    with pytest.raises(errors.InvalidRequest):
        registry.select({})
    with pytest.raises(errors.InvalidRequest):  # RFC 6749 §3.2
        registry.select({"grant_type": ["refresh_token", "authorization_code"]})


def test_a_grant_can_be_implied_by_its_fields_when_grant_type_is_absent():
    registry = grants()
    assert registry.select({"subscriber_unique_id": ["id"], "token": ["secret"]}).grant_type == "single_sign_on"
    # An explicit grant_type always wins.
    assert registry.select({"grant_type": ["refresh_token"], "subscriber_unique_id": ["id"]}).grant_type == (
        "refresh_token")


def test_two_grants_for_one_grant_type_are_refused():
    with pytest.raises(ValueError, match="authorization_code"):
        Grants([*built_in(), *built_in()])


def test_the_sso_grant_reads_cpanels_field_names_and_the_query_scope():
    grant = SingleSignOnGrant()
    form = grant.read({"subscriber_unique_id": ["cid"], "token": ["secret"], "user": ["bob"]},
                      {"scope": ["clientarea:sso clientarea:tickets"]})
    assert form == {"client_id": ["cid"], "client_secret": ["secret"], "user": ["bob"],
                    "scope": ["clientarea:sso clientarea:tickets"]}
    # With grant_type given, the standard names are used as they are; a posted scope beats the query's.
    standard = {"grant_type": ["single_sign_on"], "client_id": ["cid"], "token": ["x"], "scope": ["clientarea:sso"]}
    assert grant.read(standard, {"scope": ["other"]}) == standard


def test_the_built_in_grants_read_only_what_they_declare():
    assert {g.grant_type: g.parameters for g in built_in()} == {
        "authorization_code": frozenset({"code", "redirect_uri", "code_verifier", "resource"}),
        "refresh_token": frozenset({"refresh_token", "scope", "resource"}),
        "urn:ietf:params:oauth:grant-type:token-exchange": frozenset({
            "subject_token", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type",
            "scope", "resource", "audience"}),
        "urn:ietf:params:oauth:grant-type:device_code": frozenset({"device_code", "resource"}),
        "client_credentials": frozenset({"scope", "resource"}),
    }


def test_a_new_grant_is_a_class_and_a_line_in_the_registry():
    class Echo(Grant):
        grant_type = "urn:example:echo"
        parameters = frozenset({"word"})

        async def handle(self, provider: Any, request: TokenRequest) -> dict[str, Any]:
            return {"word": request.one("word")}

    registry = Grants([*built_in(), Echo()])
    assert registry.select({"grant_type": ["urn:example:echo"]}).grant_type == "urn:example:echo"
