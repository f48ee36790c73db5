"""The generic provisioning module: delivers application-link credentials and links to a URL set
per server, as a JSON body signed with HMAC-SHA256 (header ``X-Hospes-Signature: sha256=<hex>`` over
``<timestamp>.<body>``, timestamp in ``X-Hospes-Timestamp``), so the receiver can check who sent it
and refuse replays. Server settings: ``url`` (required; https, since the body carries single_sign_on
client secrets: plain http only to a loopback address) and ``secret`` (required, the HMAC key)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import time
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import httpx

from hospes.sso.modules import AppLinkParams

TIMEOUT = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def url_problem(url: str) -> str | None:
    """Why ``url`` may not receive single_sign_on secrets, or None. https (RFC 9700 §4.13 asks TLS for
    anything carrying credentials); http only to this machine (127.0.0.0/8, ::1, localhost)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "the webhook URL is not a URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return None
        return "the webhook URL must use https (plain http only to a loopback address): it carries client secrets"
    return "the webhook URL must be an https URL"


class WebhookModule:
    name = "webhook"
    description = ("Delivers single sign-on credentials and client-area links to each server as a signed "
                   "JSON webhook, for control panels and portals that accept one.")

    def check_config(self, config: dict[str, str]) -> list[str]:
        """What is wrong with a server's settings; empty when nothing is."""
        url = config.get("url", "")
        if not url:
            return ["no webhook URL is set (server setting 'url')"]
        problems = [p] if (p := url_problem(url)) else []
        if not config.get("secret"):
            problems.append("no webhook secret is set (server setting 'secret')")
        return problems

    def _send(self, params: AppLinkParams, event: str, payload: dict[str, Any]) -> list[str]:
        # Checked again here: a server saved before the rule, or changed in the database since.
        problems = self.check_config(params.server_config)
        if problems:
            return [f"Server {params.server_name}: {p}." for p in problems]
        url, secret = params.server_config["url"], params.server_config["secret"]
        body = json.dumps({"event": event, **payload}, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Hospes-Event": event, "X-Hospes-Timestamp": ts,
                   "X-Hospes-Signature": sign(secret, ts, body)}
        try:
            r = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT, follow_redirects=False)
        except httpx.HTTPError as exc:
            return [f"Server {params.server_name}: webhook delivery failed: {type(exc).__name__}"]
        if not 200 <= r.status_code < 300:
            return [f"Server {params.server_name}: webhook answered HTTP {r.status_code}"]
        return []

    def create_application_link(self, params: AppLinkParams) -> list[str]:
        return self._send(params, "application_link.create", {
            "system_url": params.system_url,
            "token_endpoint": params.token_endpoint,
            "server": {"id": params.server_id, "name": params.server_name, "hostname": params.server_hostname},
            "credentials": [asdict(c) for c in params.credentials],
            "links": [asdict(link) for link in params.links],
        })

    def delete_application_link(self, params: AppLinkParams) -> list[str]:
        return self._send(params, "application_link.delete", {
            "system_url": params.system_url,
            "server": {"id": params.server_id, "name": params.server_name, "hostname": params.server_hostname},
            "credentials": [{"service_id": c.service_id, "client_identifier": c.client_identifier}
                            for c in params.credentials],
        })
