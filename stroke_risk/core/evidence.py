"""The evidence the clinical reply quotes, recorded with the model at training.

Two things the reply may say only where the data back them, and the numbers behind each:

- a glucose what-if, only where an age-adjusted effect of glucose *within the patient's own
  glucose range* excludes no effect (:class:`GlucoseRangeEffect`, from
  ``stroke_risk.validation.what_if_evidence``);
- a ranking caveat, where the model's own validation shows it barely ranks patients of one
  age band (:class:`AgeBandRanking`, from the out-of-fold subgroup table of
  ``make validate``).

Training writes this record into the model's metadata (key :data:`EVIDENCE_METADATA_KEY`)
and the same numbers into ``reports/metrics.json``; serving reads it back with the lean
model (``StoredLean.evidence``) and never imports statsmodels. A model saved without it
gets no glucose what-if and no ranking caveat: nothing is quoted that was not measured.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVIDENCE_METADATA_KEY = "reply_evidence"

# The edge between the two glucose ranges whose effects are estimated apart: an average
# glucose of 140 mg/dL corresponds to an HbA1c of 6.5% (ADAG: eAG = 28.7 x A1C - 46.7
# mg/dL, Nathan et al., Diabetes Care 2008), the level that diagnoses diabetes. Above and
# below it the data hold two clusters, and the overall slope is mostly the gap between them.
GLUCOSE_RANGE_EDGE = 140.0

# Fewer strokes than this in a group: too few to judge the model there. The subgroup
# table flags such groups, and the reply calls the data support of their patients thin.
MIN_EVENTS_TO_JUDGE = 10

# Hosmer & Lemeshow (Applied Logistic Regression, 3rd ed., 2013, section 5.2.4): an AUC
# under 0.7 is poor discrimination. Below it within an age band, the reply says so.
POOR_DISCRIMINATION_AUC = 0.7


class GlucoseRangeEffect(BaseModel):
    """The age-adjusted odds ratio per 50 mg/dL among adults whose glucose is in one range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    low: float = Field(description="mg/dL, inclusive.")
    high: float | None = Field(default=None, description="mg/dL, exclusive; None: open.")
    label: str = Field(description="e.g. 'under 140 mg/dL'.")
    odds_ratio: float
    ci: tuple[float, float] = Field(description="Wald 95% interval.")
    patients: int
    strokes: int

    @property
    def excludes_no_effect(self) -> bool:
        """Whether the whole interval lies on one side of 1."""
        return self.ci[0] > 1.0 or self.ci[1] < 1.0

    def holds(self, glucose: float) -> bool:
        return self.low <= glucose and (self.high is None or glucose < self.high)


class AgeBandRanking(BaseModel):
    """How well the model ranks patients within one age band, out of fold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    band: str = Field(description="e.g. '80+', as core.age_bands names it.")
    patients: int
    strokes: int
    roc_auc: float | None = None
    roc_auc_ci: tuple[float, float] | None = None
    calibration_slope: float | None = None
    calibration_slope_ci: tuple[float, float] | None = None

    @property
    def ranks_poorly(self) -> bool:
        return self.roc_auc is not None and self.roc_auc < POOR_DISCRIMINATION_AUC


class ReplyEvidence(BaseModel):
    """What the reply may quote about the model, with where the numbers come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    glucose_ranges: list[GlucoseRangeEffect] = Field(default_factory=list)
    glucose_method: str = ""
    age_band_ranking: list[AgeBandRanking] = Field(default_factory=list)
    ranking_method: str = ""

    def glucose_range(self, glucose: float) -> GlucoseRangeEffect | None:
        return next((r for r in self.glucose_ranges if r.holds(glucose)), None)

    def ranking(self, band: str) -> AgeBandRanking | None:
        return next((r for r in self.age_band_ranking if r.band == band), None)


NO_EVIDENCE = ReplyEvidence()


def evidence_metadata(evidence: ReplyEvidence) -> dict[str, Any]:
    """The record as the model store keeps it: plain JSON, no nulls (BentoML's metadata
    refuses None; an absent key reads back as None)."""
    return evidence.model_dump(mode="json", exclude_none=True)


def evidence_from_metadata(metadata: dict[str, Any]) -> ReplyEvidence:
    """The evidence recorded with a stored model; none for models saved before it existed."""
    recorded = metadata.get(EVIDENCE_METADATA_KEY)
    return NO_EVIDENCE if recorded is None else ReplyEvidence.model_validate(recorded)


def finite_or_none(value: Any) -> float | None:
    """A metric as a float, or None where it is undefined (NaN, None)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
