"""A short soak (bench/soak.py) with lifetimes of seconds: logins, exchanges, refreshes and revocations for
35 s against the real server, whose own purge keeps every table at what the last seconds made."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_tables_stay_flat_under_a_short_soak(database_url, tmp_path):
    spec = importlib.util.spec_from_file_location("hospes_soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = soak  # (dataclasses look their module up there)
    spec.loader.exec_module(soak)
    report = soak.soak(database_url, duration=35, threads=2, sample_every=2, workdir=tmp_path)
    assert not report.failures, report.failures[:3]
    assert report.logins > 20  # enough generations of every row to see growth
    assert report.flat == dict.fromkeys(soak.TABLES, True), report.as_dict()
    # Far fewer rows kept than made: the purge deleted the rest.
    last = report.samples[-1][2]
    assert last["access_tokens"] < soak.PER_LOGIN["access_tokens"] * report.logins / 2
