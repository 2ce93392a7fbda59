"""The real container image: built from the Bento, pushed, pulled, run, asked, loaded.

Drives scripts/container/local_pipeline.sh (buildah, a registry on 127.0.0.1, podman) with
the session's quick model, in a private scratch folder that is removed at the end. The
container runs as on Fargate: read-only root filesystem, writable only where the image
declares a volume (the task definition's mountPoints). Needs
root and Debian's buildah, podman, skopeo, docker-registry, runc and debootstrap
(`make system-deps`); without them the tests skip, except in CI (any truthy CI), where they
fail.
Takes about six minutes on two cores, most of it building the image.
"""

from __future__ import annotations

import csv
import json
import os
import re
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
from tests.ops.test_create_bento_artifacts import LIST_PYTHON
from tests.script_modules import load_script
from tests.servers import BIN, free_port, private_bentoml_home

pytestmark = [pytest.mark.slow, pytest.mark.container]

PIPELINE = REPO_ROOT / "scripts" / "container" / "local_pipeline.sh"
TASK_DEFINITION = REPO_ROOT / "deploy" / "task-definition.json"
README = REPO_ROOT / "README.md"
SERVING_LOCK = REPO_ROOT / "requirements" / "serving.txt"
LOCKED_ENVIRONMENT = REPO_ROOT / "scripts" / "supply_chain" / "locked_environment.py"
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
    # Smoking not recorded is scored as the commonest known status among the adults (no
    # learned "not recorded" effect), as the service tests check outside the image.
    known = adults.loc[adults["smoking_status"] != "Unknown", "smoking_status"]
    scored = adults.replace({"smoking_status": {"Unknown": known.mode().iloc[0]}})
    expected = stored_model.pipeline.predict_proba(scored[list(FEATURES)])[:, 1]
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


def readme_request_body(route: str) -> bytes:
    """The body of the README's curl example for ``route``, byte for byte."""
    pattern = rf"curl -s http://127\.0\.0\.1:3000{re.escape(route)} .*?-d '(.*?)'\n```"
    match = re.search(pattern, README.read_text(), flags=re.DOTALL)
    assert match, f"no curl example for {route} in README.md"
    return match.group(1).encode()


def test_the_readmes_example_gets_the_same_reply_bytes_as_from_bentoml_serve(
    pipeline: Pipeline, service
) -> None:
    """The slim image serves what `bentoml serve service.py` serves, to the byte."""
    body = readme_request_body("/predict")
    headers = {"Content-Type": "application/json"}
    inside = requests.post(f"{pipeline.url}/predict", data=body, headers=headers, timeout=30)
    outside = requests.post(f"{service.url}/predict", data=body, headers=headers, timeout=30)
    assert inside.status_code == outside.status_code == 200, inside.text
    assert json.loads(inside.content)["probability"] > 0
    assert inside.content == outside.content


def test_the_ehr_routes_work_in_the_slim_image(pipeline: Pipeline) -> None:
    """The README's CDS Hooks sample: fhir.resources, fhirpy, PyJWT and cryptography are in
    the image (the routes import them on their first request)."""
    body = readme_request_body("/cds-services/stroke-risk")
    reply = requests.post(
        f"{pipeline.url}/cds-services/stroke-risk",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text[:2000]
    (card,) = reply.json()["cards"]
    # A scored card for the shipped model names its number as a stroke history, as an info.
    assert card["summary"].startswith("Stroke history ")
    assert card["indicator"] == "info"


def test_the_image_holds_no_compiler_git_uv_or_training_library(pipeline: Pipeline) -> None:
    container = pipeline.state("container")
    found = pipeline.run(
        "podman",
        "exec",
        container,
        "sh",
        "-c",
        "for tool in gcc cc g++ make git uv; do command -v $tool; done; true",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "", f"build tools in the image: {found.stdout}"
    probe = (
        "import importlib.util as u; "
        "print([m for m in ('sklearn', 'xgboost', 'pandas', 'scipy', 'numpy') if u.find_spec(m)])"
    )
    assert pipeline.podman("exec", container, "python", "-c", probe) == "['numpy']"


def test_the_root_filesystem_is_read_only_and_the_declared_volumes_are_writable(
    pipeline: Pipeline,
) -> None:
    container = pipeline.state("container")
    assert pipeline.podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", container) == (
        "true"
    )
    denied = pipeline.run("podman", "exec", container, "touch", "/home/bentoml/bento/written")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    (definition,) = json.loads(TASK_DEFINITION.read_text())["containerDefinitions"]
    for mount in definition["mountPoints"]:
        path = f"{mount['containerPath']}/written-by-the-test"
        written = pipeline.run("podman", "exec", container, "touch", path)
        assert written.returncode == 0, f"{mount['containerPath']}: {written.stderr}"
    # Prometheus keeps its per-process files where the task definition mounts a volume.
    metrics = pipeline.podman("exec", container, "ls", "/home/bentoml/prometheus_multiproc_dir")
    assert any(name.endswith(".db") for name in metrics.split())


def test_the_image_declares_the_volumes_the_task_definition_mounts(pipeline: Pipeline) -> None:
    """ECS copies an image VOLUME's owner and mode into the mounted volume only when the
    paths are the same; a non-root service cannot write to a root-owned 0755 one."""
    completed = pipeline.run(
        "skopeo",
        "inspect",
        "--tls-verify=false",
        "--config",
        f"docker://{pipeline.state('remote')}",
    )
    assert completed.returncode == 0, completed.stderr
    declared = set(json.loads(completed.stdout)["config"].get("Volumes", {}))
    (container,) = json.loads(TASK_DEFINITION.read_text())["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is True
    assert {mount["containerPath"] for mount in container["mountPoints"]} == declared


def test_the_images_bytecode_does_not_depend_on_file_times(pipeline: Pipeline) -> None:
    """Layers keep whole seconds: timestamp-checked .pyc files would go stale in the image,
    and each process would recompile every module at start (on a read-only filesystem it
    cannot save the result). Hash-based, unchecked bytecode never looks at the source."""
    modules = ("numpy", "bentoml", "pydantic", "stroke_risk.assessment.assessor")
    probe = (
        "import importlib.util as u, struct; "
        "print([struct.unpack('<I', open(u.cache_from_source(u.find_spec(m).origin), 'rb')"
        f".read(8)[4:])[0] for m in {modules!r}])"
    )
    flags = pipeline.podman(
        "exec",
        "--workdir",
        "/home/bentoml/bento/src",
        pipeline.state("container"),
        "python",
        "-c",
        probe,
    )
    assert flags == "[1, 1, 1, 1]"  # PEP 552: hash-based (bit 0), source not checked (bit 1)


def test_the_image_holds_exactly_the_serving_lock(pipeline: Pipeline) -> None:
    """Every distribution in the image at the version requirements/serving.txt locks for
    the image's own platform, none missing and none more: what `pip freeze` would show
    (the image has no pip), read the way create_bento_artifacts.sh reads it for the SBOM."""
    locked = load_script(LOCKED_ENVIRONMENT)
    listing = pipeline.podman("exec", pipeline.state("container"), "python", "-c", LIST_PYTHON)
    installed, environment = locked.read_listing(listing)
    assert environment["sys_platform"] == "linux"
    wanted = locked.expected(locked.read_lock(SERVING_LOCK), environment)
    assert len(wanted) > 50
    assert locked.differences(wanted, installed) == []
