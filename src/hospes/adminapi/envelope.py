"""WHMCS's response envelope: ``result`` success|error, ``message`` on errors; JSON or XML."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from hospes import __version__

RESPONSE_TYPES = ("json", "xml")


def _xml_value(name: str, value: Any, out: list[str]) -> None:
    tag = name if name and (name[0].isalpha() or name[0] == "_") else f"item{name}"
    if isinstance(value, dict):
        out.append(f"<{tag}>")
        for k, v in value.items():
            _xml_value(str(k), v, out)
        out.append(f"</{tag}>")
    elif isinstance(value, list):
        # WHMCS repeats the element for each item of a list.
        for item in value:
            _xml_value(tag, item, out)
        if not value:
            out.append(f"<{tag}></{tag}>")
    elif isinstance(value, bool):
        out.append(f"<{tag}>{'true' if value else 'false'}</{tag}>")
    elif value is None:
        out.append(f"<{tag}></{tag}>")
    else:
        out.append(f"<{tag}>{escape(str(value))}</{tag}>")


def render(body: dict[str, Any], responsetype: str) -> tuple[bytes, str]:
    if responsetype == "xml":
        out = ['<?xml version="1.0" encoding="utf-8"?>', f'<whmcsapi version="{escape(__version__)}">']
        for k, v in body.items():
            _xml_value(k, v, out)
        out.append("</whmcsapi>")
        return "".join(out).encode(), "application/xml"
    return json.dumps(body, separators=(",", ":")).encode(), "application/json"


def error(message: str) -> dict[str, Any]:
    return {"result": "error", "message": message}
