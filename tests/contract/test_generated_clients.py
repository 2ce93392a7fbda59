"""Clients generated from the live service's /docs.json work against that service.

The Python client (openapi-python-client) and the TypeScript types (openapi-typescript)
are generated afresh from the served document in a temporary folder, as `make clients`
does, so they can never drift from the service they are tested against.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from stroke_risk.core.config import REPO_ROOT
from tests.conftest import EXAMPLE_PATIENT

pytestmark = pytest.mark.slow

NODE_BIN = REPO_ROOT / "node_modules" / ".bin"
EXAMPLES = Path(__file__).parent / "typescript"
PACKAGE = "stroke_risk_client"


@pytest.fixture(scope="module")
def served_document(service_url, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract") / "openapi.json"
    path.write_bytes(requests.get(f"{service_url}/docs.json", timeout=30).content)
    return path


@pytest.fixture(scope="module")
def client_package(served_document: Path):
    """The generated Python client package, imported."""
    output = served_document.parent / "python"
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(served_document),
            "--meta",
            "none",
            "--output-path",
            str(output / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    sys.path.insert(0, str(output))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(output))


def test_the_python_client_gets_a_typed_assessment_equal_to_the_raw_json(
    client_package, service_url
) -> None:
    from stroke_risk_client import AuthenticatedClient
    from stroke_risk_client.api.scoring import predict
    from stroke_risk_client.models import Assessment, Patient

    with AuthenticatedClient(base_url=service_url, token="unused-without-keys") as client:
        reply = predict.sync_detailed(client=client, body=Patient.from_dict(EXAMPLE_PATIENT))
    raw = requests.post(f"{service_url}/predict", json=EXAMPLE_PATIENT, timeout=30).json()
    assert reply.status_code == 200
    assert isinstance(reply.parsed, Assessment)
    assert reply.parsed.probability == raw["probability"]
    assert reply.parsed.risk_band.value == raw["risk_band"]
    assert reply.headers["X-Model-Version"] == reply.parsed.model_tag


def test_the_python_client_gets_typed_batch_results_in_order(client_package, service_url) -> None:
    from stroke_risk_client import AuthenticatedClient
    from stroke_risk_client.api.scoring import predict_batch
    from stroke_risk_client.models import BatchResults, PatientBatch

    patients = [{**EXAMPLE_PATIENT, "age": age, "bmi": None} for age in (30.0, 55.0, 80.0)]
    with AuthenticatedClient(base_url=service_url, token="unused-without-keys") as client:
        parsed = predict_batch.sync(
            client=client, body=PatientBatch.from_dict({"patients": patients})
        )
    raw = requests.post(
        f"{service_url}/predict_batch", json={"patients": patients}, timeout=30
    ).json()
    assert isinstance(parsed, BatchResults)
    assert [r.probability for r in parsed.results] == [r["probability"] for r in raw["results"]]


def test_a_refusal_comes_back_as_the_documented_error_model(client_package, service_url) -> None:
    from stroke_risk_client import AuthenticatedClient
    from stroke_risk_client.api.scoring import predict
    from stroke_risk_client.models import ErrorResponse, Patient

    child = Patient.from_dict({**EXAMPLE_PATIENT, "age": 10.0})
    with AuthenticatedClient(base_url=service_url, token="unused-without-keys") as client:
        reply = predict.sync_detailed(client=client, body=child)
    assert reply.status_code == 400
    assert isinstance(reply.parsed, ErrorResponse)
    assert "age" in reply.parsed.error
    assert [error.loc for error in reply.parsed.detail] == [["age"]]


def tsc(example: str, folder: Path) -> subprocess.CompletedProcess:
    if not (NODE_BIN / "tsc").exists():
        pytest.fail("the TypeScript tools are missing: run `make node-deps`")
    shutil.copy(EXAMPLES / example, folder / example)
    return subprocess.run(
        [
            str(NODE_BIN / "tsc"),
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--lib",
            "es2022,dom",
            str(folder / example),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def typescript_types(served_document: Path) -> Path:
    folder = served_document.parent / "typescript"
    folder.mkdir()
    if not (NODE_BIN / "openapi-typescript").exists():
        pytest.fail("the TypeScript tools are missing: run `make node-deps`")
    completed = subprocess.run(
        [
            str(NODE_BIN / "openapi-typescript"),
            str(served_document),
            "-o",
            str(folder / "stroke-risk.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return folder


def test_the_typescript_types_check_a_patient_and_its_probability(typescript_types) -> None:
    completed = tsc("reads_probability.ts", typescript_types)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_typescript_types_refuse_a_patient_missing_a_required_field(typescript_types) -> None:
    completed = tsc("missing_smoking_status.ts", typescript_types)
    assert completed.returncode != 0
    assert "smoking_status" in completed.stdout


def test_the_python_client_sends_the_spellings_the_server_accepts(
    client_package, service_url
) -> None:
    from stroke_risk_client import AuthenticatedClient
    from stroke_risk_client.api.scoring import predict
    from stroke_risk_client.models import Patient

    spelled = {**EXAMPLE_PATIENT, "work_type": "govt job", "smoking_status": "Formerly Smoked"}
    with AuthenticatedClient(base_url=service_url, token="unused-without-keys") as client:
        reply = predict.sync_detailed(client=client, body=Patient.from_dict(spelled))
    raw = requests.post(f"{service_url}/predict", json=EXAMPLE_PATIENT, timeout=30).json()
    assert reply.status_code == 200, reply.content[:500]
    assert reply.parsed.probability == raw["probability"]
