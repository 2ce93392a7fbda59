"""An additive model read as one shape function per patient field.

For logistic regression and depth-one XGBoost the log-odds is a sum of one term per
field: ``margin = offset + term_age(age) + term_sex(sex) + ...``. Reading those terms
straight from the patient's values (a table lookup for categories and flags, a step or a
line for numbers) is all the explanations need: the risk with one factor at its typical
value, or at a healthy target, is the same sum with one term swapped. It also lets a
single patient be scored in plain Python, with no array set-up, which is most of what a
one-patient request costs. Both paths add the terms in the same order, so they agree.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any

import numpy as np

from stroke_risk.core.schema import CATEGORICAL_FEATURES, FEATURES, FLAG_FEATURES, NUMERIC_FEATURES
from stroke_risk.scoring.lean import AdditiveTreesScore, Columns, LeanModel, LinearScore


def is_additive(lean: LeanModel) -> bool:
    return isinstance(lean.score, LinearScore | AdditiveTreesScore)


class ShapeFunctions:
    """``term(field, value)`` for every field of an additive lean model."""

    def __init__(self, lean: LeanModel) -> None:
        if not is_additive(lean):
            raise TypeError(f"{type(lean.score).__name__} is not additive")
        self.lean = lean
        score = lean.score
        encoder = lean.encoder
        slices = encoder.slices()
        self.offset = float(score.offset)
        self.tables: dict[str, dict[Any, float]] = {}

        def term_of(row: np.ndarray, name: str) -> float:
            return float(score.terms(row[None])[0, slices[name]].sum())

        for name, values, rows in zip(
            CATEGORICAL_FEATURES, encoder.categories, encoder.category_rows, strict=True
        ):
            self.tables[name] = {}
            for code, value in enumerate(values):
                row = np.zeros(encoder.width)
                row[slices[name]] = rows[code]
                self.tables[name][value] = term_of(row, name)
        for name in FLAG_FEATURES:
            self.tables[name] = {}
            for value in (0, 1):
                row = np.zeros(encoder.width)
                row[slices[name].start] = value
                self.tables[name][value] = term_of(row, name)
        self.numeric: dict[str, tuple[float, float, float, int]] = {
            name: (
                float(encoder.medians[i]),
                float(encoder.means[i]),
                float(encoder.scales[i]),
                slices[name].start,
            )
            for i, name in enumerate(NUMERIC_FEATURES)
        }
        if isinstance(score, LinearScore):
            self._coef = [float(c) for c in score.coef]
        else:
            self._thresholds = [[float(t) for t in column] for column in score.thresholds]
            self._steps = [[float(s) for s in column] for column in score.steps]

    # One patient, plain Python ------------------------------------------------------
    def term(self, name: str, value: Any) -> float:
        if name not in self.numeric:
            return self.tables[name][value]
        median, mean, scale, column = self.numeric[name]
        scaled = ((median if value is None else value) - mean) / scale
        if isinstance(self.lean.score, LinearScore):
            return scaled * self._coef[column]
        steps = self._steps[column]
        if len(steps) == 1:
            return 0.0
        # XGBoost compares in float32: round the same way, then count thresholds <= x.
        return steps[bisect_right(self._thresholds[column], float(np.float32(scaled)))]

    def margin(self, terms: list[float]) -> float:
        total = self.offset
        for value in terms:
            total += value
        return total

    def probability(self, margin: float) -> float:
        z = -(self.lean.calibration_a * margin + self.lean.calibration_b)
        return 1.0 / (1.0 + math.exp(-z))

    # Many patients, numpy -----------------------------------------------------------
    def terms(self, columns: Columns) -> np.ndarray:
        """(patients, fields) terms, columns in FEATURES order."""
        n = len(columns[FEATURES[0]])
        out = np.empty((n, len(FEATURES)))
        score = self.lean.score
        for k, name in enumerate(FEATURES):
            if name not in self.numeric:
                table = self.tables[name]
                out[:, k] = [table[value] for value in columns[name]]
                continue
            median, mean, scale, column = self.numeric[name]
            values = np.asarray(columns[name], dtype=float)
            scaled = (np.where(np.isnan(values), median, values) - mean) / scale
            if isinstance(score, LinearScore):
                out[:, k] = scaled * score.coef[column]
            elif len(score.thresholds[column]):
                index = np.searchsorted(
                    score.thresholds[column], scaled.astype(np.float32), side="right"
                )
                out[:, k] = score.steps[column][index]
            else:
                out[:, k] = 0.0
        return out

    def margins(self, terms: np.ndarray) -> np.ndarray:
        total = np.full(len(terms), self.offset)
        for k in range(terms.shape[1]):  # the same order of additions as margin()
            total = total + terms[:, k]
        return total

    def probabilities(self, margins: np.ndarray) -> np.ndarray:
        return self.lean.calibrate(margins)
