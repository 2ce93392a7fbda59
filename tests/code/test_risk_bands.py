"""Risk bands: where each band starts, and that the thresholds are the settings'."""

from __future__ import annotations

import math

import pytest

from stroke_risk.assessment.bands import risk_band
from stroke_risk.core.config import Settings

DEFAULT = tuple(Settings().risk_band_thresholds)


@pytest.mark.parametrize(
    ("probability", "band"),
    [
        (0.0, "low"),
        (math.nextafter(DEFAULT[0], 0), "low"),
        (DEFAULT[0], "moderate"),
        (math.nextafter(DEFAULT[1], 0), "moderate"),
        (DEFAULT[1], "high"),
        (1.0, "high"),
    ],
)
def test_each_threshold_is_the_first_probability_of_the_band_above(probability, band):
    assert DEFAULT == (0.05, 0.15)  # the documented defaults
    assert risk_band(probability, DEFAULT) == band


def test_other_thresholds_move_the_bands(monkeypatch):
    monkeypatch.setenv("STROKE_RISK_BAND_THRESHOLDS", "0.01,0.02")
    thresholds = tuple(Settings().risk_band_thresholds)
    assert [risk_band(p, thresholds) for p in (0.005, 0.01, 0.03)] == ["low", "moderate", "high"]
    assert [risk_band(p, DEFAULT) for p in (0.005, 0.01, 0.03)] == ["low", "low", "low"]
