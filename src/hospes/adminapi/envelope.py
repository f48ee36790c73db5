"""WHMCS's response envelope: ``result`` success|error, ``message`` on errors; JSON or XML."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

from hospes import __version__

RESPONSE_TYPES = ("json", "xml")
# What XML 1.0 cannot carry, even escaped (https://www.w3.org/TR/xml/#charsets): C0 controls but tab and line
# breaks, lone surrogates, U+FFFE and U+FFFF. Rows stored before input refused control characters may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    """Character data for any stored text: escaped (a carriage return too, which parsers would fold into a line
    feed), and what XML cannot carry shown as U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", value), {"\r": "&#13;"})


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
        out.append(f"<{tag}>{_text(str(value))}</{tag}>")


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
