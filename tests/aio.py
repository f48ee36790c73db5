"""Running a coroutine from a synchronous test.

Playwright's sync API (the browser tests' session-wide browser) keeps an event loop marked as running on
the pytest worker's main thread, so a plain ``asyncio.run`` in any later test of that worker fails with
"cannot be called from a running event loop". Each coroutine here runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a fresh thread, whatever loop state earlier tests left on this one."""
    with ThreadPoolExecutor(1, thread_name_prefix="test-aio") as pool:
        return pool.submit(asyncio.run, coro).result()
