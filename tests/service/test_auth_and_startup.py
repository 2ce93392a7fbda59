"""API keys, and a service that starts only with a model it can trust."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from stroke_risk.core.config import REPO_ROOT
from tests.conftest import API_KEYS, EXAMPLE_PATIENT
from tests.environment import server_environment
from tests.servers import serve_and_fail

pytestmark = pytest.mark.slow

# keyed_service (tests/conftest.py) accepts API_KEYS; these tests use the first two.
FIRST_KEY, SECOND_KEY = API_KEYS[:2]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-API-Key": FIRST_KEY[:9]},
        {"Authorization": f"Basic {FIRST_KEY}"},
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
        {"Authorization": f"Bearer {FIRST_KEY}"},
        {"X-API-Key": SECOND_KEY},
        {"authorization": f"bearer {SECOND_KEY}"},
    ],
    ids=["bearer", "x-api-key", "lower case"],
)
def test_a_valid_key_is_accepted(keyed_service, headers):
    reply = requests.post(
        f"{keyed_service.url}/predict", json=EXAMPLE_PATIENT, headers=headers, timeout=30
    )
    assert reply.status_code == 200


def test_health_checks_stay_open(keyed_service):
    """Load balancers send no key; docs and metrics need one (test_abuse.py)."""
    for path in ("/livez", "/readyz"):
        assert requests.get(f"{keyed_service.url}{path}", timeout=10).status_code == 200


def test_keys_never_reach_the_logs(keyed_service):
    """Sends its own requests, right and wrong keys both, so it checks something run alone."""
    url = f"{keyed_service.url}/predict"
    start = keyed_service.log_size()
    for headers in (
        {"Authorization": f"Bearer {FIRST_KEY}"},
        {"X-API-Key": SECOND_KEY},
        {"Authorization": f"Bearer {FIRST_KEY}-wrong"},
    ):
        requests.post(url, json=EXAMPLE_PATIENT, headers=headers, timeout=30)
    keyed_service.log_since(start, "/predict")  # the control: these requests were logged ...
    log = keyed_service.log()
    for key in API_KEYS:
        assert key not in log  # ... but no key was


def test_without_a_model_the_service_says_to_train_in_one_line(tmp_path: Path):
    assert "run `make train`" in serve_and_fail(tmp_path)


def last_line_printed_by_the_service(code: str, home: Path, **settings: str | None) -> str:
    """Import service.py in a fresh process (settings None are unset) and run ``code``
    after it: what BentoML would be handed, without starting a server."""
    env = server_environment(BENTOML_HOME=str(home))
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
