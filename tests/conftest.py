"""Shared fixtures: the data set, one quick model trained once per test session, and the
real services that serve it.

Each session gets its own BentoML home in a temporary folder, removed when the session
ends, so tests never touch (or depend on) the developer's model store, and usage tracking
is off. The developer's own STROKE_* settings are removed for the whole session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ["BENTOML_HOME"] = tempfile.mkdtemp(prefix="stroke-risk-bentoml-")
os.environ["BENTOML_DO_NOT_TRACK"] = "true"

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from stroke_risk.core.config import DATA_FILE_NAME, REPO_ROOT, get_settings  # noqa: E402
from stroke_risk.core.schema import FEATURES, Patient  # noqa: E402
from stroke_risk.training.dataset import load_training_data  # noqa: E402
from tests.environment import TEST_SERVER_SETTINGS, without_developer_settings  # noqa: E402

EXAMPLE_PATIENT: dict[str, object] = Patient.model_config["json_schema_extra"]["example"]

# The keyed service: callers need one of these keys, and every setting that changes what is
# served is moved off its default, so a test can see each one take effect.
API_KEYS = ("first-key-0123456789", "second-key-abcdefgh", "app-test-key-3c1d")
KEYED_SERVICE_SETTINGS = {
    "STROKE_API_KEYS": ",".join(API_KEYS),
    "STROKE_RISK_BAND_THRESHOLDS": "0.002,0.004",
    "STROKE_MAX_BATCH_SIZE": "250",
}


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's BentoML home (the model store of the quick model)."""
    shutil.rmtree(os.environ["BENTOML_HOME"], ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def no_developer_settings() -> Iterator[None]:
    """Remove the developer's STROKE_* settings (keeping STROKE_DATA) and run one worker
    per test server, for the whole session; a test that needs another value sets it with
    ``monkeypatch`` or passes it to its server."""
    with pytest.MonkeyPatch.context() as patch:
        for name in set(os.environ) - set(without_developer_settings(os.environ)):
            patch.delenv(name)
        patch.setenv("STROKE_WORKERS", TEST_SERVER_SETTINGS["STROKE_WORKERS"])
        get_settings.cache_clear()  # settings read before this, e.g. at import, are dropped
        yield
    get_settings.cache_clear()


@pytest.fixture
def refused_settings(capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Read the settings afresh from the environment a test has set, which they must refuse:
    what get_settings() wrote to stderr before it stopped the process (SystemExit). The
    cache is cleared before and after, so no other test sees these settings."""

    def read() -> str:
        get_settings.cache_clear()
        try:
            with pytest.raises(SystemExit):
                get_settings()
        finally:
            get_settings.cache_clear()
        return capsys.readouterr().err

    return read


def _data_path() -> Path:
    for candidate in (REPO_ROOT / DATA_FILE_NAME, Path(os.environ.get("STROKE_DATA", "-"))):
        if candidate.is_file():
            return candidate
    pytest.fail(f"the data set is missing: run `make data` (expected {REPO_ROOT / DATA_FILE_NAME})")


@pytest.fixture(scope="session")
def data_path() -> Path:
    return _data_path()


@pytest.fixture(scope="session")
def stroke_data(data_path: Path) -> pd.DataFrame:
    return load_training_data(data_path)


@pytest.fixture(scope="session")
def bentoml_home() -> Path:
    return Path(os.environ["BENTOML_HOME"])


@pytest.fixture(scope="session")
def quick_training(data_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run `training.py --quick` end to end, as a user would, into the session's store."""
    reports = tmp_path_factory.mktemp("reports")
    completed = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "training.py"),
            "--quick",
            "--data",
            str(data_path),
            "--output-dir",
            str(reports),
            "--seed",
            "7",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return {"reports": reports, "log": completed.stderr}


@pytest.fixture(scope="session")
def stored_model(quick_training: dict):
    from stroke_risk.training.model_store import load_stored_model

    return load_stored_model("stroke_risk_model:latest")


@pytest.fixture
def example_patient() -> dict[str, object]:
    return dict(EXAMPLE_PATIENT)


def patients_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FEATURES))


@pytest.fixture(scope="session")
def service(quick_training, bentoml_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real `bentoml serve` of the quick model, without API keys."""
    from tests.servers import bentoml_server, private_bentoml_home

    home = private_bentoml_home(bentoml_home, tmp_path_factory.mktemp("home-open"))
    with bentoml_server(home, tmp_path_factory.mktemp("logs-open")) as server:
        yield server


@pytest.fixture(scope="session")
def service_url(service) -> str:
    return service.url


@pytest.fixture(scope="session")
def keyed_service(quick_training, bentoml_home: Path, tmp_path_factory: pytest.TempPathFactory):
    """A second real service: API keys required, and KEYED_SERVICE_SETTINGS in force.

    One for the whole session: the service, app and load tests all use it.
    """
    from tests.servers import bentoml_server, private_bentoml_home

    home = private_bentoml_home(bentoml_home, tmp_path_factory.mktemp("home-keyed"))
    with bentoml_server(
        home, tmp_path_factory.mktemp("logs-keyed"), env=KEYED_SERVICE_SETTINGS
    ) as server:
        yield server
