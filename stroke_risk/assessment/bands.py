"""The risk band a probability falls in: low, moderate or high."""

from __future__ import annotations

from stroke_risk.core.responses import RiskBand


def risk_band(probability: float, thresholds: tuple[float, float]) -> RiskBand:
    """``low < thresholds[0] <= moderate < thresholds[1] <= high`` (STROKE_RISK_BAND_THRESHOLDS)."""
    low, high = thresholds
    return "low" if probability < low else "moderate" if probability < high else "high"
