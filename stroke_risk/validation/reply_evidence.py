"""The evidence record saved with the model, for the reply to quote (core.evidence).

Built from the same numbers ``make validate`` writes to ``reports/metrics.json``:

- the glucose effect within each glucose range (``what_if_evidence.glucose_within_ranges``),
  computed in seconds, so every trained model carries it (``make train`` too);
- how well the model ranks patients within each adult age band, from the out-of-fold
  subgroup table of ``make validate`` (repeated cross-validation). A model trained without
  validation has no such record, and its replies carry no ranking caveat rather than one
  made up.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from stroke_risk.core.evidence import (
    AgeBandRanking,
    GlucoseRangeEffect,
    ReplyEvidence,
    finite_or_none,
)
from stroke_risk.validation.what_if_evidence import glucose_within_ranges


def _pair(values: Any) -> tuple[float, float] | None:
    if not values:
        return None
    low, high = (finite_or_none(v) for v in values)
    return None if low is None or high is None else (low, high)


def age_band_ranking(subgroup_rows: list[dict[str, Any]]) -> list[AgeBandRanking]:
    """The age-band rows of a subgroup table (``subgroups.subgroup_performance``)."""
    return [
        AgeBandRanking(
            band=row["group"],
            patients=row["patients"],
            strokes=row["strokes"],
            roc_auc=finite_or_none(row.get("roc_auc")),
            roc_auc_ci=_pair(row.get("roc_auc_ci")),
            calibration_slope=finite_or_none(row.get("calibration_slope")),
            calibration_slope_ci=_pair(row.get("calibration_slope_ci")),
        )
        for row in subgroup_rows
        if row["grouping"] == "age_band"
    ]


def glucose_ranges(within: dict[str, Any]) -> list[GlucoseRangeEffect]:
    """The ranges of ``glucose_within_ranges``' result, as the reply reads them."""
    return [
        GlucoseRangeEffect(
            low=row["low"],
            high=row["high"],
            label=row["label"],
            odds_ratio=row["odds_ratio"],
            ci=tuple(row["ci"]),
            patients=row["patients"],
            strokes=row["strokes"],
        )
        for row in within["ranges"]
    ]


def reply_evidence(data: pd.DataFrame, validation: dict[str, Any] | None) -> ReplyEvidence:
    """The record for a model developed on ``data``; ``validation`` is ``make validate``'s
    result (``validate_chosen_model``), or None when the model was not validated."""
    if validation is not None:
        within = validation["what_if_evidence"]["glucose_within_ranges"]
        population = validation["intended_population"]
        ranking = age_band_ranking(population["subgroups"])
        cv = validation["validation"]["repeated_cv"]
        ranking_method = (
            f"out-of-fold, {cv.get('n_splits', 5)}-fold cross-validation repeated "
            f"{cv.get('n_repeats', '?')} times, adults"
        )
    else:
        within = glucose_within_ranges(data)
        ranking, ranking_method = [], ""
    return ReplyEvidence(
        glucose_ranges=glucose_ranges(within),
        glucose_method=within["method"],
        age_band_ranking=ranking,
        ranking_method=ranking_method,
    )
