"""The HTTP API against a real `bentoml serve`: good answers, clear refusals, no leaks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import requests

from stroke_risk.schema import FEATURES, categories
from tests.conftest import EXAMPLE_PATIENT

pytestmark = pytest.mark.slow


def post(url: str, path: str, body, **kwargs) -> requests.Response:
    return requests.post(f"{url}{path}", json=body, timeout=30, **kwargs)


def test_one_patient_gets_an_explained_calibrated_risk(service_url, stored_model):
    reply = post(service_url, "/predict", EXAMPLE_PATIENT)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert 0 <= result["probability"] <= 1
    assert result["percent"] == pytest.approx(100 * result["probability"], abs=0.06)
    assert result["risk_band"] in {"low", "moderate", "high"}
    assert result["model_tag"] == stored_model.tag
    assert "not a diagnosis" in result["disclaimer"]
    assert {f["factor"] for f in result["contributing_factors"]} <= set(FEATURES)
    assert result["comparison"]["group"] == "Female, 40-49"
    assert result["comparison"]["patients"] > 0
    # BMI 37.2 is above the healthy range, glucose 112.98 above normal; not a smoker.
    assert {w["factor"] for w in result["what_if"]} == {"bmi", "avg_glucose_level"}
