"""The company's own look: its logo, two colours, and (web/pages.py) a folder of templates that replace the
built-in ones. Read from the settings (config.py validates them through the functions here); docs/BRANDING.md
is the operator's guide.

The colours reach the pages as CSS custom properties in a small stylesheet (``/brand.css``, linked from
base.html after style.css): the pages' Content-Security-Policy allows no inline style, and none is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PRIMARY = "#1d4ed8"
DEFAULT_ACCENT = "#f59e0b"
# The logo file types a browser and a mail client show; the type each is served with.
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp", ".gif": "image/gif"}
LOGO_MAX_BYTES = 1 << 20
# Where a logo file from the settings is served, below the issuer.
LOGO_PATH = "/brand/logo"
CSS_PATH = "/brand.css"

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:%|deg|turn|rad)?"
_FUNCTION = re.compile(
    rf"(?:rgb|rgba|hsl|hsla)\(\s*{_NUMBER}(?:\s*,\s*|\s+){_NUMBER}(?:\s*,\s*|\s+){_NUMBER}"
    rf"(?:\s*(?:,|/)\s*{_NUMBER})?\s*\)", re.IGNORECASE)


def css_colour(value: str) -> str:
    """A CSS colour as a setting may give it (CSS Color 4): #rgb, #rgba, #rrggbb, #rrggbbaa, or rgb()/rgba()/
    hsl()/hsla() with numbers. Anything else (a named colour, a var(), a stray ``;`` or ``}``) is refused, so
    nothing but a colour ever reaches the stylesheet."""
    v = value.strip()
    if not (_HEX.fullmatch(v) or _FUNCTION.fullmatch(v)):
        raise ValueError(f"{value!r} is not a CSS colour (#rrggbb, #rgb, rgb(…) or hsl(…))")
    return v


def _rgb(colour: str) -> tuple[float, float, float] | None:
    """The sRGB channels (0-1) of a hex or rgb() colour; None for hsl() (no contrast pick, see text_on)."""
    if colour.startswith("#"):
        h = colour[1:]
        if len(h) in (3, 4):
            h = "".join(c * 2 for c in h[:3])
        return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    if colour.lower().startswith("rgb"):
        parts = re.findall(_NUMBER, colour)[:3]
        return tuple(float(p[:-1]) / 100 if p.endswith("%") else float(p) / 255 for p in parts)  # type: ignore[return-value]
    return None


def _luminance(rgb: tuple[float, float, float]) -> float:
    # WCAG 2.2 relative luminance.
    def lin(c: float) -> float:
        c = min(max(c, 0.0), 1.0)
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float | None:
    """WCAG 2.2 contrast ratio of two colours (None when one is hsl())."""
    ra, rb = _rgb(a), _rgb(b)
    if ra is None or rb is None:
        return None
    la, lb = sorted((_luminance(ra), _luminance(rb)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black text, whichever reads better on ``background`` (buttons in the primary colour)."""
    white, black = "#ffffff", "#111827"
    on_white, on_black = contrast(background, white), contrast(background, black)
    if on_white is None or on_black is None:
        return white
    return white if on_white >= on_black else black


class Logo(NamedTuple):
    """A logo: ``url`` as pages link it (absolute, or a path below the issuer); ``file`` when Hospes serves it."""
    url: str
    file: Path | None


def logo(value: str | None) -> Logo | None:
    """HOSPES_LOGO: an http(s) URL shown as it is, or a local image file (PNG, SVG, JPEG, WebP, GIF; up to
    1 MiB) that Hospes serves at ``/brand/logo.<ext>``."""
    if not value or not value.strip():
        return None
    v = value.strip()
    parts = urlsplit(v)
    if parts.scheme in ("http", "https"):
        if not parts.hostname or any(c in v for c in " \"'<>\\"):
            raise ValueError("must be an absolute http(s) URL or an image file")
        return Logo(v, None)
    path = Path(v).expanduser()
    suffix = path.suffix.lower()
    if suffix not in LOGO_TYPES:
        raise ValueError(f"must be an http(s) URL or an image file ({', '.join(LOGO_TYPES)})")
    if not path.is_file():
        raise ValueError(f"{v} is not a file")
    if path.stat().st_size > LOGO_MAX_BYTES:
        raise ValueError(f"{v} is larger than 1 MiB")
    return Logo(LOGO_PATH + suffix, path.resolve())


def stylesheet(primary: str, accent: str) -> str:
    """The custom properties style.css reads (``--brand``, ``--brand-contrast``, ``--focus``)."""
    return (f":root {{\n  --brand: {primary};\n  --brand-contrast: {text_on(primary)};\n"
            f"  --focus: {accent};\n}}\n")
