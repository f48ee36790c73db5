"""The layers of docs/ARCHITECTURE.md hold: store <- oauth/accounts <- sso/adminapi <- web/cli, the protocol
core does not know the web framework, and nothing imports from a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hospes"
# The top-level modules every layer may use: plain values and helpers that import no layer at all (i18n.py,
# the language; templating.py, the Jinja environment of pages and mails; branding.py, the company's look).
BASE = {"config", "clock", "secrets", "sealing", "metrics", "logs", "i18n", "templating", "branding"}
# audit.py and mail.py write through the store beside accounts/; workers.py runs the server processes for
# cli/; app.py builds the whole application and so stands above everything.
LAYER = {"store": 0, "oauth": 1, "accounts": 1, "audit": 1, "mail": 1, "sso": 2, "adminapi": 2, "api": 2, "web": 3,
         "cli": 3, "workers": 3, "app": 4}
FRAMEWORKS = ("starlette", "uvicorn")


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def _part(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return rel[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_every_module_has_a_layer() -> None:
    assert {_part(p) for p in _modules()} - {"__init__"} <= set(LAYER) | BASE


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_from_a_layer_above(path: Path) -> None:
    own = _part(path)
    level = LAYER.get(own, -1)
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] in FRAMEWORKS:
            assert level >= LAYER["web"], f"{path.name} imports {name}: only web/ and cli/ know the framework"
        if parts[0] != "hospes" or len(parts) < 2:
            continue
        target = parts[1]
        if target in BASE:
            continue
        assert own not in BASE, f"{path.relative_to(SRC)} imports {name}: it must import no layer"
        assert LAYER[target] <= level, f"{path.relative_to(SRC)} imports {name}, a layer above its own"
