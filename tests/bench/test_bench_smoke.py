"""A smoke run of `make bench` (bench/run.py --quick): the harness starts Hospes, drives every operation
with a tiny load, and writes its table and JSON. The figures are not asserted; that every operation ran
without an error is."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ["discovery", "JWKS", "userinfo", "introspection", "token: single_sign_on", "token: code exchange",
              "token: refresh (rotating)", "full login flow"]


@pytest.mark.skipif(os.environ.get("HOSPES_TEST_BACKEND") == "postgresql",
                    reason="the smoke run uses its own SQLite database; once per suite is enough")
def test_bench_quick_run(tmp_path: Path):
    if not shutil.which("wrk") and os.geteuid() != 0:
        pytest.skip("wrk is not installed and cannot be installed without root")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--no-peer",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "operation" in out.stdout and "hospes-sqlite req/s" in out.stdout
    report = json.loads((tmp_path / "quick.json").read_text())
    results = report["hospes-sqlite"]["results"]
    for op in OPERATIONS:
        assert results[op]["rps"] > 0, (op, results[op])
        assert results[op]["errors"] == 0, (op, results[op])
    assert report["hospes-sqlite"]["rss_mb"] > 0
    assert report["password_hash"]["ms_per_verify"] > 0
