"""``hospes`` commands and servers for the tests, as processes of their own forked from one that has imported
Hospes already.

A new Python process that imports Hospes spends most of its CPU importing (about 1.8 s for ``hospes serve``, 0.7 s
for a CLI command), and the suite starts hundreds of them: on a two-core machine that was most of its time. Here a
fork server per test process (the standard library's ``multiprocessing`` "forkserver", with Hospes preloaded) forks
each one instead. Each is still a process of its own, with its own environment, working directory, standard streams
and exit status, running ``hospes`` exactly as the command line does (``hospes.cli.main`` with its arguments): only
the interpreter's start and the imports are shared. Tests of the command as a shell starts it (the first minutes,
the documentation's examples) still start it from the shell.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# What the fork server imports once: the CLI, the application and what a start or a command loads.
PRELOAD = ["hospes.cli", "hospes.app", "hospes.workers", "hospes.web.server", "hospes.store.migrate",
           "hospes.oauth.keys", "hospes.accounts.service", "tests.processes"]

_context: Any = None


def _forkserver() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _main(args: list[str], env: dict[str, str], cwd: str, stdin: str, stdout: str, stderr: str) -> None:
    """In the forked process: the environment, directory and streams it was given, then ``hospes <args>``."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path, flags in ((0, stdin, os.O_RDONLY), (1, stdout, os.O_WRONLY | os.O_APPEND),
                            (2, stderr, os.O_WRONLY | os.O_APPEND)):
        opened = os.open(path, flags)
        os.dup2(opened, fd)
        os.close(opened)
    # multiprocessing gave the process /dev/null for input; line-buffered output, so a log reads as it is written.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["hospes", *args]
    from hospes.cli import main

    main()


class Forked:
    """A forked ``hospes`` process, as much of ``subprocess.Popen``'s interface as the tests use."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path | str, stdout: Path, stderr: Path | None = None,
                 stdin: Path | None = None) -> None:
        for path in (stdout, stderr):
            if path is not None:
                Path(path).touch()
        self._process = _forkserver().Process(
            target=_main, args=(list(args), dict(env), str(cwd), str(stdin or os.devnull), str(stdout),
                                str(stderr or stdout)), name="hospes")
        self._process.start()
        self.pid: int = self._process.pid
        self.args = args

    @property
    def returncode(self) -> int | None:
        code: int | None = self._process.exitcode
        return code

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["hospes", *self.args], timeout or 0)
        return int(self._process.exitcode)

    def send_signal(self, sig: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def run(args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60,
        cwd: Path | str | None = None) -> subprocess.CompletedProcess[str]:
    """``hospes <args>`` to its end, like ``subprocess.run(..., capture_output=True, text=True)``."""
    with tempfile.TemporaryDirectory(prefix="hospes-cli-") as tmp:
        out, err, given = Path(tmp) / "out", Path(tmp) / "err", Path(tmp) / "in"
        given.write_text(stdin or "")
        proc = Forked(args, env, cwd or tmp, out, err, given)
        deadline = time.monotonic() + timeout
        try:
            code = proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise
        return subprocess.CompletedProcess(["hospes", *args], code, out.read_text(), err.read_text())
