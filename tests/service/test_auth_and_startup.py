"""API keys, and a service that starts only with a model it can trust."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from stroke_risk.core.config import REPO_ROOT
from tests.conftest import EXAMPLE_PATIENT
from tests.servers import bentoml_server, private_bentoml_home

pytestmark = pytest.mark.slow

KEYS = "first-key-0123456789,second-key-abcdefgh"


@pytest.fixture(scope="module")
def keyed_service(quick_training, bentoml_home, tmp_path_factory):
    home = private_bentoml_home(bentoml_home, tmp_path_factory.mktemp("home-keys"))
    with bentoml_server(
        home, tmp_path_factory.mktemp("logs-keys"), env={"STROKE_API_KEYS": KEYS}
    ) as server:
        yield server


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": "first-key"},
        {"Authorization": "Basic first-key-0123456789"},
    ],
    ids=["no key", "wrong bearer", "prefix of a key", "wrong scheme"],
)
def test_prediction_needs_a_valid_key(keyed_service, headers):
    for path, body in (
        ("/predict", EXAMPLE_PATIENT),
        ("/predict_batch", {"patients": [EXAMPLE_PATIENT]}),
    ):
        reply = requests.post(f"{keyed_service.url}{path}", json=body, headers=headers, timeout=30)
        assert reply.status_code == 401
        assert "API key" in reply.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer first-key-0123456789"},
        {"X-API-Key": "second-key-abcdefgh"},
        {"authorization": "bearer second-key-abcdefgh"},
    ],
    ids=["bearer", "x-api-key", "lower case"],
)
def test_a_valid_key_is_accepted(keyed_service, headers):
    reply = requests.post(
        f"{keyed_service.url}/predict", json=EXAMPLE_PATIENT, headers=headers, timeout=30
    )
    assert reply.status_code == 200


def test_health_and_docs_stay_open(keyed_service):
    for path in ("/livez", "/readyz", "/metrics", "/docs.json"):
        assert requests.get(f"{keyed_service.url}{path}", timeout=10).status_code == 200


def test_keys_never_reach_the_logs(keyed_service):
    log = keyed_service.log()
    assert "first-key-0123456789" not in log and "second-key-abcdefgh" not in log


def test_without_a_model_the_service_says_to_train_in_one_line(tmp_path: Path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path), "BENTOML_DO_NOT_TRACK": "true"}
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "bentoml"),
            "serve",
            "service.py",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert "run `make train`" in output
    assert "Traceback" not in output


def last_line_printed_by_the_service(code: str, home: Path, **settings: str | None) -> str:
    """Import service.py in a fresh process (settings None are unset) and run ``code``
    after it: what BentoML would be handed, without starting a server."""
    env = {**os.environ, "BENTOML_HOME": str(home)}
    for name, value in settings.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    completed = subprocess.run(
        [sys.executable, "-c", f"import service; {code}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip().splitlines()[-1]


def test_the_request_timeout_comes_from_the_settings(quick_training, bentoml_home):
    """Configurable: a request still unanswered after it gets a 504."""
    printed = last_line_printed_by_the_service(
        "print(service.StrokeRisk.config['traffic'])", bentoml_home, STROKE_REQUEST_TIMEOUT="7.5"
    )
    assert printed == "{'timeout': 7.5}"


@pytest.mark.parametrize(("setting", "expected"), [(None, "cpu_count"), ("3", "3")])
def test_the_worker_count_comes_from_the_settings(quick_training, bentoml_home, setting, expected):
    """One worker per CPU unless told otherwise: one worker leaves the other cores idle."""
    printed = last_line_printed_by_the_service(
        "print(service.StrokeRisk.config['workers'])", bentoml_home, STROKE_WORKERS=setting
    )
    assert printed == expected


def test_the_service_replaces_bentomls_request_timeout(quick_training, bentoml_home):
    """BentoML's own holds every request in memory until its timeout expires."""
    printed = last_line_printed_by_the_service(
        "from bentoml._internal.server.http import traffic; "
        "print(traffic.TimeoutMiddleware.__name__)",
        bentoml_home,
    )
    assert printed == "CancellingTimeoutMiddleware"
