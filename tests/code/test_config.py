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


@pytest.mark.parametrize("value", [" , ", "", ",,"])
def test_a_key_list_with_no_key_is_refused(monkeypatch, value):
    """It once parsed to no keys and opened the service without a word (security review)."""
    monkeypatch.setenv("STROKE_API_KEYS", value)
    with pytest.raises(ValidationError, match="is set but holds no key"):
        Settings()


@pytest.mark.parametrize("value", ['{"api_keys":"k1,k2"}', ' ["k1"]', '"k1"'])
def test_a_key_list_that_looks_like_json_is_refused_with_the_secrets_manager_hint(
    monkeypatch, value
):
    monkeypatch.setenv("STROKE_API_KEYS", value)
    with pytest.raises(ValidationError, match=r"looks like JSON.*:<json key>::"):
        Settings()


def test_anonymous_access_is_off_unless_asked_for(monkeypatch):
    monkeypatch.delenv("STROKE_ALLOW_ANONYMOUS", raising=False)
    assert Settings().allow_anonymous is False
    monkeypatch.setenv("STROKE_ALLOW_ANONYMOUS", "true")
    assert Settings().allow_anonymous is True


@pytest.mark.parametrize(
    ("variable", "field", "default"),
    [
        ("STROKE_PREDICT_MAX_BODY_BYTES", "predict_max_body_bytes", 16 * 1024),
        ("STROKE_BATCH_MAX_BODY_BYTES", "batch_max_body_bytes", 4 * 1024 * 1024),
        ("STROKE_EHR_MAX_BODY_BYTES", "ehr_max_body_bytes", 1024 * 1024),
    ],
)
def test_body_limits_have_their_defaults_and_are_read(monkeypatch, variable, field, default):
    assert getattr(Settings(), field) == default
    monkeypatch.setenv(variable, "65536")
    assert getattr(Settings(), field) == 65536


@pytest.mark.parametrize("variable", ["STROKE_DOCS", "STROKE_METRICS"])
def test_docs_and_metrics_need_a_key_by_default_and_take_open_key_or_off(monkeypatch, variable):
    field = variable.removeprefix("STROKE_").lower()
    assert getattr(Settings(), field) == "key"
    monkeypatch.setenv(variable, "off")
    assert getattr(Settings(), field) == "off"
    monkeypatch.setenv(variable, "maybe")
    with pytest.raises(ValidationError):
        Settings()


def test_a_refused_setting_stops_the_process_in_one_line_naming_it(monkeypatch, refused_settings):
    monkeypatch.setenv("STROKE_API_KEYS", " , ")
    (line,) = refused_settings().splitlines()
    assert line.startswith("error: STROKE_API_KEYS is set but holds no key")
