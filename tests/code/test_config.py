"""Settings: every knob is read from a STROKE_ variable, and bad values are refused.

The developer's own STROKE_* variables are removed for the whole session (tests/conftest.py),
so the defaults checked here are the code's, not the shell's.
"""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from stroke_risk.core.config import Settings


def test_the_request_timeout_is_short_by_default_and_configurable(monkeypatch):
    assert Settings().request_timeout == 5.0
    monkeypatch.setenv("STROKE_REQUEST_TIMEOUT", "12.5")
    assert Settings().request_timeout == 12.5


def test_the_service_runs_one_worker_per_cpu_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("STROKE_WORKERS")  # the tests' own servers run one
    assert Settings().workers == "cpu_count"  # BentoML's own, cgroup-aware count
    monkeypatch.setenv("STROKE_WORKERS", "3")
    assert Settings().workers == 3


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_worker_count_that_is_not_a_positive_number_is_refused(monkeypatch, value):
    monkeypatch.setenv("STROKE_WORKERS", value)
    with pytest.raises(ValidationError, match="workers"):
        Settings()


def test_risk_band_thresholds_are_read_as_a_comma_separated_pair(monkeypatch):
    monkeypatch.setenv("STROKE_RISK_BAND_THRESHOLDS", "0.1, 0.3")
    assert Settings().risk_band_thresholds == [0.1, 0.3]


@pytest.mark.parametrize("value", ["0.3,0.1", "0.1", "0,0.2", "0.1,1.5"])
def test_thresholds_that_are_not_two_increasing_probabilities_are_refused(monkeypatch, value):
    monkeypatch.setenv("STROKE_RISK_BAND_THRESHOLDS", value)
    with pytest.raises(ValidationError, match="two increasing probabilities"):
        Settings()


def test_api_keys_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("STROKE_API_KEYS", "key-one, key-two,")
    assert Settings().api_keys == ["key-one", "key-two"]


def test_the_developers_settings_do_not_reach_the_tests():
    """Only STROKE_DATA (where the data set is) and the test servers' one worker remain."""
    assert {name for name in os.environ if name.startswith("STROKE_")} <= {
        "STROKE_DATA",
        "STROKE_WORKERS",
    }
    assert os.environ["STROKE_WORKERS"] == "1"


@pytest.mark.parametrize(
    ("variable", "value", "field", "default", "expected"),
    [
        ("STROKE_MAX_BATCH_SIZE", "250", "max_batch_size", 10_000, 250),
        ("STROKE_HEALTHY_BMI", "23.5", "healthy_bmi", 24.9, 23.5),
        ("STROKE_HEALTHY_GLUCOSE", "110", "healthy_glucose", 99.0, 110.0),
        ("STROKE_TOP_FACTORS", "3", "top_factors", 5, 3),
    ],
)
def test_each_setting_has_its_documented_default_and_is_read_from_its_variable(
    monkeypatch, variable, value, field, default, expected
):
    assert getattr(Settings(), field) == default
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), field) == expected
