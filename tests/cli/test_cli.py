"""The ``hospes`` command's contract: JSON out with --json, one-line errors on bad input, a refusal to run
half-configured, and secret resets that take effect at once on a running server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from hospes.accounts.passwords import verify_password
from hospes.oauth import pkce
from hospes.store.models import Admin, Domain, Invoice, User, UserClient
from tests import processes
from tests.browserless import authorize, query_of
from tests.conftest import backend, free_port

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "http://127.0.0.1:9/cb"


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HOSPES_") or k.startswith("HOSPES_TEST_")}


class Hospes:
    """``hospes`` in a process of its own (forked: tests/processes.py) with a clean environment pointing at the
    test's own database."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.cwd = tmp_path
        self.env = {**clean_environ(), "HOSPES_DATABASE_URL": database_url, "HOSPES_VAR_DIR": str(tmp_path / "var")}

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return processes.run(list(args), {**self.env, **(env or {})}, stdin=stdin, timeout=timeout, cwd=self.cwd)

    def json(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        r = self(*args, "--json", stdin=stdin)
        assert r.returncode == 0, f"hospes {' '.join(args)}: {r.stderr}"
        data = json.loads(r.stdout)  # the whole of stdout is one JSON object
        assert isinstance(data, dict), r.stdout
        return data

    def engine(self) -> Any:
        url = self.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return create_engine(url)


class InProcess(Hospes):
    """The same entry point (``hospes.cli.main``) in this process: a process start costs a second or two,
    and the tables of bad input below run it dozens of times. The subprocess tests cover the rest."""

    def __init__(self, database_url: str, tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
        super().__init__(database_url, tmp_path)
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        from hospes import cli

        with self.monkeypatch.context() as m:
            for key in [k for k in os.environ if k.startswith("HOSPES_")]:
                m.delenv(key)
            for key, value in {**self.env, **(env or {})}.items():
                if key.startswith("HOSPES_"):
                    m.setenv(key, value)
            m.chdir(self.cwd)
            m.setattr(sys, "argv", ["hospes", *args])
            m.setattr(sys, "stdin", io.StringIO(stdin or ""))
            self.capsys.readouterr()
            with pytest.raises(SystemExit) as exited:
                cli.main()
            out = self.capsys.readouterr()
        code = exited.value.code
        return subprocess.CompletedProcess(list(args), code if isinstance(code, int) else 1, out.out, out.err)


@pytest.fixture
def hospes(database_url: str, tmp_path: Path) -> Hospes:
    return Hospes(database_url, tmp_path)


@pytest.fixture
def hospes_here(database_url: str, tmp_path: Path, monkeypatch: Any, capsys: Any) -> Hospes:
    return InProcess(database_url, tmp_path, monkeypatch, capsys)


def assert_one_line_error(r: subprocess.CompletedProcess[str], expected: str = "") -> str:
    """One line on stderr; under --json, also the one JSON error object on stdout, with the same message."""
    assert r.returncode != 0, f"exit 0 on bad input:\n{r.stdout}"
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{r.stderr}"
    assert expected in lines[0], lines[0]
    if "--json" in r.args:
        error = json.loads(r.stdout)
        assert set(error) == {"error", "message"} and error["error"] in ("usage", "invalid_input"), error
        assert lines[0] == f"error: {error['message']}"
        assert (error["error"] == "usage") == (r.returncode == 2), (error, r.returncode)
    else:
        assert r.stdout.strip() == "", f"something printed on stdout: {r.stdout!r}"
    return lines[0]


# -- --json on every creating command -----------------------------------------------------------------


def test_creating_commands_print_json_objects(hospes):
    admin = hospes.json("admins", "add", "--username", "admin", "--email", "admin@example.com",
                        "--password-stdin", stdin=PASSWORD + "\n")
    assert isinstance(admin["adminId"], int) and admin["username"] == "admin"

    client = hospes.json("clients", "add", "--email", "jane@example.com", "--first-name", "Jane",
                         "--last-name", "Doe", "--password", PASSWORD, "--company", "Doe Ltd")
    assert isinstance(client["clientId"], int) and isinstance(client["userId"], int)

    service = hospes.json("services", "add", "--client-id", str(client["clientId"]), "--product", "Shared Hosting",
                          "--domain", "jane.example.com")
    assert isinstance(service["serviceId"], int)

    code = hospes.json("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                       "openid profile email", "--name", "Test RP", "--redirect-uri", "https://rp.example.com/cb")
    assert isinstance(code["credentialId"], int)
    assert code["clientIdentifier"] and len(code["clientSecret"]) >= 32

    sso = hospes.json("oauth-credentials", "create", "--grant-type", "single_sign_on", "--scope",
                      "clientarea:sso", "--service-id", str(service["serviceId"]))
    assert sso["clientSecret"] and sso["clientIdentifier"] != code["clientIdentifier"]

    public = hospes.json("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", "openid",
                         "--name", "Native App", "--redirect-uri", "com.example.app:/cb", "--public")
    assert public["clientSecret"] == ""

    reset = hospes.json("oauth-credentials", "update", "--credential-id", str(code["credentialId"]),
                        "--reset-secret")
    assert reset["credentialId"] == code["credentialId"]
    assert reset["newClientSecret"] and reset["newClientSecret"] != code["clientSecret"]

    renamed = hospes.json("oauth-credentials", "update", "--client-identifier", code["clientIdentifier"],
                          "--name", "Renamed RP")
    assert renamed == {"credentialId": code["credentialId"]}

    r = hospes("oauth-credentials", "list", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    by_id = {c["credentialId"]: c for c in listed["clients"]}
    assert set(by_id) == {code["credentialId"], sso["credentialId"], public["credentialId"]}
    assert by_id[code["credentialId"]]["name"] == "Renamed RP"
    assert by_id[code["credentialId"]]["redirectUri"] == ["https://rp.example.com/cb"]
    assert by_id[sso["credentialId"]]["grantTypes"] == "single_sign_on"
    assert by_id[sso["credentialId"]]["serviceId"] == service["serviceId"]
    # Secrets are shown once, at creation or reset, and never listed.
    for secret in (code["clientSecret"], reset["newClientSecret"], sso["clientSecret"]):
        assert secret not in r.stdout
    assert all(c["clientSecret"] == "" for c in listed["clients"])

    deleted = hospes.json("oauth-credentials", "delete", "--credential-id", str(public["credentialId"]))
    assert deleted == {"credentialId": public["credentialId"]}
    after = {c["credentialId"] for c in hospes.json("oauth-credentials", "list")["clients"]}
    assert after == {code["credentialId"], sso["credentialId"]}


def test_password_stdin_stores_the_password_as_given(hospes):
    client_pw = "  spaces inside and around  "
    admin_pw = "another-long-passphrase"
    client = hospes.json("clients", "add", "--email", "stdin@example.com", "--first-name", "Sam",
                         "--last-name", "Stdin", "--password-stdin", stdin=client_pw + "\n")
    hospes.json("admins", "add", "--username", "ops", "--email", "ops@example.com", "--password-stdin",
                stdin=admin_pw + "\r\n")
    engine = hospes.engine()
    try:
        with engine.connect() as c:
            user_hash = c.execute(select(User.password_hash).where(User.id == client["userId"])).scalar_one()
            admin_hash = c.execute(select(Admin.password_hash).where(Admin.username == "ops")).scalar_one()
    finally:
        engine.dispose()
    assert verify_password(client_pw, user_hash)
    assert not verify_password(client_pw.strip(), user_hash)
    assert verify_password(admin_pw, admin_hash)
    assert client_pw not in user_hash and admin_pw not in admin_hash


def test_credentials_of_several_grant_types_and_their_keys(hospes_here, tmp_path):
    from joserfc.jwk import ECKey

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}))
    machine = hospes_here.json("oauth-credentials", "create", "--grant-type", "client_credentials", "--grant-type",
                               "authorization_code", "--scope", "openid", "--name", "Billing",
                               "--token-endpoint-auth-method", "private_key_jwt", "--jwks", str(jwks),
                               "--dpop-bound", "--require-par")
    assert machine["clientSecret"] == ""
    signed = hospes_here.json("oauth-credentials", "create", "--grant-type", "client_credentials", "--scope",
                              "openid", "--token-endpoint-auth-method", "client_secret_jwt")
    assert signed["clientSecret"]
    moved = hospes_here.json("oauth-credentials", "update", "--credential-id", str(machine["credentialId"]),
                             "--token-endpoint-auth-method", "client_secret_basic", "--no-dpop-bound",
                             "--grant-type", "client_credentials")
    assert moved["newClientSecret"]  # a secret method needs a secret: given once
    listed = {c["credentialId"]: c for c in hospes_here.json("oauth-credentials", "list")["clients"]}
    row = listed[machine["credentialId"]]
    assert row["grantTypes"] == "client_credentials" and row["tokenEndpointAuthMethod"] == "client_secret_basic"
    assert row["dpopBound"] is False and row["requirePar"] is True and row["jwks"]["keys"]
    assert listed[signed["credentialId"]]["tokenEndpointAuthMethod"] == "client_secret_jwt"


def test_clients_add_email_verified_marks_the_owners_address_verified(hospes_here):
    vouched = hospes_here.json("clients", "add", "--email", "known@example.com", "--first-name", "Kim",
                               "--last-name", "Known", "--password", PASSWORD, "--email-verified")
    plain = hospes_here.json("clients", "add", "--email", "unknown@example.com", "--first-name", "Uma",
                             "--last-name", "Unknown", "--password", PASSWORD)
    engine = hospes_here.engine()
    try:
        with engine.connect() as c:
            rows = dict(c.execute(select(User.id, User.email_verified)).all())
    finally:
        engine.dispose()
    assert rows == {vouched["userId"]: True, plain["userId"]: False}


def test_test_data_commands_fill_an_account_a_customer_sees(hospes_here):
    """hospes domains add, invoices add and users invite: what an operator adds is what the account holds."""
    owner = hospes_here.json("clients", "add", "--email", "owner@example.com", "--first-name", "Olga",
                             "--last-name", "Owner", "--password", PASSWORD)
    cid = str(owner["clientId"])
    dom = hospes_here.json("domains", "add", "--client-id", cid, "--domain", "Olga.Example.", "--expires",
                           "2027-03-01")
    idn = hospes_here.json("domains", "add", "--client-id", cid, "--domain", "bücher.example", "--status", "Expired")
    inv = hospes_here.json("invoices", "add", "--client-id", cid, "--total", "12.5", "--currency", "eur", "--due",
                           "2026-12-31")
    paid = hospes_here.json("invoices", "add", "--client-id", cid, "--total", "3", "--status", "Paid")
    invited = hospes_here.json("users", "invite", "--client-id", cid, "--email", "ivan@example.com",
                               "--first-name", "Ivan", "--last-name", "Invited", "--password-stdin",
                               "--permission", "invoices", "--permission", "products", stdin=PASSWORD + "\n")
    # An address that already has a user links that user and prints the same id.
    second = hospes_here.json("clients", "add", "--email", "other@example.com", "--first-name", "Otto",
                              "--last-name", "Other", "--password", PASSWORD)
    linked = hospes_here.json("users", "invite", "--client-id", str(second["clientId"]), "--email",
                              "IVAN@example.com", "--first-name", "X", "--last-name", "Y", "--password", "ignored!!!")
    assert linked["userId"] == invited["userId"]
    engine = hospes_here.engine()
    try:
        with engine.connect() as c:
            domains = {r.id: (r.domain, r.status, str(r.expires_on)) for r in c.execute(select(Domain))}
            invoices = {r.id: (r.total, r.currency, r.status, str(r.due_on)) for r in c.execute(select(Invoice))}
            links = {(r.client_id, r.role, tuple(r.permissions)) for r in
                     c.execute(select(UserClient).where(UserClient.user_id == invited["userId"]))}
            ivan = c.execute(select(User.first_name, User.password_hash).where(User.id == invited["userId"])).one()
    finally:
        engine.dispose()
    assert domains == {dom["domainId"]: ("olga.example", "Active", "2027-03-01"),
                       idn["domainId"]: ("xn--bcher-kva.example", "Expired", "None")}
    assert invoices == {inv["invoiceId"]: ("12.50", "EUR", "Unpaid", "2026-12-31"),
                        paid["invoiceId"]: ("3.00", "USD", "Paid", "None")}
    # Permissions in WHMCS's order, whatever order they were given in.
    assert links == {(owner["clientId"], "invited", ("products", "invoices")),
                     (second["clientId"], "invited", ())}
    # Linking changed neither the name nor the password of the person who already existed.
    assert ivan.first_name == "Ivan" and verify_password(PASSWORD, ivan.password_hash)


# -- bad input: non-zero, one line, no traceback ---------------------------------------------------------

CLIENT = ("clients", "add", "--email", "jane@example.com", "--first-name", "Jane", "--last-name", "Doe",
          "--password", PASSWORD)
CRED = ("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", "openid",
        "--name", "RP", "--redirect-uri", "https://rp.example.com/cb")


def cred_with(*changes: str) -> tuple[str, ...]:
    """CRED with some options replaced (--opt value pairs)."""
    args = list(CRED)
    pairs = list(zip(changes[::2], changes[1::2], strict=True))
    for opt, value in pairs:
        if opt in args:
            args[args.index(opt) + 1] = value
        else:
            args += [opt, value]
    return tuple(args)


BAD_INPUT: list[tuple[str, list[tuple[str, ...]], tuple[str, ...], str]] = [
    ("duplicate email", [CLIENT], CLIENT, "already exists"),
    ("duplicate email, other case", [CLIENT],
     ("clients", "add", "--email", "JANE@EXAMPLE.COM", "--first-name", "J", "--last-name", "D", "--password",
      PASSWORD), "already exists"),
    ("bad email", [], ("clients", "add", "--email", "not-an-email", "--first-name", "J", "--last-name", "D",
                       "--password", PASSWORD), "not a valid email address"),
    ("weak password", [], ("clients", "add", "--email", "a@example.com", "--first-name", "J", "--last-name", "D",
                           "--password", "short"), "at least"),
    ("weak admin password", [], ("admins", "add", "--username", "root", "--email", "r@example.com",
                                 "--password", "1234"), "at least"),
    ("empty password on stdin", [], ("clients", "add", "--email", "a@example.com", "--first-name", "J",
                                     "--last-name", "D", "--password-stdin"), "password"),
    ("both password options", [], ("clients", "add", "--email", "a@example.com", "--first-name", "J",
                                   "--last-name", "D", "--password", PASSWORD, "--password-stdin"), "password"),
    ("no password", [], ("clients", "add", "--email", "a@example.com", "--first-name", "J", "--last-name", "D"),
     "password"),
    ("missing option", [], ("clients", "add", "--email", "a@example.com", "--password", PASSWORD), "--first-name"),
    ("unknown option", [], (*CLIENT, "--bogus"), "--bogus"),
    ("not a number", [], ("services", "add", "--client-id", "abc", "--product", "Hosting"), "--client-id"),
    ("unknown client", [], ("services", "add", "--client-id", "999", "--product", "Hosting"), "999"),
    ("unknown permission", [], ("admins", "add", "--username", "root", "--email", "r@example.com", "--password",
                                PASSWORD, "--permission", "Everything"), "Everything"),
    ("unknown grant type", [], cred_with("--grant-type", "x"), 'The requested grant type "x" is invalid.'),
    ("invalid scope", [], cred_with("--scope", "openid x"), 'The requested scope "x" is invalid.'),
    ("sso without service", [], ("oauth-credentials", "create", "--grant-type", "single_sign_on", "--scope",
                                 "clientarea:sso"), "A service ID is required for the single sign-on grant type."),
    ("sso with unknown service", [], ("oauth-credentials", "create", "--grant-type", "single_sign_on", "--scope",
                                      "clientarea:sso", "--service-id", "999"), "A valid Service ID is required."),
    ("no name", [], ("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", "openid"),
     "A name for the Client Credential is required."),
    ("http redirect to a public host", [], cred_with("--redirect-uri", "http://rp.example.com/cb"), "https"),
    ("relative redirect", [], cred_with("--redirect-uri", "/cb"), "absolute"),
    ("redirect with fragment", [], cred_with("--redirect-uri", "https://rp.example.com/cb#x"), "fragment"),
    ("javascript redirect", [], cred_with("--redirect-uri", "javascript:alert(1)"), "redirect URI"),
    ("wildcard redirect", [], cred_with("--redirect-uri", "https://*.example.com/cb"), "wildcard"),
    ("bad id token alg", [], cred_with("--id-token-alg", "HS256"), "RS256 or ES256"),
    ("unknown credential", [], ("oauth-credentials", "update", "--credential-id", "999", "--name", "x"),
     "Invalid Credential ID provided."),
    ("unknown identifier", [], ("oauth-credentials", "update", "--client-identifier", "NOPE.1", "--name", "x"),
     "Invalid Client Identifier provided."),
    ("delete unknown", [], ("oauth-credentials", "delete", "--credential-id", "999"),
     "Invalid Credential ID provided."),
    ("reset a public client's secret", [(*CRED, "--public")],
     ("oauth-credentials", "update", "--credential-id", "1", "--reset-secret"), "no secret"),
    ("update to a bad scope", [CRED], ("oauth-credentials", "update", "--credential-id", "1", "--scope", "nope"),
     'The requested scope "nope" is invalid.'),
    ("unknown command", [], ("frobnicate",), "frobnicate"),
    ("public machine client", [], ("oauth-credentials", "create", "--grant-type", "client_credentials", "--scope",
                                   "openid", "--public"), "may be public"),
    ("private_key_jwt without keys", [], cred_with("--token-endpoint-auth-method", "private_key_jwt"),
     "needs the client's public keys"),
    ("unknown auth method", [], cred_with("--token-endpoint-auth-method", "tls_client_auth"), "must be one of"),
    ("jwks file missing", [], cred_with("--jwks", "/nonexistent/jwks.json"), "cannot read the JWK Set file"),
    ("http jwks uri", [], cred_with("--jwks-uri", "http://rp.example.com/jwks"), "https"),
    ("control character in a name", [], cred_with("--name", "R\x01P"),
     "The name must not contain control characters (U+0001)."),
    ("C1 control in a first name", [], ("clients", "add", "--email", "a@example.com", "--first-name", "J\x85o",
                                        "--last-name", "D", "--password", PASSWORD),
     "First name must not contain control characters (U+0085)."),
    ("control character in a role name", [], ("api-roles", "create", "--name", "ops\x1b[2J", "--all-actions"),
     "The role name must not contain control characters (U+001B)."),
    ("client id beyond the column", [], ("services", "add", "--client-id", "99999999999999999999", "--product",
                                         "Hosting"), "not found"),
    ("credential id beyond the column", [], ("oauth-credentials", "update", "--credential-id",
                                             "99999999999999999999", "--name", "x"), "Invalid Credential ID provided."),
    ("api credential id beyond the column", [], ("api-credentials", "revoke", "--credential-id", "2147483648"),
     "No API credential 2147483648."),
    ("domain of an unknown client", [], ("domains", "add", "--client-id", "999", "--domain", "a.example"),
     "Client ID 999 not found."),
    ("not a domain name", [CLIENT], ("domains", "add", "--client-id", "1", "--domain", "not a domain"),
     "is not a domain name"),
    ("unknown domain status", [CLIENT], ("domains", "add", "--client-id", "1", "--domain", "a.example",
                                         "--status", "Parked"), "Status must be one of"),
    ("expiry not a date", [CLIENT], ("domains", "add", "--client-id", "1", "--domain", "a.example", "--expires",
                                     "31/12/2027"), "--expires must be a date written YYYY-MM-DD"),
    ("invoice total not a number", [CLIENT], ("invoices", "add", "--client-id", "1", "--total", "ten"),
     "is not an amount"),
    ("negative invoice total", [CLIENT], ("invoices", "add", "--client-id", "1", "--total", "-1"), "is not an amount"),
    ("invoice total in fractions of a cent", [CLIENT], ("invoices", "add", "--client-id", "1", "--total", "1.005"),
     "more than two decimal places"),
    ("bad currency", [CLIENT], ("invoices", "add", "--client-id", "1", "--total", "1", "--currency", "EURO"),
     "is not a currency code"),
    ("unknown invoice status", [CLIENT], ("invoices", "add", "--client-id", "1", "--total", "1", "--status",
                                          "Lost"), "Status must be one of"),
    ("unknown user permission", [CLIENT], ("users", "invite", "--client-id", "1", "--email", "i@example.com",
                                           "--first-name", "I", "--last-name", "J", "--password", PASSWORD,
                                           "--permission", "everything"), "Unknown permission 'everything'"),
    ("inviting the owner", [CLIENT], ("users", "invite", "--client-id", "1", "--email", CLIENT[3],
                                      "--first-name", "I", "--last-name", "J", "--password", PASSWORD),
     "already reaches client 1"),
]


@pytest.mark.parametrize(("setup", "command", "expected"), [case[1:] for case in BAD_INPUT],
                         ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_line_on_stderr(hospes_here, setup, command, expected):
    for step in setup:
        done = hospes_here(*step)
        assert done.returncode == 0, done.stderr
    r = hospes_here(*command, "--json", stdin="" if "--password-stdin" in command else None)
    assert_one_line_error(r, expected)


def test_bad_input_as_a_shell_sees_it(hospes):
    """A few of the cases above through a real process: exit status, stderr, nothing else."""
    assert hospes(*CLIENT).returncode == 0
    for command, expected in [
        (CLIENT, "already exists"),
        (cred_with("--grant-type", "x"), 'The requested grant type "x" is invalid.'),
        (("clients", "add", "--email", "a@example.com", "--password", PASSWORD), "--first-name"),
    ]:
        line = assert_one_line_error(hospes(*command, "--json"), expected)
        assert line.startswith("error: ")


def test_bad_input_changes_nothing(hospes):
    made = hospes.json(*CRED)
    assert_one_line_error(hospes("oauth-credentials", "update", "--credential-id", str(made["credentialId"]),
                                 "--name", "Changed", "--redirect-uri", "http://rp.example.com/cb"), "https")
    listed = hospes.json("oauth-credentials", "list")["clients"]
    assert [(c["name"], c["redirectUri"]) for c in listed] == [("RP", ["https://rp.example.com/cb"])]


# -- bad configuration: nothing starts half-configured -----------------------------------------------------

BAD_ENV = [
    ("HOSPES_ACCESS_TOKEN_TTL", "abc"),
    ("HOSPES_ISSUER", "http://example.com"),
    ("HOSPES_ISSUER", "ftp://127.0.0.1"),
    ("HOSPES_ISSUER", "https://example.com/?x=1"),
    ("HOSPES_AUTH_CODE_TTL", "601"),
    ("HOSPES_REFRESH_TOKEN_TTL", "0"),
    ("HOSPES_ID_TOKEN_TTL", "-5"),
    ("HOSPES_SSO_TOKEN_TTL", "soon"),
    ("HOSPES_DATABASE_URL", "mysql://root@localhost/whmcs"),
    ("HOSPES_SECRET_KEY", "too-short"),
    ("HOSPES_API_ALLOWED_IPS", "127.0.0.1,not-an-ip"),
    ("HOSPES_TRUSTED_PROXIES", "10.0.0.0/33"),
    ("HOSPES_API_ACCESS_KEY", "has spaces in it"),
]


def sqlite_file(database_url: str) -> Path | None:
    return Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite:///") else None


@pytest.mark.parametrize(("variable", "value"), BAD_ENV, ids=[f"{k}={v}" for k, v in BAD_ENV])
def test_bad_setting_stops_db_upgrade_with_one_line_naming_it(hospes_here, variable, value):
    r = hospes_here("db", "upgrade", env={variable: value})
    line = assert_one_line_error(r, variable)
    assert value not in line or variable != "HOSPES_SECRET_KEY"  # a secret is not echoed back
    if variable != "HOSPES_DATABASE_URL" and (db_file := sqlite_file(hospes_here.database_url)) is not None:
        assert not db_file.exists(), "the database was touched before the settings were checked"


@pytest.mark.parametrize(("variable", "value"), [("HOSPES_ACCESS_TOKEN_TTL", "abc"),
                                                 ("HOSPES_ISSUER", "http://example.com")])
def test_bad_setting_as_a_shell_sees_it(hospes, variable, value):
    line = assert_one_line_error(hospes("db", "upgrade", env={variable: value}), variable)
    assert line.startswith("error: ")


def test_bad_setting_in_the_config_file_names_the_variable(hospes, tmp_path):
    config = tmp_path / "hospes.toml"
    config.write_text('access_token_ttl = "abc"\n')
    assert_one_line_error(hospes("db", "upgrade", env={"HOSPES_CONFIG": str(config)}), "HOSPES_ACCESS_TOKEN_TTL")
    config.write_text("this is not toml = = =\n")
    assert_one_line_error(hospes("db", "upgrade", env={"HOSPES_CONFIG": str(config)}), "HOSPES_CONFIG")
    assert_one_line_error(hospes("db", "upgrade", env={"HOSPES_CONFIG": str(tmp_path / "missing.toml")}),
                          "HOSPES_CONFIG")
    # The environment wins over the file.
    config.write_text('access_token_ttl = "abc"\n')
    ok = hospes("db", "upgrade", env={"HOSPES_CONFIG": str(config), "HOSPES_ACCESS_TOKEN_TTL": "600"})
    assert ok.returncode == 0, ok.stderr


def test_bad_setting_stops_serve_before_it_listens(hospes):
    port = free_port()
    r = hospes("serve", "--port", str(port), env={"HOSPES_ISSUER": "http://example.com"}, timeout=30)
    assert_one_line_error(r, "HOSPES_ISSUER")


def test_good_settings_upgrade_the_database(hospes):
    r = hospes("db", "upgrade")
    assert r.returncode == 0, r.stderr
    if (db_file := sqlite_file(hospes.database_url)) is not None:
        assert db_file.exists()
    again = hospes("db", "upgrade")
    assert again.returncode == 0, again.stderr


# -- secrets on a running server -----------------------------------------------------------------------------


def _code(server: Any, user_email: str, client_id: str, verifier: str) -> str:
    url = (server.url + "/oauth/authorize.php?" + httpx.QueryParams({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": "openid email",
        "state": "st", "code_challenge": pkce.s256(verifier), "code_challenge_method": "S256"}).__str__())
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        r = authorize(browser, url, user_email, PASSWORD)
    assert r.status_code in (302, 303), r.text[:2000]
    q = query_of(r.headers["location"])
    assert q.get("state") == "st" and "code" in q, q
    return q["code"]


def _token(server: Any, code: str, verifier: str, client_id: str, secret: str, *, basic: bool) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    if basic:
        return httpx.post(server.url + "/oauth/token.php", data=data, auth=(client_id, secret), timeout=10)
    return httpx.post(server.url + "/oauth/token.php", data={**data, "client_id": client_id, "client_secret": secret},
                      timeout=10)


def test_reset_secret_takes_effect_at_once_and_delete_revokes(server):
    def cli_json(*args: str, stdin: str | None = None) -> dict[str, Any]:
        r = server.cli(*args, "--json", stdin=stdin)
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout))

    email = "reset@example.com"
    cli_json("clients", "add", "--email", email, "--first-name", "Rita", "--last-name", "Reset",
             "--password-stdin", stdin=PASSWORD + "\n")
    made = cli_json("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope",
                    "openid profile email offline_access", "--name", "Test RP", "--redirect-uri", REDIRECT_URI)
    client_id, old_secret = made["clientIdentifier"], made["clientSecret"]
    verifier = "v" * 60
    code = _code(server, email, client_id, verifier)  # the --password-stdin password logs in

    reset = cli_json("oauth-credentials", "update", "--credential-id", str(made["credentialId"]), "--reset-secret")
    new_secret = reset["newClientSecret"]
    assert new_secret != old_secret

    for basic in (True, False):
        r = _token(server, code, verifier, client_id, old_secret, basic=basic)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_client"
        if basic:
            assert r.headers["www-authenticate"].startswith("Basic")
    r = _token(server, code, verifier, client_id, new_secret, basic=True)
    assert r.status_code == 200, r.text
    access_token = r.json()["access_token"]
    assert httpx.get(server.url + "/oauth/userinfo.php", headers={"Authorization": "Bearer " + access_token},
                     timeout=10).json()["email"] == email

    # Deleting the credential ends what it was given, and its secret is worthless.
    cli_json("oauth-credentials", "delete", "--credential-id", str(made["credentialId"]))
    r = httpx.get(server.url + "/oauth/userinfo.php", headers={"Authorization": "Bearer " + access_token},
                  timeout=10)
    assert r.status_code == 401
    code_after = httpx.post(server.url + "/oauth/token.php", data={
        "grant_type": "refresh_token", "refresh_token": "x"}, auth=(client_id, new_secret), timeout=10)
    assert code_after.status_code == 401 and code_after.json()["error"] == "invalid_client"


@pytest.mark.skipif(backend() == "postgresql", reason="covers the SQLite default path only")
def test_default_database_lands_under_var(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSPES_") or k.startswith("HOSPES_TEST_")}
    r = subprocess.run([sys.executable, "-m", "hospes.cli", "db", "upgrade"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "var" / "hospes.db").exists()


def test_serve_refuses_to_start_without_the_secret_key_its_keys_were_sealed_under(hospes, db):
    """A database restored without its secret key: the signing keys (like the TOTP secrets) cannot be
    opened, and the server says so in one line instead of starting and failing every login."""
    sealed_under = {"HOSPES_SECRET_KEY": "the-original-secret-key-" + "a" * 24}
    assert hospes("keys", "rotate", env=sealed_under).returncode == 0
    r = hospes("serve", "--port", str(free_port()), env={"HOSPES_SECRET_KEY": "a-different-key-" + "b" * 32})
    assert_one_line_error(r, "cannot be decrypted with this secret key")
    # Nor does a rotation: it stops before retiring the keys that sign.
    r = hospes("keys", "rotate", env={"HOSPES_SECRET_KEY": "a-different-key-" + "b" * 32})
    assert_one_line_error(r, "cannot be decrypted with this secret key")
    listed = hospes("keys", "list", "--json", env=sealed_under)
    assert all(k["active"] for k in json.loads(listed.stdout)["keys"])


def test_backchannel_logout_uri_flag_on_create_and_update(hospes):
    made = hospes.json("oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", "openid",
                       "--name", "RP", "--redirect-uri", "https://rp.example.com/cb",
                       "--backchannel-logout-uri", "https://rp.example.com/bc-logout")
    [row] = hospes.json("oauth-credentials", "list")["clients"]
    assert row["backchannelLogoutUri"] == "https://rp.example.com/bc-logout"
    assert row["backchannelLogoutSessionRequired"] is False
    hospes.json("oauth-credentials", "update", "--credential-id", str(made["credentialId"]),
                "--backchannel-logout-session-required")
    assert hospes.json("oauth-credentials", "list")["clients"][0]["backchannelLogoutSessionRequired"] is True
    r = hospes("oauth-credentials", "update", "--credential-id", str(made["credentialId"]),
               "--backchannel-logout-uri", "http://rp.example.com/bc-logout")
    assert_one_line_error(r, "back-channel logout URI")
