"""A long quiet step (installing the locked packages) says it is still working, and its
command's exit status is what make sees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "with_heartbeat.sh"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "installing", *command],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HEARTBEAT_SECONDS": "1"},
    )


def test_a_quiet_command_gets_a_line_every_interval() -> None:
    done = run("sleep", "3.5")
    assert done.returncode == 0
    lines = [line for line in done.stdout.splitlines() if "installing:" in line]
    assert 2 <= len(lines) <= 4, done.stdout


def test_the_commands_failure_is_kept() -> None:
    assert run("false").returncode == 1
    assert run("sh", "-c", "exit 7").returncode == 7
