"""Fixtures for the app: the app in AppTest, a keyed service, dead and silent services,
`streamlit run` on a free port and Debian's Chromium driven by Playwright.

Everything talks to real servers on 127.0.0.1: the open and the keyed services of
tests/conftest.py, a port nobody listens on (service down) and a socket that accepts
connections but never answers (service hanging).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from stroke_risk.app.views import form_fields
from stroke_risk.core.config import REPO_ROOT
from stroke_risk.core.responses import Assessment
from tests.app.chromium import CHROMIUM, launch_chromium
from tests.conftest import API_KEYS, EXAMPLE_PATIENT
from tests.environment import skip_or_fail, without_developer_settings
from tests.servers import APP_PATH, streamlit_server
from tests.wording import SHIPPED, reply_outcome

ARTIFACTS = REPO_ROOT / "test-artifacts"
APP_API_KEY = API_KEYS[-1]
CLIENT_VARIABLES = ("STROKE_API_URL", "STROKE_API_KEY", "STROKE_CONNECT_TIMEOUT")


@pytest.fixture(scope="session")
def keyed_service_url(keyed_service) -> str:
    """The session's keyed service (tests/conftest.py), which answers callers with APP_API_KEY."""
    return keyed_service.url


@pytest.fixture
def closed_port_url() -> Iterator[str]:
    """A loopback URL nobody listens on: the service is down. The port stays bound (without
    listening, so connections are refused) so no other process can take it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent_service_url() -> Iterator[str]:
    """A socket that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., AppTest]]:
    """Start the app in AppTest against a service URL, with only the given client settings,
    as if served on ``address`` (loopback unless a test says otherwise)."""
    previous_address = streamlit_config.get_option("server.address")

    def start(
        api_url: str,
        api_key: str | None = None,
        read_timeout: float | None = None,
        secrets: dict[str, Any] | None = None,
        address: str = "127.0.0.1",
    ) -> AppTest:
        for name in (*CLIENT_VARIABLES, "STROKE_READ_TIMEOUT"):
            monkeypatch.delenv(name, raising=False)
        # The address `streamlit run --server.address` would serve on (make app: loopback).
        streamlit_config.set_option("server.address", address)
        monkeypatch.setenv("STROKE_API_URL", api_url)
        if api_key is not None:
            monkeypatch.setenv("STROKE_API_KEY", api_key)
        if read_timeout is not None:
            monkeypatch.setenv("STROKE_READ_TIMEOUT", str(read_timeout))
        at = AppTest.from_file(str(APP_PATH), default_timeout=60)
        at.secrets.update(secrets or {})
        return at.run()

    yield start
    streamlit_config.set_option("server.address", previous_address)


def fill_patient_form(
    at: AppTest,
    patient: dict[str, Any] | None = None,
    reference: str = "",
    glucose_key: str = "patient.avg_glucose_level",
) -> AppTest:
    """Answer every question of the form as a nurse would; a None BMI ticks 'not measured'.
    Glucose goes into `glucose_key` (the mmol/L input has its own)."""
    patient = dict(EXAMPLE_PATIENT if patient is None else patient)
    for field in form_fields():
        key, value = f"patient.{field.name}", patient[field.name]
        if field.name == "avg_glucose_level":
            key = glucose_key
        if field.name == "bmi" and value is None:
            at.checkbox(key="patient.bmi_not_measured").check()
        elif field.kind == "number":
            at.number_input(key=key).set_value(value)
        elif field.kind == "radio":
            at.radio(key=key).set_value(value)
        else:
            at.selectbox(key=key).set_value(value)
    at.text_input(key="patient.reference").input(reference)
    return at


def submit(at: AppTest) -> AppTest:
    return at.button(key="patient.submit").click().run()


def sample_upload(data_path: Path, rows: int = 12) -> pd.DataFrame:
    """The first rows of the data set as text, exactly as a practice would export them."""
    return pd.read_csv(data_path, dtype=str, keep_default_na=False).head(rows)


def require_browser() -> None:
    """Skip (locally) or fail (in CI) when Chromium or Playwright is missing."""
    problem = None
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problem = (
            f"Chromium is not installed at {CHROMIUM}: run `make system-deps` as root "
            "(or `apt-get install chromium`) to run the browser tests"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: run `make install`"
    if problem is not None:
        skip_or_fail(problem)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright (Playwright's own browser download is not used)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def app_url(service_url: str, tmp_path_factory) -> Iterator[str]:
    """The app served by `streamlit run`, talking to the real open service."""
    # The developer's own STROKE_* settings must not leak into the app under test.
    env = without_developer_settings() | {
        "STROKE_API_URL": service_url,
        "BENTOML_DO_NOT_TRACK": "true",
    }
    with streamlit_server(env, tmp_path_factory.mktemp("logs-streamlit")) as server:
        yield server.url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def example_assessment(**changes: Any) -> Assessment:
    """A realistic reply (high risk, an interval, a glucose what-if), without a service."""
    base = {
        "probability": 0.2263,
        "probability_interval": [0.1812, 0.2791],
        "percent": 22.6,
        "risk_band": "high",
        "risk_band_thresholds": (0.05, 0.15),
        "comparison": {
            "group": "Male, 60-69",
            "patients": 222,
            "average_risk": 0.0885,
            "observed_rate": 0.0856,
            "relative_risk": 2.56,
        },
        "reference_patient": {
            "description": "a 50.5-year-old woman who never smoked (the typical adult)",
            "probability": 0.0271,
            "values": {"age": 50.5, "bmi": 29.2},
        },
        "contributing_factors": [
            {
                "factor": "age",
                "label": "Age",
                "value": 67.0,
                "reference_value": 50.5,
                "odds_ratio": 3.21,
                "log_odds": 1.1663,
                "direction": "raises",
                "kind": "clinical",
            },
            {
                "factor": "bmi",
                "label": "BMI",
                "value": None,
                "reference_value": 29.2,
                "odds_ratio": 1.0,
                "log_odds": 0.0,
                "direction": "none",
                "kind": "clinical",
            },
        ],
        "context_factors": [
            {
                "factor": "residence_type",
                "label": "Residence",
                "value": "Rural",
                "reference_value": "Urban",
                "odds_ratio": 0.91,
                "log_odds": -0.0943,
                "direction": "lowers",
                "kind": "context",
            },
        ],
        "other_factors_log_odds": 0.9,
        "what_if": [
            {
                "factor": "avg_glucose_level",
                "change": "bring average glucose to 99 mg/dL",
                "current_value": 228.7,
                "target_value": 99.0,
                "probability": 0.1801,
                "absolute_reduction": 0.0462,
            },
        ],
        "guidance": [
            {
                "factor": "smoking_status",
                "advice": "Stopping smoking helps prevent strokes.",
                "why_not_from_model": "Not estimated by this model.",
                "source": "Guidelines.",
            }
        ],
        "warnings": [],
        "interval_crosses_band_edge": False,
        "data_support": "adequate",
        "data_support_note": None,
        "beyond_data": False,
        "extrapolated_fields": [],
        "beyond_data_note": None,
        "ranking_caveat": None,
        "not_recorded": [],
        "model_tag": "stroke_risk_model:test",
        "outcome": reply_outcome(SHIPPED),
    }
    return Assessment.model_validate(base | changes)


# Measurements the app's tests record with `record_property` (timings, sizes): shown at the
# end of the run, because speed bars are reported here, not asserted.
_MEASURED: list[tuple[str, str, object]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _MEASURED.extend((report.nodeid, name, value) for name, value in report.user_properties)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _MEASURED:
        terminalreporter.section("measured by the app's tests")
        for nodeid, name, value in _MEASURED:
            terminalreporter.write_line(f"{name} = {value}  ({nodeid.split('::')[-1]})")
