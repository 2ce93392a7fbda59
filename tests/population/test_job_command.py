"""The job as an operator runs it (`spark-submit`, as `make score-population` does): what
the terminal shows when the input is wrong, and how much of Spark's own log it shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stroke_risk.core.config import REPO_ROOT
from tests.population.conftest import MODEL_TAG

pytestmark = pytest.mark.slow

SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"


def spark_submit(*arguments: str, log_level: str | None = "WARN") -> subprocess.CompletedProcess:
    """The Makefile's command line (one core), with the test session's model store."""
    settings = ["--conf", f"spark.log.level={log_level}"] if log_level else []
    return subprocess.run(
        [
            str(SPARK_SUBMIT),
            "--master",
            "local[1]",
            *settings,
            "jobs/score_population.py",
            *arguments,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO_ROOT,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(REPO_ROOT)},
        check=False,
    )


def test_a_table_without_the_needed_columns_is_one_error_line_without_a_traceback(
    stored_model, tmp_path
):
    source = tmp_path / "thin.csv"
    source.write_text("id,age\n1,70\n")
    completed = spark_submit(
        "--input", str(source), "--output", str(tmp_path / "out"), "--model", MODEL_TAG
    )
    assert completed.returncode == 1
    # What the operator's terminal shows: spark-submit passes the driver's stderr on stdout.
    shown = completed.stdout + completed.stderr
    errors = [line for line in shown.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, shown[-3000:]
    assert "missing column" in errors[0] and "gender" in errors[0]
    assert "Traceback" not in shown
    # Spark at WARN: its INFO lines (hundreds at the default level) are gone.
    spark_info = [line for line in shown.splitlines() if " INFO " in line]
    assert len(spark_info) < 20, "\n".join(spark_info[:20])
