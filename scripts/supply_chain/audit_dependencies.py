"""`make audit`'s dependency half: pip-audit on the pinned environment, with written-down ignores.

    .venv/bin/python scripts/supply_chain/audit_dependencies.py [--tolerate-unreachable]

Runs pip-audit (JSON output) on the environment of the Python that runs this file (the
project's .venv: every Pipfile pin and what they pulled in, a superset of the image's),
passing each entry of ignored_vulnerabilities.toml as --ignore-vuln. Exit status:

- 0: no known vulnerability outside the ignore list (or the database was unreachable and
  --tolerate-unreachable was given: `make test` on a machine without internet);
- 1: a vulnerability, or an ignore entry that is incomplete or past its revisit date;
- 2: the vulnerability database could not be reached, so nothing was checked.

pip-audit itself exits 0 when every look-up fails ("Dependency not found on PyPI" for each
package, as behind a proxy that serves only package downloads): an audit that checked
nothing would pass silently. That case counts as unreachable here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

IGNORES = Path(__file__).with_name("ignored_vulnerabilities.toml")
UNREACHABLE_SIGNS = (
    "ConnectionError",
    "NameResolutionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "timed out",
)


@dataclass(frozen=True)
class Ignored:
    """A known vulnerability accepted for now, with why and until when."""

    id: str
    package: str
    reason: str
    revisit: dt.date


@dataclass(frozen=True)
class Outcome:
    """What an audit found: vulnerabilities, packages it could not check, or no database."""

    vulnerable: list[str]
    audited: int
    unchecked: list[str]
    unreachable: bool


def load_ignores(path: Path = IGNORES) -> list[Ignored]:
    """The ignore list; an entry without a reason or a revisit date is an error."""
    entries = tomllib.loads(path.read_text()).get("ignore", [])
    ignores = []
    for number, entry in enumerate(entries, start=1):
        missing = [key for key in ("id", "package", "reason", "revisit") if not entry.get(key)]
        if missing:
            raise ValueError(f"{path.name}, entry {number}: missing {', '.join(missing)}")
        if not isinstance(entry["revisit"], dt.date):
            raise ValueError(f"{path.name}, entry {number}: revisit must be a date, 2027-01-31")
        ignores.append(
            Ignored(**{key: entry[key] for key in ("id", "package", "reason", "revisit")})
        )
    return ignores


def overdue(ignores: Sequence[Ignored], today: dt.date) -> list[Ignored]:
    """Entries whose revisit date has passed: someone must look again, and renew or fix."""
    return [ignore for ignore in ignores if ignore.revisit < today]


def read_report(returncode: int, stdout: str, stderr: str) -> Outcome:
    """pip-audit's JSON report (or its failure) as an :class:`Outcome`."""
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        if any(sign in stderr for sign in UNREACHABLE_SIGNS):
            return Outcome([], 0, [], unreachable=True)
        raise RuntimeError(f"pip-audit failed (exit {returncode}):\n{stderr[-2000:]}") from None
    vulnerable, unchecked, audited = [], [], 0
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            unchecked.append(f"{dependency['name']}: {dependency['skip_reason']}")
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            fixes = ", ".join(vulnerability.get("fix_versions", [])) or "no fix yet"
            vulnerable.append(
                f"{dependency['name']} {dependency['version']}: {vulnerability['id']} "
                f"(fixed in {fixes})"
            )
    return Outcome(vulnerable, audited, unchecked, unreachable=audited == 0 and bool(unchecked))


def run_pip_audit(ignores: Sequence[Ignored], timeout: float = 600) -> Outcome:
    """pip-audit on this interpreter's environment, the ignore list passed through."""
    command = [sys.executable, "-m", "pip_audit", "--format", "json"]
    command += ["--progress-spinner", "off", "--skip-editable"]
    for ignore in ignores:
        command += ["--ignore-vuln", ignore.id]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome([], 0, [], unreachable=True)
    return read_report(completed.returncode, completed.stdout, completed.stderr)


def main(argv: Sequence[str] | None = None, today: dt.date | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tolerate-unreachable",
        action="store_true",
        help="exit 0 (saying so) when the vulnerability database cannot be reached",
    )
    args = parser.parse_args(argv)
    out = sys.stdout.write
    ignores = load_ignores()
    late = overdue(ignores, today or dt.date.today())
    for ignore in late:
        out(
            f"audit: ignore of {ignore.id} ({ignore.package}) was to be revisited by "
            f"{ignore.revisit}: upgrade, or renew it with a reason in {IGNORES.name}\n"
        )
    outcome = run_pip_audit(ignores)
    if outcome.unreachable:
        out(
            "audit: the vulnerability database could not be reached: NO package was checked "
            "for known vulnerabilities"
        )
        if args.tolerate_unreachable:
            out(" (tolerated here; a CI with internet access enforces `make audit`)\n")
            return 1 if late else 0
        out("\n")
        return 2
    for line in outcome.unchecked:
        out(f"audit: not checked: {line}\n")
    for line in outcome.vulnerable:
        out(f"audit: VULNERABLE {line}\n")
    out(
        f"audit: {outcome.audited} packages checked, {len(outcome.vulnerable)} known "
        f"vulnerabilities, {len(ignores)} ignored (see {IGNORES.name})\n"
    )
    return 1 if outcome.vulnerable or late else 0


if __name__ == "__main__":
    sys.exit(main())
