"""Hospes behind nginx with TLS, configured as docs/DEPLOYING.md says: Debian's nginx runs docs/deploy/nginx.conf
(its ports and certificate paths replaced) with a certificate from a CA made here, in front of ``hospes serve``
with an https issuer and HOSPES_TRUSTED_PROXIES. A relying party and a person run a whole flow through it, and
Hospes must see the person's address (the one nginx saw), never one a client wrote in X-Forwarded-For."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from bs4 import BeautifulSoup

from tests.browserless import authorize, query_of
from tests.conftest import Server, free_port, stop_server
from tests.e2e import REDIRECT_URI, add_user, cli_json, verify_id_token
from tests.tls import make_certificates

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
DOCS = Path(__file__).resolve().parents[2] / "docs"
SITE = DOCS / "deploy" / "nginx.conf"
# Loopback has all of 127.0.0.0/8: the person connects to nginx from one address, an outsider reaches Hospes
# directly from another; nginx itself reaches Hospes from 127.0.0.1, the only trusted proxy.
PERSON = "127.0.0.3"
OUTSIDER = "127.0.0.2"
SCOPE = "openid profile email services:read"

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)")


def test_the_guide_shows_the_configuration_this_test_runs() -> None:
    guide = (DOCS / "DEPLOYING.md").read_text()
    blocks = [b.split("\n", 1)[1] for b in guide.split("```nginx")[1:]]
    assert [b.split("```", 1)[0] for b in blocks] == [SITE.read_text()]


def replace_once(text: str, old: str, new: str) -> str:
    """The documented line, replaced; the test fails if the document no longer has it exactly once."""
    assert text.count(old) == 1, f"docs/deploy/nginx.conf no longer has {old!r} once"
    return text.replace(old, new)


def site_config(https_port: int, http_port: int, hospes_port: int, cert: Path, key: Path) -> str:
    site = SITE.read_text()
    site = replace_once(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = replace_once(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = replace_once(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{hospes_port};")
    site = replace_once(site, "/etc/letsencrypt/live/billing.example.com/fullchain.pem", str(cert))
    return replace_once(site, "/etc/letsencrypt/live/billing.example.com/privkey.pem", str(key))


def main_config(prefix: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives the site, with every path in the test's own folder."""
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                             "uwsgi", "scgi"))
    return (f"daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    access_log {prefix / 'access.log'};\n{temp}\n    include {site};\n}}\n")


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, **kw: Any) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(url, timeout=1, **kw).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{url} did not answer:\n" + log.read_text())
        time.sleep(0.1)


class Deployment:
    def __init__(self, hospes: Server, url: str, http_url: str, ca: Path, hospes_direct: str) -> None:
        self.hospes, self.url, self.http_url, self.ca, self.direct = hospes, url, http_url, ca, hospes_direct


@pytest.fixture
def deployment(database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    assert NGINX is not None
    ca, cert, key = make_certificates(tmp_path)
    https_port, http_port, hospes_port = free_port(), free_port(), free_port()
    issuer = f"https://127.0.0.1:{https_port}"
    env = {**os.environ, "HOSPES_ISSUER": issuer, "HOSPES_DATABASE_URL": database_url,
           "HOSPES_VAR_DIR": str(tmp_path / "var"), "HOSPES_TRUSTED_PROXIES": "127.0.0.1"}
    env.pop("HOSPES_CONFIG", None)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        hospes = subprocess.Popen([sys.executable, "-m", "hospes.cli", "serve", "--host", "127.0.0.1",
                                   "--port", str(hospes_port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                  cwd=tmp_path)
    server = Server(issuer, env, hospes, log)
    direct = f"http://127.0.0.1:{hospes_port}"
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    site = prefix / "hospes.conf"
    site.write_text(site_config(https_port, http_port, hospes_port, cert, key))
    (prefix / "nginx.conf").write_text(main_config(prefix, site))
    nginx_log = prefix / "stderr.log"
    try:
        wait_for(direct + "/healthz", hospes, log)
        with open(nginx_log, "wb") as out:
            nginx = subprocess.Popen([NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"),
                                      "-c", str(prefix / "nginx.conf")], stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(issuer + "/readyz", nginx, nginx_log, verify=trusting(ca))
            yield Deployment(server, issuer, f"http://127.0.0.1:{http_port}", ca, direct)
        finally:
            nginx.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                nginx.wait(30)
            except subprocess.TimeoutExpired:
                nginx.kill()
    finally:
        stop_server(server)


def trusting(ca: Path) -> ssl.SSLContext:
    """What a client that trusts the deployment's CA verifies with (``verify=``)."""
    return ssl.create_default_context(cafile=str(ca))


def from_address(address: str, ca: Path | None = None, **kw: Any) -> httpx.Client:
    """A client whose connections leave from ``address`` (a loopback address other than 127.0.0.1)."""
    verify: ssl.SSLContext | bool = trusting(ca) if ca else True
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address, verify=verify), timeout=10, **kw)


def api_refusal(client: httpx.Client, url: str, forged: str) -> str:
    """The admin API's refusal names the address Hospes believed (WHMCS's "Invalid IP <address>")."""
    r = client.post(url + "/includes/api.php", data={"action": "GetClients"}, headers={"X-Forwarded-For": forged})
    assert r.status_code == 403, r.text
    return str(r.json()["message"])


@needs_nginx
def test_a_whole_flow_through_nginx_with_tls(deployment: Deployment) -> None:
    d = deployment
    ca = trusting(d.ca)
    # Discovery: every endpoint https, on the proxy's host and port.
    meta = httpx.get(d.url + "/.well-known/openid-configuration", verify=ca, timeout=10).json()
    assert meta["issuer"] == d.url
    urls = {k: v for k, v in meta.items() if isinstance(v, str) and v.startswith(("http:", "https:"))}
    assert {"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"} <= set(urls)
    for name, url in urls.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", urlsplit(d.url).netloc), (name, url)
    # Plain http only redirects to https.
    r = httpx.get(d.http_url + "/oauth/authorize.php", timeout=10)
    assert r.status_code == 301 and r.headers["location"] == "https://127.0.0.1/oauth/authorize.php"

    jane = add_user(d.hospes, "Jane")
    cli_json(d.hospes, "services", "add", "--client-id", str(jane.client_id), "--product", "Shared Hosting")
    made = cli_json(d.hospes, "oauth-credentials", "create", "--grant-type", "authorization_code", "--scope", SCOPE,
                    "--name", "Status Board", "--redirect-uri", REDIRECT_URI)
    oauth = OAuth2Client(client_id=made["clientIdentifier"], client_secret=made["clientSecret"], scope=SCOPE,
                         redirect_uri=REDIRECT_URI, code_challenge_method="S256", timeout=10, verify=ca)
    verifier, nonce = "v" * 50, "n0nce"
    url, state = oauth.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)

    # The person's browser connects from PERSON and writes a forged X-Forwarded-For: nginx replaces it.
    with from_address(PERSON, d.ca, headers={"X-Forwarded-For": "203.0.113.9"}) as browser:
        r = browser.get(url)
        assert r.status_code == 200 and 'name="password"' in r.text
        hsts = r.headers.get_list("strict-transport-security")
        assert hsts == ["max-age=31536000; includeSubDomains"], hsts
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["server"] == "nginx"  # server_tokens off: no version
        r = authorize(browser, url, jane.email, jane.password)
        assert r.status_code in (302, 303), r.text[:2000]
        cookies = browser.cookies.jar
        assert list(cookies) and all(c.secure for c in cookies), [(c.name, c.secure) for c in cookies]
        location = r.headers["location"]
        assert query_of(location)["iss"] == d.url and query_of(location)["state"] == state

        token = oauth.fetch_token(meta["token_endpoint"], authorization_response=location, state=state,
                                  code_verifier=verifier)
        keys = httpx.get(meta["jwks_uri"], verify=ca, timeout=10).json()
        _, claims = verify_id_token(token["id_token"], meta, made["clientIdentifier"], nonce=nonce,
                                    access_token=token["access_token"], key_set=keys)
        info = oauth.get(meta["userinfo_endpoint"]).json()
        assert info["sub"] == claims["sub"] and info["email"] == jane.email
        services = oauth.get(d.url + "/api/v1/services")
        assert services.status_code == 200, services.text
        assert [s["product"] for s in services.json()["data"]] == ["Shared Hosting"]

        # Hospes saw the person's own address, the one nginx saw.
        page = browser.get(d.url + "/account/sessions")
        assert page.status_code == 200, page.text[:1000]
        rows = BeautifulSoup(page.text, "html.parser").select("#sessions tbody tr")
        assert [row.select("td")[0].get_text(strip=True) for row in rows] == [PERSON]
        # The admin API's address check: the allowed 127.0.0.1, forged through nginx, is not believed.
        assert api_refusal(browser, d.url, "127.0.0.1") == f"Invalid IP {PERSON}"

    # Straight to Hospes from an address that is not a trusted proxy: its X-Forwarded-For is not believed.
    with from_address(OUTSIDER) as outsider:
        assert api_refusal(outsider, d.direct, "127.0.0.1") == f"Invalid IP {OUTSIDER}"
    # From the trusted proxy's address it is (what makes the lines above mean something).
    with httpx.Client(timeout=10) as proxy:
        assert api_refusal(proxy, d.direct, "192.0.2.7") == "Invalid IP 192.0.2.7"
