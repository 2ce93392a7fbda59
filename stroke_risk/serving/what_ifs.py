"""What-ifs: the risk if one modifiable factor were at a healthy value, all else unchanged.

Only factors not already at a healthy value get one. The data are cross-sectional, so a
what-if describes how risk differs between otherwise similar patients, not a proven effect
of changing one factor; the README and model card say so too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stroke_risk.core.config import Settings
from stroke_risk.core.schema import FEATURES
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.shape_functions import ShapeFunctions
from stroke_risk.serving.results import WhatIfResult


class WhatIfs:
    """The modifiable factors' healthy targets, and the risk at each, for one or many."""

    def __init__(
        self,
        lean: LeanModel,
        settings: Settings,
        reference: Columns,
        shapes: ShapeFunctions | None,
    ) -> None:
        self.settings = settings
        self.changes: tuple[tuple[str, str, Any], ...] = (
            ("smoking_status", "stop smoking", "formerly smoked"),
            ("bmi", f"reach a BMI of {settings.healthy_bmi:g}", settings.healthy_bmi),
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
        bmi = values["bmi"]
        return [
            values["smoking_status"] == "smokes",
            bmi is not None and bmi > self.settings.healthy_bmi,
            values["avg_glucose_level"] > self.settings.healthy_glucose,
        ]

    def applies(self, columns: Columns) -> list[np.ndarray]:
        """Which changes apply to each patient: one boolean array per change."""
        with np.errstate(invalid="ignore"):
            return [
                columns["smoking_status"] == "smokes",
                columns["bmi"] > self.settings.healthy_bmi,
                columns["avg_glucose_level"] > self.settings.healthy_glucose,
            ]

    def changed_margins_one(
        self, margin: float, terms: list[float], applies: list[bool]
    ) -> list[float]:
        """An additive model's log-odds with each change made, for one patient."""
        assert self.target_terms is not None
        return [
            margin - terms[k] + target if applies[c] else margin
            for c, (k, target) in enumerate(self.target_terms)
        ]

    def changed_margins(
        self, margin: np.ndarray, terms: np.ndarray, applies: list[np.ndarray]
    ) -> np.ndarray:
        """An additive model's log-odds with each change made: [changes, n]."""
        assert self.target_terms is not None
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
