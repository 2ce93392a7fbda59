"""The test harness itself: CI fails what a laptop skips, servers get a clean environment,
and a port taken between choosing and binding it is retried."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests import servers
from tests.environment import running_in_ci, server_environment, skip_or_fail


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "yes", "on", "woodpecker"])
def test_any_truthy_ci_counts_as_ci(value):
    assert running_in_ci({"CI": value})


@pytest.mark.parametrize("value", [None, "", "0", "false", "False", "no"])
def test_an_unset_or_false_ci_does_not(value):
    assert not running_in_ci({} if value is None else {"CI": value})


@pytest.mark.parametrize("value", ["1", "true", "True"])
def test_a_missing_tool_fails_in_ci_naming_the_problem(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=f"CI={value} and chromium is missing"):
        skip_or_fail("chromium is missing")


def test_a_missing_tool_is_skipped_locally_with_the_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        skip_or_fail("chromium is missing")


def test_servers_get_none_of_the_developers_settings_one_worker_and_no_keys(monkeypatch):
    monkeypatch.setenv("STROKE_API_KEYS", "developers-own-key")
    monkeypatch.setenv("STROKE_RISK_BAND_THRESHOLDS", "0.2,0.3")
    monkeypatch.setenv("STROKE_WORKERS", "8")
    monkeypatch.setenv("STROKE_DATA", "/data/stroke.csv")
    env = server_environment(STROKE_MAX_BATCH_SIZE="5")
    stroke = {name: value for name, value in env.items() if name.startswith("STROKE_")}
    assert stroke == {
        "STROKE_DATA": "/data/stroke.csv",
        "STROKE_WORKERS": "1",
        "STROKE_ALLOW_ANONYMOUS": "true",  # loopback only; keyed servers get their keys
        "STROKE_SHUTDOWN_GRACE": "0",  # no load balancer to drain: stop at once
        "STROKE_MAX_BATCH_SIZE": "5",
    }
    assert server_environment(STROKE_WORKERS="3")["STROKE_WORKERS"] == "3"


def test_a_server_whose_port_was_taken_meanwhile_is_started_on_another(monkeypatch, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        ports = iter([taken.getsockname()[1]])
        choose = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: next(ports, None) or choose())
        command = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
        with servers.loopback_server(
            "http", command, server_environment(), tmp_path, "/", timeout=30
        ) as server:
            assert server.url != f"http://127.0.0.1:{taken.getsockname()[1]}"
    logs = sorted(Path(tmp_path).glob("http-*.log"))
    assert len(logs) == 2
    assert "Address already in use" in logs[0].read_text() + logs[1].read_text()
