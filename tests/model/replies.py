"""Helpers for the reply tests: patients from the data set, replies as plain data, and a
made-up evidence row."""

from __future__ import annotations

import pandas as pd

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.assessment.results import as_builtins
from stroke_risk.core.evidence import GlucoseRangeEffect
from stroke_risk.core.schema import ADULT_AGE, FEATURES, Patient


def assess(assessor: RiskAssessor, patients: list[Patient]) -> list[dict]:
    """The results as the plain data a client decodes."""
    return as_builtins(assessor.assess(patients))


def adult_patients(stroke_data: pd.DataFrame, n: int | None = None, seed: int = 1) -> list[Patient]:
    adults = stroke_data[stroke_data["age"] >= ADULT_AGE]
    sample = adults if n is None else adults.sample(n, random_state=seed)
    frame = sample[list(FEATURES)].astype(object)
    rows = frame.where(frame.notna(), None).to_dict(orient="records")
    return [Patient.model_validate(row) for row in rows]


def effect_within(
    low: float, high: float | None, ci: tuple[float, float], odds_ratio: float | None = None
) -> GlucoseRangeEffect:
    """A glucose range's within-range effect, as the evidence record holds it."""
    return GlucoseRangeEffect(
        low=low,
        high=high,
        label=f"from {low:g}",
        odds_ratio=odds_ratio if odds_ratio is not None else (ci[0] * ci[1]) ** 0.5,
        ci=ci,
        patients=500,
        strokes=50,
    )
