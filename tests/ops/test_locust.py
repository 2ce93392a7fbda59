"""Short headless Locust runs of locustfile.py against a real `bentoml serve`."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT
from tests.conftest import API_KEYS
from tests.ops.conftest import clean_environment

LOCUST = Path(sys.executable).parent / "locust"


def run_locust(url: str, prefix: Path, **env: str) -> tuple[dict[str, dict], str]:
    """Five users for five seconds; the stats rows by name, and Locust's log."""
    completed = subprocess.run(
        [str(LOCUST), "-f", str(REPO_ROOT / "locustfile.py"), "--headless"]
        + ["-u", "5", "-r", "5", "-t", "5s", "--only-summary", "--csv", str(prefix), "-H", url],
        cwd=REPO_ROOT,
        env=clean_environment(STROKE_LOAD_SEED="7", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with Path(f"{prefix}_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    failures = Path(f"{prefix}_failures.csv").read_text()
    assert int(rows["Aggregated"]["Failure Count"]) == 0, failures
    assert int(rows["/predict"]["Request Count"]) > 0
    return rows, completed.stderr


@pytest.mark.slow
def test_a_short_load_run_has_no_unexpected_failures(service_url: str, tmp_path: Path) -> None:
    _, log = run_locust(service_url, tmp_path / "locust")
    assert "Patients drawn from the data set; API key: no" in log
    assert "Summary: " in log and " 0 failures" in log


@pytest.mark.slow
def test_a_load_run_with_an_api_key_is_let_in(keyed_service, tmp_path: Path) -> None:
    rows, log = run_locust(keyed_service.url, tmp_path / "locust", STROKE_API_KEY=API_KEYS[0])
    assert "API key: yes" in log
    # Every valid call got through with the key (a 401 would count as a failure).
    assert int(rows["/predict"]["Failure Count"]) == 0
