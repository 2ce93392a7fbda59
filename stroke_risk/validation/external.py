"""External validation: a stored model's measures on another site's cohort.

The same measures as the development's internal validation (``horizon_metrics``), on
patients the model never saw, beside the model's development figures from its metadata,
with Riley et al.'s sample-size guidance for validation studies and a warning below it.
The model scores the patients through its lean copy, exactly as the service would.
"""

from __future__ import annotations

from typing import Any

from stroke_risk.training.cohort import Cohort
from stroke_risk.training.lean_compile import frame_to_columns
from stroke_risk.training.model_store import load_stored_model
from stroke_risk.validation.horizon_metrics import (
    horizon_measures,
    sample_size_guidance,
    subgroup_measures,
)


def validate_external(tag: str, cohort: Cohort, horizon: float | None = None) -> dict[str, Any]:
    """Every horizon measure of the stored model ``tag`` on ``cohort``."""
    stored = load_stored_model(tag)
    outcome = stored.outcome
    horizon = stored.horizon(
        horizon,
        "give the horizon to validate it at (HORIZON=5), knowing that its number was never "
        "meant as a future risk",
    )
    if outcome.horizon_years is not None and horizon != outcome.horizon_years:
        raise ValueError(
            f"{stored.tag} estimates the {outcome.horizon_words} risk: validate it at "
            f"{outcome.horizon_years:g} years, not {horizon:g}"
        )
    frame = cohort.frame
    risk = stored.lean.predict(frame_to_columns(frame))
    measures = horizon_measures(frame, risk, horizon)
    low, high = measures["observed_expected_ci95"]
    return {
        "model_tag": stored.tag,
        "model_outcome": outcome.model_dump(exclude_none=True),
        "cohort": cohort.describe(),
        "external_validation": measures,
        "miscalibrated_in_the_large": not (low <= 1.0 <= high),
        "development": stored.metadata.get("internal_validation"),
        "subgroups": subgroup_measures(frame, risk, horizon, cohort.group_columns),
        "sample_size": sample_size_guidance(measures["strokes_by_horizon"]),
    }
