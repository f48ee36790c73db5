"""The generic provisioning module: delivers application-link credentials and links to a URL set
per server, as a JSON body signed with HMAC-SHA256 (header ``X-Hospes-Signature: sha256=<hex>`` over
``<timestamp>.<body>``, timestamp in ``X-Hospes-Timestamp``), so the receiver can check who sent it
and refuse replays. Server settings: ``url`` (required) and ``secret`` (required, the HMAC key)."""

from __future__ import annotations

import hashlib
import hmac
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


class WebhookModule:
    name = "webhook"
    description = ("Delivers single sign-on credentials and client-area links to each server as a signed "
                   "JSON webhook, for control panels and portals that accept one.")

    def _send(self, params: AppLinkParams, event: str, payload: dict[str, Any]) -> list[str]:
        url = params.server_config.get("url", "")
        secret = params.server_config.get("secret", "")
        if not url or urlsplit(url).scheme not in ("http", "https"):
            return [f"Server {params.server_name}: no webhook URL is set (server setting 'url')."]
        if not secret:
            return [f"Server {params.server_name}: no webhook secret is set (server setting 'secret')."]
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
