"""The SSRF rules of oauth/fetch.py: which addresses a document may be fetched from."""

from __future__ import annotations

import ipaddress

import pytest

from hospes.oauth import fetch

REFUSED = [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("192.168.1.1", "private"), ("100.64.0.1", "private"),
    ("fc00::1", "private"), ("fd12:3456::1", "private"), ("192.0.2.1", "private"), ("2001:db8::1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    # IPv4 inside IPv6: mapped, 6to4, NAT64, IPv4-compatible (reserved ::/8).
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"), ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "loopback"), ("64:ff9b::a00:1", "private"), ("::7f00:1", "private"),
    ("240.0.0.1", "private"),
]
ALWAYS_REFUSED = ["0.0.0.0", "0.1.2.3", "::", "::ffff:0.0.0.0", "224.0.0.1", "239.1.1.1", "ff02::1"]
PUBLIC = ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.215.14", "2002:5db8:d70e::",
          "64:ff9b::808:808"]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_loopback_private_and_link_local_addresses_are_refused(address: str, kind: str) -> None:
    why = fetch.refusal(ipaddress.ip_address(address), allow_private=False)
    assert why is not None and kind in why


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_the_setting_lets_private_addresses_in(address: str, kind: str) -> None:
    assert fetch.refusal(ipaddress.ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_unspecified_and_multicast_addresses_are_refused_even_with_the_setting(address: str) -> None:
    for allow in (False, True):
        why = fetch.refusal(ipaddress.ip_address(address), allow_private=allow)
        assert why is not None and "unspecified or multicast" in why


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_fetched_from(address: str) -> None:
    assert fetch.refusal(ipaddress.ip_address(address), allow_private=False) is None


def test_a_host_that_resolves_to_loopback_is_refused_before_any_connection() -> None:
    with pytest.raises(fetch.FetchError, match="localhost resolves to a loopback address"):
        fetch.fetch("https://localhost:9/doc.json", allow_private=False, limit=100)


def test_only_https_is_fetched() -> None:
    with pytest.raises(fetch.FetchError, match="Only https"):
        fetch.fetch("http://93.184.215.14/doc.json", allow_private=False, limit=100)


def test_a_url_not_in_ascii_is_refused_before_any_lookup() -> None:
    with pytest.raises(fetch.FetchError, match="ASCII"):
        fetch.fetch("https://bücher.example/é.json", allow_private=True, limit=100)
