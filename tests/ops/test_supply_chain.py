"""`make audit`: pip-audit's report read right, ignores written down, bandit clean.

pip-audit itself needs its vulnerability database, which this machine cannot reach, so its
report is fed in here as pip-audit writes it; what is tested is what the audit concludes.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from stroke_risk.core.config import REPO_ROOT
from tests.script_modules import load_script

AUDIT_SCRIPT = REPO_ROOT / "scripts" / "supply_chain" / "audit_dependencies.py"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    return load_script(AUDIT_SCRIPT)


def report(*dependencies: dict) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


NOT_FOUND = "Dependency not found on PyPI and could not be audited: {}"


def test_a_known_vulnerability_is_reported_with_its_fix(audit: ModuleType) -> None:
    outcome = audit.read_report(
        1,
        report(
            {"name": "numpy", "version": "2.4.6", "vulns": []},
            {
                "name": "jinja2",
                "version": "3.1.0",
                "vulns": [{"id": "GHSA-test", "fix_versions": ["3.1.5"], "aliases": []}],
            },
        ),
        "",
    )
    assert outcome.vulnerable == ["jinja2 3.1.0: GHSA-test (fixed in 3.1.5)"]
    assert (outcome.audited, outcome.unreachable) == (2, False)


def test_an_audit_in_which_every_lookup_failed_counts_as_unreachable(audit: ModuleType) -> None:
    """pip-audit exits 0 when it could look nothing up: that must not pass as clean."""
    outcome = audit.read_report(
        0,
        report(
            {"name": "numpy", "skip_reason": NOT_FOUND.format("numpy (2.4.6)")},
            {"name": "bentoml", "skip_reason": NOT_FOUND.format("bentoml (1.4.40)")},
        ),
        "",
    )
    assert outcome.unreachable and outcome.audited == 0


def test_one_private_package_skipped_among_audited_ones_is_not_unreachable(
    audit: ModuleType,
) -> None:
    outcome = audit.read_report(
        0,
        report(
            {"name": "numpy", "version": "2.4.6", "vulns": []},
            {"name": "in-house", "skip_reason": NOT_FOUND.format("in-house (1.0)")},
        ),
        "",
    )
    assert not outcome.unreachable
    assert outcome.unchecked == [f"in-house: {NOT_FOUND.format('in-house (1.0)')}"]


def test_a_connection_error_counts_as_unreachable_and_other_failures_raise(
    audit: ModuleType,
) -> None:
    offline = "requests.exceptions.ConnectionError: HTTPSConnectionPool(...): NameResolutionError"
    assert audit.read_report(1, "", offline).unreachable
    with pytest.raises(RuntimeError, match="pip-audit failed"):
        audit.read_report(2, "", "usage: pip-audit: error: unrecognized arguments")


def test_an_ignore_needs_a_reason_and_a_revisit_date(audit: ModuleType, tmp_path: Path) -> None:
    ignores = tmp_path / "ignores.toml"
    ignores.write_text('[[ignore]]\nid = "GHSA-1"\npackage = "x"\nrevisit = 2027-01-31\n')
    with pytest.raises(ValueError, match="missing reason"):
        audit.load_ignores(ignores)
    ignores.write_text('[[ignore]]\nid = "GHSA-1"\npackage = "x"\nreason = "r"\nrevisit = "soon"\n')
    with pytest.raises(ValueError, match="revisit must be a date"):
        audit.load_ignores(ignores)


def test_an_ignore_past_its_revisit_date_is_overdue(audit: ModuleType) -> None:
    ignore = audit.Ignored("GHSA-1", "x", "not reachable from our code", dt.date(2027, 1, 31))
    assert audit.overdue([ignore], dt.date(2027, 1, 31)) == []
    assert audit.overdue([ignore], dt.date(2027, 2, 1)) == [ignore]


def test_the_projects_ignore_list_is_complete_and_none_is_overdue(audit: ModuleType) -> None:
    ignores = audit.load_ignores()
    assert audit.overdue(ignores, dt.date.today()) == []


@pytest.mark.parametrize(
    ("outcome", "arguments", "status", "said"),
    [
        ("unreachable", ["--tolerate-unreachable"], 0, "tolerated here"),
        ("unreachable", [], 2, "NO package was checked"),
        ("vulnerable", ["--tolerate-unreachable"], 1, "VULNERABLE jinja2"),
        ("clean", [], 0, "3 packages checked, 0 known vulnerabilities"),
    ],
)
def test_the_audits_exit_status_says_what_it_found(
    audit: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    outcome: str,
    arguments: list[str],
    status: int,
    said: str,
) -> None:
    outcomes = {
        "unreachable": audit.Outcome([], 0, [], unreachable=True),
        "vulnerable": audit.Outcome(["jinja2 3.1.0: GHSA-test (fixed in 3.1.5)"], 3, [], False),
        "clean": audit.Outcome([], 3, [], unreachable=False),
    }
    monkeypatch.setattr(audit, "run_pip_audit", lambda ignores: outcomes[outcome])
    assert audit.main(arguments) == status
    assert said in capsys.readouterr().out


def test_bandit_finds_nothing_unjustified_in_the_package() -> None:
    """Each accepted finding carries `# nosec <id>` and its reason, on the same line or as
    the comment just above it."""
    completed = subprocess.run(
        [str(BIN / "bandit"), "-r", "stroke_risk", "service.py", "-q", "-f", "json"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    findings = json.loads(completed.stdout)
    assert findings["results"] == [], findings["results"]
    assert completed.returncode == 0
    justified = 0
    for path in (REPO_ROOT / "stroke_risk").rglob("*.py"):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "# nosec" not in line:
                continue
            inline = line.split("# nosec", 1)[1].count("#") == 1
            above = lines[number - 1].strip().startswith("#")
            assert inline or above, f"{path.name}:{number + 1}: no reason for {line.strip()}"
            justified += 1
    assert justified > 0
