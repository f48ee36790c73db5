"""RFC 8707 §2: which audience a ``resource`` parameter names (oauth/audience.py), before any lookup."""

from __future__ import annotations

import pytest

from hospes.oauth import audience, errors

ISSUER = "https://billing.example.com"


def test_no_resource_or_the_customer_apis_identifier_mean_the_customer_api() -> None:
    assert audience.named([], ISSUER) is None
    assert audience.named([ISSUER + "/api/v1"], ISSUER) is None
    assert audience.customer_api(ISSUER) == ISSUER + "/api/v1"


def test_an_absolute_uri_names_an_operators_resource() -> None:
    assert audience.named(["https://panel.example.com/api"], ISSUER) == "https://panel.example.com/api"


@pytest.mark.parametrize("values", [
    ["https://a.example.com", "https://b.example.com"],  # one per request
    ["https://a.example.com", "https://a.example.com"],
    ["panel"], ["/api/v1"], [""],  # not absolute
    ["https://a.example.com/#x"],  # RFC 8707 §2: no fragment
    ["https://a.example.com/ x"], ["https://a.example.com/\u00e9"], ["https://a.example.com/" + "a" * 2000],
])
def test_anything_else_is_invalid_target(values: list[str]) -> None:
    with pytest.raises(errors.InvalidTarget) as caught:
        audience.named(values, ISSUER)
    assert caught.value.as_dict()["error"] == "invalid_target" and caught.value.status_code == 400


def test_the_token_request_repeats_the_grants_resource_or_leaves_it_out() -> None:
    audience.at_token_endpoint([], ISSUER, "https://panel.example.com/api")
    audience.at_token_endpoint(["https://panel.example.com/api"], ISSUER, "https://panel.example.com/api")
    audience.at_token_endpoint([ISSUER + "/api/v1"], ISSUER, None)
    for values, granted in ((["https://other.example.com"], "https://panel.example.com/api"),
                            (["https://panel.example.com/api"], None), ([ISSUER + "/api/v1"], "https://p.example")):
        with pytest.raises(errors.InvalidTarget):
            audience.at_token_endpoint(values, ISSUER, granted)
