"""deploy/submit_population_emr_serverless.sh in --dry-run: the exact AWS calls, no account."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import pytest

from stroke_risk.core.config import REPO_ROOT

SCRIPT = REPO_ROOT / "deploy" / "submit_population_emr_serverless.sh"
SETTINGS = {
    "APPLICATION_ID": "00fabc123",
    "EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/EMRServerlessJobRole",
    "S3_PREFIX": "s3://example-bucket/stroke-risk/",
    "INPUT": "s3://example-bucket/patients/",
    "OUTPUT": "s3://example-bucket/scores/",
}

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="needs jq")


def dry_run(**changes: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **SETTINGS, **changes}
    return subprocess.run(
        [str(SCRIPT), "--dry-run"], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_job_run_sends_the_model_as_a_file_and_the_packed_environment() -> None:
    done = dry_run()
    assert done.returncode == 0, done.stderr
    start = next(line for line in done.stdout.splitlines() if "start-job-run" in line)
    words = shlex.split(start.removeprefix("+ "))
    driver = json.loads(words[words.index("--job-driver") + 1])["sparkSubmit"]
    assert driver["entryPoint"] == "s3://example-bucket/stroke-risk/score_population.py"
    arguments = driver["entryPointArguments"]
    assert arguments[arguments.index("--model") + 1] == "stroke_risk_model.bentomodel"
    assert arguments[arguments.index("--group-by") + 1] == "practice_id"
    parameters = driver["sparkSubmitParameters"]
    assert "spark.files=s3://example-bucket/stroke-risk/stroke_risk_model.bentomodel" in parameters
    assert "pyspark_venv.tar.gz#environment" in parameters
    assert "models export stroke_risk_model:latest" in done.stdout


def test_a_missing_setting_stops_with_its_name() -> None:
    done = dry_run(APPLICATION_ID="")
    assert done.returncode == 1
    assert "APPLICATION_ID is not set" in done.stderr
