"""What drives a patient's risk: each factor's effect against the typical patient.

A factor's effect is the patient's probability minus the probability if only that factor
were at the training population's typical value (the profile's reference patient). For an
additive model that swaps one term of the log-odds sum (see
:mod:`stroke_risk.scoring.shape_functions`); for a decision tree it scores one variant row
per factor with that factor's encoded columns set to the reference's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, Patient
from stroke_risk.scoring.lean import Columns, LeanModel
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.shape_functions import ShapeFunctions
from stroke_risk.serving.results import FactorResult

_DIRECTIONS = {1: "raises", -1: "lowers", 0: "none"}


def reference_columns(profile: TrainingProfile) -> Columns:
    """The profile's reference (typical) patient as one-row columns."""
    return {
        name: np.array([value], dtype=float if name in NUMERIC_FEATURES else object)
        for name, value in profile.reference.items()
    }


class Drivers:
    """Each factor's risk-if-typical and effect, for one patient or many."""

    def __init__(
        self,
        lean: LeanModel,
        profile: TrainingProfile,
        shapes: ShapeFunctions | None,
        top_factors: int,
    ) -> None:
        self.top_factors = top_factors
        self.slices = lean.encoder.slices()
        self.reference_row = lean.encoder.encode(reference_columns(profile))[0]
        # Plain lists, read once per factor of every result of a batch.
        self.names = list(FEATURES)
        self.labels = [Patient.model_fields[name].title or name for name in FEATURES]
        self.typical = [profile.reference[name] for name in FEATURES]
        self.reference_terms = (
            [shapes.term(name, profile.reference[name]) for name in FEATURES]
            if shapes is not None
            else None
        )

    def typical_margins_one(self, margin: float, terms: list[float]) -> list[float]:
        """An additive model's log-odds with each factor typical, for one patient."""
        assert self.reference_terms is not None
        return [
            margin - term + reference
            for term, reference in zip(terms, self.reference_terms, strict=True)
        ]

    def typical_margins(self, margin: np.ndarray, terms: np.ndarray) -> np.ndarray:
        """An additive model's log-odds with each factor typical: [n, factors]."""
        return margin[:, None] - terms + np.array(self.reference_terms)[None, :]

    def set_typical(self, variants: np.ndarray, first: int) -> None:
        """In encoded variant rows ``first + k``, set factor ``k`` to the reference's value."""
        for k, name in enumerate(FEATURES, start=first):
            variants[k][:, self.slices[name]] = self.reference_row[self.slices[name]]

    def results(
        self,
        values: dict[str, Any],
        risk_if_typical: list[float],
        effects: list[float],
        direction: list[int],
        top: list[int],
    ) -> list[FactorResult]:
        """The reply's ``contributing_factors``: the ``top`` factors, largest effect first."""
        names = self.names
        return [
            FactorResult(
                names[k],
                self.labels[k],
                values[names[k]],
                self.typical[k],
                risk_if_typical[k],
                effects[k],
                _DIRECTIONS[direction[k]],
            )
            for k in top
        ]
