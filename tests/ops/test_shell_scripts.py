"""The shell scripts: shellcheck-clean, self-documenting, and strict about their options."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT
from tests.ops.conftest import CREATE_SCRIPT, DEPLOY_SCRIPT, clean_environment, required_tool


def shell_scripts() -> list[Path]:
    """Every *.sh the project has or is about to commit (not .gitignored scratch files)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.sh"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    ).stdout.split()
    return sorted(REPO_ROOT / name for name in listed if (REPO_ROOT / name).is_file())


def test_the_deployment_scripts_are_found() -> None:
    assert {CREATE_SCRIPT, DEPLOY_SCRIPT} <= set(shell_scripts())


@pytest.mark.parametrize(
    "script", shell_scripts(), ids=lambda path: str(path.relative_to(REPO_ROOT))
)
def test_shell_script_is_shellcheck_clean(script: Path) -> None:
    shellcheck = required_tool("shellcheck", shutil.which("shellcheck"))
    completed = subprocess.run(
        [shellcheck, "--severity=style", "--external-sources", str(script)],
        capture_output=True,
        text=True,
        cwd=script.parent,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("script", [CREATE_SCRIPT, DEPLOY_SCRIPT], ids=lambda path: path.name)
def test_script_is_executable_and_strict(script: Path) -> None:
    text = script.read_text()
    assert script.stat().st_mode & 0o111, f"{script.name} is not executable"
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def documented_settings(script: Path) -> set[str]:
    """Upper-case names in the header comment, where every setting is described."""
    header = script.read_text().split("set -euo pipefail")[0]
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", header))


def read_settings(script: Path) -> set[str]:
    """Names the script takes from the environment with a default: NAME="${NAME:-...}"."""
    return set(re.findall(r'^\s*([A-Z][A-Z0-9_]+)="\$\{\1[:-]', script.read_text(), re.M))


@pytest.mark.parametrize("script", [CREATE_SCRIPT, DEPLOY_SCRIPT], ids=lambda path: path.name)
def test_every_setting_is_documented_at_the_top(script: Path) -> None:
    undocumented = read_settings(script) - documented_settings(script)
    assert not undocumented, f"{script.name} reads but does not document {sorted(undocumented)}"


@pytest.mark.parametrize("script", [CREATE_SCRIPT, DEPLOY_SCRIPT], ids=lambda path: path.name)
def test_help_lists_the_options(script: Path) -> None:
    completed = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=clean_environment()
    )
    assert completed.returncode == 0, completed.stderr
    assert "--dry-run" in completed.stdout
    assert "Usage:" in completed.stdout


@pytest.mark.parametrize("script", [CREATE_SCRIPT, DEPLOY_SCRIPT], ids=lambda path: path.name)
def test_an_unknown_option_is_a_one_line_error(script: Path) -> None:
    completed = subprocess.run(
        [str(script), "--deploy-to-mars"], capture_output=True, text=True, env=clean_environment()
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == "error: unknown option --deploy-to-mars (see --help)"
