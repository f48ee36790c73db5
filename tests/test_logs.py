"""hospes/logs.py: which proxy request ids are kept, the JSON form of a record (an error by its type and frames,
the request id), and the settings that choose the form and the audit retention."""

from __future__ import annotations

import json
import logging
import re

import pytest

from hospes import logs
from hospes.config import ConfigError, load_settings


@pytest.mark.parametrize("value", [b"0123456789abcdef0123456789abcdef", b"3f2504e0-4f89-11d3-9a0c-0305e82c3301",
                                   b"a", b"x" * 64, b"node1.req_42"])
def test_a_well_formed_proxy_request_id_is_kept(value):
    assert logs.accepted(value) == value.decode()


@pytest.mark.parametrize("value", [None, b"", b"x" * 65, b"has space", b"quote\"", b"new\nline", b"\xc3\xa9t\xc3\xa9",
                                   b"a/b", b"<script>"])
def test_anything_else_is_not(value):
    assert logs.accepted(value) is None


def test_a_record_is_one_json_line_with_the_request_id_and_an_error_by_its_type():
    formatter = logs.JsonFormatter()
    try:
        raise ValueError("the value was s3cr3t-token")
    except ValueError as exc:
        record = logging.LogRecord("hospes.web", logging.ERROR, __file__, 1, "GET /x failed: %s", ("ValueError",),
                                   (type(exc), exc, exc.__traceback__))
    bound = logs.bind("req-1")
    try:
        line = formatter.format(record)
    finally:
        logs.unbind(bound)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "error" and out["logger"] == "hospes.web" and out["message"] == "GET /x failed: ValueError"
    assert out["request_id"] == "req-1" and out["error_type"] == "ValueError"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", out["time"]), out["time"]
    assert out["traceback"] and all(" in " in frame for frame in out["traceback"])
    assert "s3cr3t" not in line  # the exception's values are not written, only its type and frames
    assert logs.request_id() is None
    access = logging.LogRecord("hospes.access", logging.INFO, __file__, 1, "GET / 200", (), None)
    access.fields = {"method": "GET", "status": 200}
    assert json.loads(formatter.format(access))["status"] == 200


def test_the_settings_are_checked():
    assert load_settings().log_format == "text" and load_settings(log_format="JSON").log_format == "json"
    with pytest.raises(ConfigError, match="HOSPES_LOG_FORMAT: must be text or json"):
        load_settings(log_format="xml")
    assert load_settings().audit_retention_days == 365
    assert load_settings(audit_retention_days=0).audit_retention is None
    with pytest.raises(ConfigError, match="HOSPES_AUDIT_RETENTION_DAYS"):
        load_settings(audit_retention_days=-1)
    assert load_settings(log_format="json").request_log and not load_settings().request_log
