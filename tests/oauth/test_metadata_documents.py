"""Client ID metadata documents: the URL and document rules of draft-ietf-oauth-client-id-metadata-document."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hospes.oauth import errors, metadata_documents
from hospes.store.db import Database
from hospes.store.models import OAuthCredential

URL = "https://app.example.org/oauth/client.json"


@pytest.mark.parametrize(("client_id", "why"), [
    ("http://app.example.org/client.json", "must use https"),
    ("https://app.example.org", "must have a path"),
    ("https://app.example.org/", "must have a path"),
    ("https://app.example.org/client.json#frag", "fragment"),
    ("https://user:pw@app.example.org/client.json", "user name or password"),
    ("https://user@app.example.org/client.json", "user name or password"),
    ("https://app.example.org/a/../client.json", '"." or ".."'),
    ("https://app.example.org/./client.json", '"." or ".."'),
    ("https:///client.json", "no host"),
    ("https://app.example.org:99999/client.json", "not a valid URL"),
    ("https://app.example.org/" + "a" * 300, "longer than"),
    ("https://app.example.org/client json", "spaces"),
    ("https://app.example.org/clïent.json", "ASCII"),
    ("https://bücher.example/client.json", "ASCII"),
])
def test_client_id_urls_the_draft_forbids_are_refused(client_id: str, why: str) -> None:
    with pytest.raises(errors.InvalidRedirect, match=why):
        metadata_documents.check_url(client_id)


def test_a_client_id_url_with_a_port_and_query_is_accepted() -> None:
    metadata_documents.check_url("https://app.example.org:8443/oauth/client.json?v=2")


def body(**fields: Any) -> bytes:
    return json.dumps({"client_id": URL, "client_name": "Desk", "redirect_uris": ["https://app.example.org/cb"],
                       **fields}).encode()


def test_a_document_becomes_a_public_clients_metadata() -> None:
    meta = metadata_documents.parse(URL, body(grant_types=["authorization_code", "refresh_token"]))
    assert meta.public and meta.client_name == "Desk" and meta.redirect_uris == ("https://app.example.org/cb",)


@pytest.mark.parametrize(("document", "why"), [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (body(client_id="https://app.example.org/oauth/other.json"), "another client_id"),
    (body(client_id="https://APP.example.org/oauth/client.json"), "another client_id"),
    (body(redirect_uris=[]), "redirect_uris is required"),
    (body(token_endpoint_auth_method="client_secret_basic"), "shared secret"),
    (body(token_endpoint_auth_method="client_secret_post"), "shared secret"),
    (body(token_endpoint_auth_method="client_secret_jwt"), "shared secret"),
    (body(token_endpoint_auth_method="private_key_jwt"), "private_key_jwt"),
    (body(client_secret="s3cret"), "must not contain a client secret"),
    (body(scope="clientarea:profile"), "not available"),
])
def test_documents_the_rules_forbid_are_refused(document: bytes, why: str) -> None:
    with pytest.raises(errors.InvalidRedirect, match=why):
        metadata_documents.parse(URL, document)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner,
                                                                                       max_size=4), max_leaves=12)
FIELDS = ["client_id", "redirect_uris", "token_endpoint_auth_method", "client_name", "scope", "grant_types",
          "response_types", "application_type", "logo_uri", "client_uri"]


@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8), st.booleans())
@settings(max_examples=300, deadline=None)
def test_any_document_is_accepted_or_refused_with_a_reason_never_an_error(doc: dict[str, Any], own: bool) -> None:
    if own:
        doc["client_id"] = URL
    try:
        metadata_documents.parse(URL, json.dumps(doc).encode())
    except errors.InvalidRedirect as exc:
        assert exc.description


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_client_id_url_is_accepted_or_refused_with_a_reason(rest: str) -> None:
    try:
        metadata_documents.check_url("https://" + rest)
    except errors.InvalidRedirect as exc:
        assert exc.description


def _document(name: str) -> metadata_documents.Document:
    meta = metadata_documents.parse(URL, body(client_name=name))
    return metadata_documents.Document(meta, datetime.now(UTC) + timedelta(hours=1))


def test_two_first_authorizations_at_once_leave_one_client(db: Database) -> None:
    """Both found no client and fetched; the second to store it updates the first's row instead of failing."""
    started, stored = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with db.transaction() as s:
                metadata_documents.keep(s, URL, _document("First"), company="Hospes")
                started.set()
                stored.wait(1)  # PostgreSQL: the second insert waits on this one's unique identifier
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(30)
    timer = threading.Timer(0.5, stored.set)
    timer.start()
    metadata_documents.store(db, URL, _document("Second"), company="Hospes")
    thread.join(30)
    timer.cancel()
    assert not failures
    with db.read() as s:
        rows = s.scalars(select(OAuthCredential).where(OAuthCredential.identifier == URL)).all()
        assert [(c.name, c.kind, c.secret_hash) for c in rows] == [("Second", "metadata_document", None)]
