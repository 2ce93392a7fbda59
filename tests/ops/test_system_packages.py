"""`make system-deps`: every Debian package the tests need by default, groups on request,
and a wait, not a failure, while another apt or dpkg process holds the lock."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT
from tests.environment import skip_or_fail
from tests.ops.conftest import clean_environment, required_tool

DPKG_FRONTEND_LOCK = Path("/var/lib/dpkg/lock-frontend")
HELD_SECONDS = 5
# Every tool a test looks for: the browser tests (tests/app), the container pipeline
# (tests/container), the AWS scripts (tests/ops), the PDF checks, shellcheck, npm's tools.
NEEDED_BY_THE_TESTS = {
    "chromium",
    "poppler-utils",
    "shellcheck",
    "jq",
    "awscli",
    "buildah",
    "podman",
    "skopeo",
    "docker-registry",
    "runc",
    "debootstrap",
    "curl",
    "nodejs",
    "npm",
    "wrk",
    "valgrind",
}


def make(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [required_tool("make", shutil.which("make")), "-s", *args],
        cwd=REPO_ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def planned_packages(*args: str) -> set[str]:
    """The packages `make system-deps` hands its script (a dry run: nothing runs)."""
    planned = make("-n", "system-deps", *args).stdout.replace("\\\n", " ")
    (line,) = [line for line in planned.splitlines() if "install_system_packages.sh" in line]
    return {word for word in line.split() if not word.startswith("-") and "/" not in word} - {
        word for word in line.split() if word.isdigit()
    }


def test_by_default_it_installs_every_package_the_test_suite_needs() -> None:
    assert planned_packages() == NEEDED_BY_THE_TESTS


def test_a_group_installs_only_what_that_use_needs() -> None:
    assert planned_packages("APT_GROUPS=browser") == {"chromium"}
    assert planned_packages("APT_GROUPS=container aws") == {
        "buildah",
        "podman",
        "skopeo",
        "docker-registry",
        "runc",
        "debootstrap",
        "curl",
        "awscli",
        "jq",
    }


@contextmanager
def dpkg_lock_held_for(seconds: float) -> Iterator[None]:
    """Hold dpkg's frontend lock as apt does (an fcntl lock, which `flock` would not be), in
    a child process that lets go after ``seconds`` and is stopped on the way out."""
    holder = subprocess.Popen(
        [
            "python3",
            "-c",
            "import fcntl, sys, time\n"
            f"lock = open({str(DPKG_FRONTEND_LOCK)!r}, 'w')\n"
            "fcntl.lockf(lock, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            f"time.sleep({seconds})\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_it_waits_for_another_process_holding_the_dpkg_lock() -> None:
    """The target's own apt-get path, on a package already installed (`--no-upgrade`:
    nothing changes), while another process holds the lock for a few seconds. Without the
    wait (timeout 0), apt-get fails at once, as on a fresh machine with unattended-upgrades."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        skip_or_fail("needs root and apt-get (Debian) to take dpkg's lock")
    with open(DPKG_FRONTEND_LOCK, "w") as probe:
        try:
            fcntl.lockf(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(probe, fcntl.LOCK_UN)
        except OSError:
            pytest.skip("another apt or dpkg process is running now: try again later")
    present = "APT_GROUPS=lint"  # shellcheck, which the lint tests need anyway
    if make("-n", "system-deps", present).returncode != 0 or not shutil.which("shellcheck"):
        skip_or_fail("shellcheck is not installed: run `make system-deps APT_GROUPS=lint`")
    options = "SYSTEM_DEPS_OPTIONS=--include-present --no-update"
    with dpkg_lock_held_for(HELD_SECONDS):
        impatient = make("system-deps", present, options, "APT_LOCK_TIMEOUT=0")
        assert impatient.returncode != 0
        assert "Could not get lock" in impatient.stderr
        started = time.monotonic()
        patient = make("system-deps", present, options, "APT_LOCK_TIMEOUT=60", timeout=120)
        waited = time.monotonic() - started
    assert patient.returncode == 0, patient.stderr
    assert waited > 1, "apt-get did not have to wait: the lock was not held"
