"""The scripts' temporary files: always removed, whatever the exit, and never run as code.

The deploy script's ``trap "rm -f '$file'" EXIT`` ran code from a TMPDIR holding a quote;
create_bento_artifacts.sh left its file of AWS errors behind when it stopped on one.
Both now use deploy/lib.sh's ``new_temp_file``, whose trap's text is fixed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT
from tests.ops.conftest import CREATE_SCRIPT, DEPLOY_SCRIPT, FakeEngine
from tests.ops.test_deploy_fargate import dry_run

LIB = REPO_ROOT / "deploy" / "lib.sh"


def run_with_lib(body: str, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    """``body`` in a bash script that sources deploy/lib.sh, with TMPDIR=tmpdir."""
    script = f"set -euo pipefail\nsource {LIB}\n{body}\n"
    return subprocess.run(
        ["bash", "-c", script],
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmpdir)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    "ending",
    ["exit 0", 'die "stopped on an AWS error"', "false"],
    ids=["success", "die", "a failing command under set -e"],
)
def test_a_temp_file_is_removed_however_the_script_ends(tmp_path, ending):
    completed = run_with_lib(
        f'new_temp_file errors\necho "aws said no" >"$errors"\necho "$errors"\n{ending}', tmp_path
    )
    made = Path(completed.stdout.split()[0])
    assert made.parent == tmp_path  # the control: it was made where TMPDIR says ...
    assert list(tmp_path.iterdir()) == []  # ... and is gone


def test_a_quote_in_tmpdir_is_data_not_code(tmp_path):
    hostile = tmp_path / "x'; touch pwned; '"
    hostile.mkdir()
    completed = run_with_lib("new_temp_file one\nnew_temp_file two", hostile)
    assert completed.returncode == 0, completed.stderr
    assert list(hostile.iterdir()) == []
    assert not (REPO_ROOT / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_the_deploy_dry_run_leaves_no_task_definition_file(fake_engine: FakeEngine, tmp_path):
    tmpdir = tmp_path / "it's here"
    tmpdir.mkdir()
    completed = dry_run(fake_engine, TMPDIR=str(tmpdir))
    assert completed.returncode == 0, completed.stderr
    assert "# task definition (" in completed.stdout  # the control: a file was made there
    assert list(tmpdir.iterdir()) == []


@pytest.mark.parametrize("script", [CREATE_SCRIPT, DEPLOY_SCRIPT], ids=lambda path: path.name)
def test_scripts_make_temp_files_only_through_the_library(script: Path):
    text = script.read_text()
    assert "new_temp_file" in text
    assert not re.search(r"\bmktemp\b", text)
    assert not re.search(r"\btrap\b", text)  # one trap, in deploy/lib.sh
