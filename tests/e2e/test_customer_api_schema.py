"""A schema-driven run over every operation of the customer API: schemathesis generates requests from the
served OpenAPI document and sends them, with a valid token for every scope, to the real server process; no
answer may be a 5xx, and every answer must match what the document says (status, content type, schema).
Bounded: a few examples per operation, a minute at most."""

from __future__ import annotations

import time
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402

from hospes.api.operations import OPERATIONS  # noqa: E402
from tests.api import token_for  # noqa: E402
from tests.e2e import REDIRECT_URI, Credential, User, add_user, cli_json  # noqa: E402

SCOPE = "openid profile email services:read domains:read invoices:read tickets:read tickets:write"
EXAMPLES = 12
BUDGET_SECONDS = 60


@pytest.fixture
def server_env() -> dict[str, str]:
    return {"PYTHONUNBUFFERED": "1"}


def _token(server: Any, user: User, cred: Credential) -> str:
    import httpx

    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=10) as browser:
        cred_like = type("C", (), {"client_id": cred.client_id, "client_secret": cred.client_secret,
                                   "redirect_uri": REDIRECT_URI})()
        return str(token_for(browser, user, cred_like, SCOPE)["access_token"])


def test_every_operation_keeps_to_its_own_document(server: Any) -> None:
    jane = add_user(server, "Jane")
    cli_json(server, "services", "add", "--client-id", str(jane.client_id), "--product", "Hosting")
    cli_json(server, "domains", "add", "--client-id", str(jane.client_id), "--domain", "jane.example")
    cli_json(server, "invoices", "add", "--client-id", str(jane.client_id), "--total", "5.00")
    made = cli_json(server, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", SCOPE,
                    "--name", "Fuzzer", "--redirect-uri", REDIRECT_URI)
    cred = Credential(int(made["credentialId"]), made["clientIdentifier"], made["clientSecret"])
    auth = {"Authorization": "Bearer " + _token(server, jane, cred)}

    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    deadline = time.monotonic() + BUDGET_SECONDS
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            if time.monotonic() < deadline:
                case.call_and_validate(headers=auth)

        run()
        ran += 1
    assert ran == len(OPERATIONS)
