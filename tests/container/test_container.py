"""The real container image: built from the Bento, pushed, pulled, run, asked, loaded.

Drives scripts/container/local_pipeline.sh (buildah, a registry on 127.0.0.1, podman) with
the session's quick model, in a private scratch folder that is removed at the end. Needs
root and Debian's buildah, podman, skopeo, docker-registry, runc and debootstrap
(`make system-deps`); without them the tests skip, except in CI (any truthy CI), where they
fail.
Takes about six minutes on two cores, most of it building the image.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bentoml
import numpy as np
import pytest
import requests

from stroke_risk.core.config import REPO_ROOT, get_settings
from stroke_risk.core.schema import ADULT_AGE, FEATURES
from tests.conftest import EXAMPLE_PATIENT
from tests.environment import skip_or_fail, without_developer_settings
from tests.servers import BIN, free_port, private_bentoml_home

pytestmark = [pytest.mark.slow, pytest.mark.container]

PIPELINE = REPO_ROOT / "scripts" / "container" / "local_pipeline.sh"
TASK_DEFINITION = REPO_ROOT / "deploy" / "task-definition.json"
TOOLS = ("buildah", "podman", "skopeo", "docker-registry", "runc", "debootstrap", "curl")
# Seconds per pipeline step; the build dominates (apt, then about 200 MB of wheels).
STEP_TIMEOUTS = {"check": 30, "base": 600, "build": 1500, "registry": 60, "push": 600, "run": 900}


def missing_requirements() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}: run `make system-deps` as root"
    if os.geteuid() != 0:
        return "the container pipeline needs root (debootstrap, chroot builds, networking)"
    return None


@dataclass
class Pipeline:
    environment: dict[str, str]
    scratch: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PIPELINE), *args],
            capture_output=True,
            text=True,
            env=self.environment,
            cwd=REPO_ROOT,
            timeout=timeout,
            check=False,
        )

    def step(self, name: str) -> None:
        completed = self.run(name, timeout=STEP_TIMEOUTS[name])
        assert completed.returncode == 0, f"`{name}` failed:\n{completed.stderr[-4000:]}"

    def state(self, name: str) -> str:
        return (self.scratch / "state" / name).read_text().strip()

    @property
    def url(self) -> str:
        return self.state("app_url")

    def podman(self, *args: str) -> str:
        completed = self.run("podman", *args)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()


@pytest.fixture(scope="module")
def pipeline(
    quick_training, bentoml_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    reason = missing_requirements()
    if reason:
        skip_or_fail(reason)
    work = tmp_path_factory.mktemp("container")
    app_port = free_port()
    running = Pipeline(
        environment={
            **without_developer_settings(),
            "BENTOML_HOME": str(private_bentoml_home(bentoml_home, work / "home")),
            "BENTOML_DO_NOT_TRACK": "true",
            "CONTAINER_SCRATCH": str(work / "scratch"),
            "REGISTRY_PORT": str(free_port()),
            "APP_PORT": str(app_port),
            "CONTAINER_NAME": f"stroke-risk-test-{app_port}",
        },
        scratch=work / "scratch",
    )
    try:
        for name in ("check", "base", "build", "registry", "push", "run"):
            running.step(name)
        yield running
    finally:
        pid_file = running.scratch / "state" / "registry_pid"
        registry_pid = pid_file.read_text().strip() if pid_file.exists() else ""
        cleaned = running.run("clean", timeout=300)
        assert cleaned.returncode == 0, cleaned.stderr
        assert not running.scratch.exists(), "clean left the scratch folder behind"
        assert not registry_pid or not Path(f"/proc/{registry_pid}").exists(), "registry alive"


def test_the_registry_holds_an_image_that_runs_as_a_non_root_user(pipeline: Pipeline) -> None:
    remote = pipeline.state("remote")
    assert remote.startswith("127.0.0.1:")
    completed = pipeline.run(
        "skopeo", "inspect", "--tls-verify=false", "--config", f"docker://{remote}"
    )
    assert completed.returncode == 0, completed.stderr
    config = json.loads(completed.stdout)["config"]
    assert config.get("User") not in (None, "", "0", "root")
    assert "3000/tcp" in config.get("ExposedPorts", {})


def test_the_container_scores_a_valid_patient_with_the_trained_model(pipeline: Pipeline) -> None:
    reply = requests.post(f"{pipeline.url}/predict", json=EXAMPLE_PATIENT, timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert 0.0 <= result["probability"] <= 1.0
    assert result["model_tag"] == str(bentoml.models.get(get_settings().model_tag).tag)


def test_the_container_gives_the_trained_pipelines_numbers(
    pipeline: Pipeline, stored_model, stroke_data
) -> None:
    """What ships must score like the pipeline, to the service tests' tolerance, for every
    adult of the data set (the service refuses anyone under 18)."""
    adults = stroke_data[stroke_data["age"] >= ADULT_AGE]
    patients = adults[list(FEATURES)].astype(object)
    patients = patients.where(patients.notna(), None).to_dict(orient="records")
    reply = requests.post(f"{pipeline.url}/predict_batch", json={"patients": patients}, timeout=120)
    assert reply.status_code == 200, reply.text[:500]
    served = np.array([result["probability"] for result in reply.json()["results"]])
    assert len(served) == len(adults) > 4000
    expected = stored_model.pipeline.predict_proba(adults[list(FEATURES)])[:, 1]
    np.testing.assert_allclose(served, expected, rtol=0, atol=6e-5)  # rounded to 4 decimals


def test_the_fargate_health_check_passes_inside_the_container(pipeline: Pipeline) -> None:
    """The task definition's own health check, run in the image: a command that fails there
    (no python on PATH, wrong port) would have Fargate replace healthy tasks forever."""
    definition = json.loads(TASK_DEFINITION.read_text())
    kind, *command = definition["containerDefinitions"][0]["healthCheck"]["command"]
    assert kind == "CMD"
    container = pipeline.state("container")
    passed = pipeline.run("podman", "exec", container, *command)
    assert passed.returncode == 0, passed.stderr
    # The control: the same command against a port nobody serves fails.
    elsewhere = [part.replace("127.0.0.1:3000", "127.0.0.1:3999") for part in command]
    assert elsewhere != command
    assert pipeline.run("podman", "exec", container, *elsewhere).returncode != 0


def test_the_container_refuses_an_invalid_patient_with_400(pipeline: Pipeline) -> None:
    invalid = {**EXAMPLE_PATIENT, "age": -5}
    reply = requests.post(f"{pipeline.url}/predict", json=invalid, timeout=30)
    assert reply.status_code == 400, reply.text
    assert "age" in reply.text


def test_the_container_runs_as_a_non_root_user(pipeline: Pipeline) -> None:
    assert pipeline.podman("exec", pipeline.state("container"), "id", "-u") != "0"


def test_the_image_holds_the_model_the_bento_names(pipeline: Pipeline) -> None:
    version = bentoml.models.get(get_settings().model_tag).tag.version
    listing = pipeline.podman(
        "exec",
        pipeline.state("container"),
        "ls",
        f"/home/bentoml/bento/models/stroke_risk_model/{version}",
    )
    assert "model.yaml" in listing.split()


def test_the_container_serves_a_short_load_test_without_failures(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    locustfile = REPO_ROOT / "locustfile.py"
    completed = subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(locustfile),
            "--headless",
            "--only-summary",
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--run-time",
            "15s",
            "--host",
            pipeline.url,
            "--csv",
            str(tmp_path / "load"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with (tmp_path / "load_stats.csv").open(newline="") as stats:
        (total,) = (row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 0
    assert int(total["Failure Count"]) == 0, completed.stderr[-3000:]
