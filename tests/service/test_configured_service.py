"""Settings take effect in the real service: the keyed service (tests/conftest.py) runs with
other risk-band thresholds and a smaller batch limit than the open one."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import API_KEYS, EXAMPLE_PATIENT, KEYED_SERVICE_SETTINGS
from tests.service.test_api import ADULTS, served_bands

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {API_KEYS[0]}"}
THRESHOLDS = tuple(
    float(t) for t in KEYED_SERVICE_SETTINGS["STROKE_RISK_BAND_THRESHOLDS"].split(",")
)
MAX_BATCH = int(KEYED_SERVICE_SETTINGS["STROKE_MAX_BATCH_SIZE"])


def predict_batch(url: str, patients: list[dict]) -> requests.Response:
    return requests.post(
        f"{url}/predict_batch", json={"patients": patients}, headers=HEADERS, timeout=60
    )


def test_the_band_thresholds_setting_moves_the_served_bands(keyed_service, service_url):
    configured = predict_batch(keyed_service.url, ADULTS).json()["results"]
    bands = served_bands(configured, THRESHOLDS)
    assert len(bands) >= len(ADULTS) - 2
    assert all(served == expected for served, expected in bands), bands
    # The same patients, banded by the open service with the defaults, differ.
    default = requests.post(
        f"{service_url}/predict_batch", json={"patients": ADULTS}, timeout=60
    ).json()["results"]
    assert [r["probability"] for r in configured] == [r["probability"] for r in default]
    assert [r["risk_band"] for r in configured] != [r["risk_band"] for r in default]


def test_the_max_batch_size_setting_sets_the_batch_limit(keyed_service):
    assert predict_batch(keyed_service.url, [EXAMPLE_PATIENT] * MAX_BATCH).status_code == 200
    refused = predict_batch(keyed_service.url, [EXAMPLE_PATIENT] * (MAX_BATCH + 1))
    assert refused.status_code == 400
    assert f"at most {MAX_BATCH}" in refused.text
