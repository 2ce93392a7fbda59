"""`make system-deps`: every Debian package the tests need by default, groups on request,
and a wait, not a failure, while another apt or dpkg process holds the lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.environment import skip_or_fail
from tests.ops.conftest import clean_environment, required_tool, run_script

# What apt-get takes, as `strace -f -e trace=fcntl` shows on Debian 12 (apt 2.6): `install`
# an fcntl write lock on dpkg's frontend lock, then on dpkg's own lock (and the archives'
# lock); `update` the lists lock alone, which DPkg::Lock::Timeout does not cover.
DPKG_LOCKS = (Path("/var/lib/dpkg/lock-frontend"), Path("/var/lib/dpkg/lock"))
LISTS_LOCK = Path("/var/lib/apt/lists/lock")
# How long the other process holds dpkg's locks (a minute, as an unattended upgrade might),
# and the lists lock (a package-list update of its own, first).
HELD_SECONDS = 60
LISTS_HELD_SECONDS = 10
# Settings of the Makefile a developer's shell or an outer `make test APT_...=` would pass on.
MAKE_SETTINGS = ("APT_GROUPS", "APT_LOCK_TIMEOUT", "SYSTEM_DEPS_OPTIONS", "MAKEFLAGS", "MFLAGS")

# Every tool a test looks for, by the group that installs it.
NODE_TOOLS = {"nodejs", "npm"}  # npm's tools: accessibility checks, typed clients
SHELL_LINT = {"shellcheck"}
BROWSER = {"chromium"}  # tests/app
PDF = {"poppler-utils"}
# tests/container
CONTAINER_PIPELINE = {
    "buildah",
    "podman",
    "skopeo",
    "docker-registry",
    "runc",
    "debootstrap",
    "curl",
}
AWS_SCRIPTS = {"awscli", "jq"}  # tests/ops
BENCHMARKS = {"wrk", "valgrind"}
NEEDED_BY_THE_TESTS = (
    NODE_TOOLS | SHELL_LINT | BROWSER | PDF | CONTAINER_PIPELINE | AWS_SCRIPTS | BENCHMARKS
)


def make(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in clean_environment().items() if k not in MAKE_SETTINGS}
    make = Path(required_tool("make", shutil.which("make")))
    return run_script(make, "-s", *args, env=environment, timeout=timeout)


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
    assert planned_packages("APT_GROUPS=browser") == BROWSER
    assert planned_packages("APT_GROUPS=container aws") == CONTAINER_PIPELINE | AWS_SCRIPTS


# Takes each lock as apt does (an fcntl write lock on the whole file, which `flock` would not
# be; never waiting: a real apt at work now makes the test skip), in the order apt takes
# them, then lets go of each after its number of seconds.
LOCK_HOLDER = """
import fcntl, os, sys, time
held = []
for path, seconds in zip(sys.argv[1::2], sys.argv[2::2]):
    lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(f"busy: {path}")
    held.append((float(seconds), lock))
print("held", flush=True)
taken = time.monotonic()
for seconds, lock in sorted(held):
    time.sleep(max(0.0, taken + seconds - time.monotonic()))
    os.close(lock)
"""


@contextmanager
def locks_held(seconds_by_lock: dict[Path, float]) -> Iterator[None]:
    """Another process holding each lock for its seconds; stopped on the way out."""
    arguments = [str(part) for item in seconds_by_lock.items() for part in item]
    with ExitStack() as stack:
        holder = stack.enter_context(
            subprocess.Popen(
                [sys.executable, "-c", LOCK_HOLDER, *arguments],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        stack.callback(holder.kill)
        assert holder.stdout is not None and holder.stderr is not None
        if holder.stdout.readline().strip() != "held":
            pytest.skip(f"another apt or dpkg process is running now ({holder.stderr.read()})")
        yield


@pytest.mark.slow
def test_it_waits_for_another_process_holding_the_dpkg_lock_for_a_minute() -> None:
    """`make system-deps` as `make test` runs it (the package-list update, then apt-get, with
    the Makefile's default wait), started while another process holds dpkg's locks for a
    minute and the lists lock for its first seconds, as unattended-upgrades does on a fresh
    machine: it waits for both and succeeds only once they are let go. On a package already
    installed (`--include-present` with apt-get's `--no-upgrade`: nothing changes). Without
    the wait (timeout 0), apt-get fails at once."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        skip_or_fail("needs root and apt-get (Debian) to take dpkg's lock")
    present = "APT_GROUPS=lint"  # shellcheck, which the lint tests need anyway
    if not shutil.which("shellcheck"):
        skip_or_fail("shellcheck is not installed: run `make system-deps APT_GROUPS=lint`")
    held = dict.fromkeys(DPKG_LOCKS, HELD_SECONDS) | {LISTS_LOCK: LISTS_HELD_SECONDS}
    with locks_held(held):
        impatient = make(
            "system-deps",
            present,
            "SYSTEM_DEPS_OPTIONS=--include-present --no-update",
            "APT_LOCK_TIMEOUT=0",
        )
        started = time.monotonic()
        patient = make(
            "system-deps",
            present,
            "SYSTEM_DEPS_OPTIONS=--include-present",
            timeout=5 * HELD_SECONDS,
        )
        waited = time.monotonic() - started
    assert impatient.returncode != 0
    assert f"Could not get lock {DPKG_LOCKS[0]}" in impatient.stderr
    assert patient.returncode == 0, patient.stderr
    assert "release the package lists" in patient.stderr, "the update did not wait"
    assert waited >= HELD_SECONDS - 5, f"apt-get went ahead after {waited:.0f} s"
