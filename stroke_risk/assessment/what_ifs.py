"""What-ifs the data can support, and guideline advice for the factors they cannot.

A what-if is the model's risk with one modifiable factor at a healthy value, all else
unchanged. It is shown only where this data set can estimate the factor's effect: the
model's effect and an age-adjusted estimate agree, and the estimate excludes no effect
(the model card's "What-ifs the data can support" table, from `make validate`). Measured
on the adults of the data set (age-adjusted odds ratios, 95% CI):

- glucose, per 50 mg/dL: 1.27 (1.13 to 1.41): supported.
- smoking, current vs never: 1.36 (0.92 to 2.02), and former smokers have the highest crude
  rate (8.1% against 5.4% for current smokers), because the label is cross-sectional and
  people who stopped after their stroke count as former smokers: not supported.
- BMI, per 5 kg/m²: 1.06 (0.95 to 1.19), 0.99 adjusted for the other factors: not supported.

Where a factor matters clinically but these data cannot estimate it, the reply carries
``guidance`` from clinical guidelines instead, labelled as not coming from the model. A
what-if from this model for smoking would read "quitting barely matters", which is false.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stroke_risk.assessment.results import GuidanceResult, WhatIfResult
from stroke_risk.core.config import Settings
from stroke_risk.core.schema import FEATURES
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.shape_functions import ShapeFunctions

_SMOKING = GuidanceResult(
    "smoking_status",
    "Stopping smoking helps prevent strokes; offer support to stop.",
    "Not estimated by this model: the data are cross-sectional, and people who stopped "
    "smoking after a stroke are recorded as former smokers.",
    "Clinical guidelines on primary prevention of stroke (e.g. AHA/ASA 2024; NICE).",
)
_WEIGHT = GuidanceResult(
    "bmi",
    "Weight loss in overweight or obesity lowers blood pressure and the risk of diabetes, "
    "both causes of stroke.",
    "Not estimated by this model: once age is accounted for, BMI shows no association "
    "with stroke in these data.",
    "Clinical guidelines on obesity and cardiovascular prevention (e.g. NICE).",
)
_BLOOD_PRESSURE = GuidanceResult(
    "hypertension",
    "Controlling blood pressure is the most effective way to prevent strokes; review "
    "treatment and targets.",
    "Not estimated by this model: the data record a diagnosis of hypertension, not whether "
    "it is controlled.",
    "Clinical guidelines on hypertension (e.g. NICE NG136; ESC/ESH).",
)


class WhatIfs:
    """The supported changes' targets and risks, and the guidance, for one or many."""

    def __init__(
        self,
        lean: LeanModel,
        settings: Settings,
        reference: Columns,
        shapes: ShapeFunctions | None,
    ) -> None:
        self.settings = settings
        self.changes: tuple[tuple[str, str, Any], ...] = (
            (
                "avg_glucose_level",
                f"bring average glucose to {settings.healthy_glucose:g} mg/dL",
                settings.healthy_glucose,
            ),
        )
        encoder = lean.encoder
        self.slices = encoder.slices()
        # The encoded value of each change's target, written straight into encoded rows.
        self.change_rows = []
        for factor, _, target in self.changes:
            column = {**reference, factor: np.array([target], dtype=reference[factor].dtype)}
            self.change_rows.append(encoder.encode(column)[0, self.slices[factor]])
        # For additive models, the position and term of each change's target.
        self.target_terms = (
            [
                (FEATURES.index(factor), shapes.term(factor, target))
                for factor, _, target in self.changes
            ]
            if shapes is not None
            else None
        )

    def __len__(self) -> int:
        return len(self.changes)

    def applies_one(self, values: dict[str, Any]) -> list[bool]:
        """Which changes apply to one patient (the factor is not already healthy)."""
        return [values["avg_glucose_level"] > self.settings.healthy_glucose]

    def applies(self, columns: Columns) -> list[np.ndarray]:
        """Which changes apply to each patient: one boolean array per change."""
        return [columns["avg_glucose_level"] > self.settings.healthy_glucose]

    def changed_margins_one(
        self, margin: float, terms: list[float], applies: list[bool]
    ) -> list[float]:
        """An additive model's log-odds with each change made, for one patient."""
        assert self.target_terms is not None  # nosec B101  # type narrowing, not a check
        return [
            margin - terms[k] + target if applies[c] else margin
            for c, (k, target) in enumerate(self.target_terms)
        ]

    def changed_margins(
        self, margin: np.ndarray, terms: np.ndarray, applies: list[np.ndarray]
    ) -> np.ndarray:
        """An additive model's log-odds with each change made: [changes, n]."""
        assert self.target_terms is not None  # nosec B101  # type narrowing, not a check
        changed = np.empty((len(self.changes), len(margin)))
        for c, (k, target) in enumerate(self.target_terms):
            changed[c] = np.where(applies[c], margin - terms[:, k] + target, margin)
        return changed

    def set_changed(self, variants: np.ndarray, first: int, applies: list[np.ndarray]) -> None:
        """In encoded variant rows ``first + c``, make change ``c`` where it applies."""
        for c, ((factor, _, _), row) in enumerate(zip(self.changes, self.change_rows, strict=True)):
            variants[first + c][applies[c], self.slices[factor]] = row

    def results(
        self,
        values: dict[str, Any],
        probability: list[float],
        reduction: list[float],
        applies: list[bool],
    ) -> list[WhatIfResult]:
        """The reply's ``what_if``: one entry per change that applies."""
        return [
            WhatIfResult(factor, change, values[factor], target, probability[c], reduction[c])
            for c, (factor, change, target) in enumerate(self.changes)
            if applies[c]
        ]

    def guidance(self, values: dict[str, Any]) -> list[GuidanceResult]:
        """Guideline advice for the factors the data cannot estimate, where it applies."""
        out = []
        if values["hypertension"] == 1:
            out.append(_BLOOD_PRESSURE)
        if values["smoking_status"] == "smokes":
            out.append(_SMOKING)
        bmi = values["bmi"]
        if bmi is not None and bmi > self.settings.healthy_bmi:
            out.append(_WEIGHT)
        return out
