"""Tests run coroutines with tests/aio.run, never asyncio.run: a browser test's Playwright keeps an event loop
marked as running on the pytest worker's thread, and asyncio.run fails in every later test of that worker."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_test_calls_asyncio_run_directly() -> None:
    offenders = [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py")
                 if path.name != "aio.py" and path != Path(__file__).resolve()
                 and "asyncio.run(" in path.read_text(encoding="utf-8")]
    assert not offenders, f"use tests.aio.run instead of asyncio.run in: {offenders}"
