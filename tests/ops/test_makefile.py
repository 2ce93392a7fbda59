"""The Makefile: publishing is gated on the model and service tests, not only the quick ones."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

from stroke_risk.core.config import REPO_ROOT
from tests.ops.conftest import clean_environment, required_tool


def test_publish_runs_the_model_and_service_tests_before_it_builds():
    make = required_tool("make", shutil.which("make"))
    planned = subprocess.run(
        [make, "-n", "publish", "ARGS=--dry-run"],
        cwd=REPO_ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    (tests,) = [i for i, line in enumerate(planned) if " -m pytest" in line]
    (build,) = [i for i, line in enumerate(planned) if "create_bento_artifacts.sh" in line]
    assert tests < build
    arguments = shlex.split(planned[tests])
    arguments = arguments[arguments.index("pytest") + 1 :]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *arguments],
        cwd=REPO_ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for folder in ("tests/model/", "tests/service/", "tests/app/", "tests/ops/"):
        assert f"\n{folder}" in f"\n{collected}", f"publish does not run {folder}"
