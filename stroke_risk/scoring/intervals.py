"""A 95% uncertainty interval for every risk, from bootstrap refits of the whole procedure.

Training refits the chosen model (preprocessing, model, Platt calibration; fixed
hyperparameters) on ``B`` bootstrap resamples of the development data and keeps each
refit's lean copy. A patient's interval is the 2.5th and 97.5th percentile of the ``B``
refits' probabilities for that patient: how much the estimate moves when the same
procedure sees another sample of the same size (Riley & Collins 2023, "stability of
clinical prediction models"). It is wide where the data are thin (very old patients,
extreme BMI or glucose) and narrow where they are plentiful.

Logistic-regression refits (the usual choice) are stacked into one matrix: each refit's
scaling and calibration are folded into weights on the raw values, so one encoding of the
patients and one matrix product give every refit's log-odds. Other families are scored
refit by refit (correct, slower; the benchmark uses the shipped model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from stroke_risk.core.schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
)
from stroke_risk.scoring.lean import Columns, Encoder, LeanModel, LinearScore, expit

COVERAGE = 0.95


def _order_statistics(b: int) -> tuple[int, int]:
    """0-based positions of the percentile interval's ends among ``b`` sorted values."""
    tail = (1 - COVERAGE) / 2
    low = max(0, math.floor(tail * b))
    return low, b - 1 - low


@dataclass(frozen=True)
class LinearIntervals:
    """``B`` calibrated logistic regressions as one matrix over a shared raw encoding.

    ``logit_b(x) = raw(x) @ weights[b] + offsets[b] + missing(x) @ fill[b]``, where ``raw``
    encodes numbers unscaled (a blank filled with ``encoder``'s median) and ``fill``
    corrects each refit's own median for a blank value.
    """

    encoder: Encoder  # categories and codes as the refits; numbers raw (means 0, scales 1)
    weights: np.ndarray  # (B, width): calibrated log-odds per unit of each raw column
    offsets: np.ndarray  # (B,)
    fill: np.ndarray  # (B, numeric): the log-odds a blank number adds, per refit

    @classmethod
    def from_lean_models(cls, models: list[LeanModel]) -> LinearIntervals:
        first = models[0].encoder
        raw = Encoder(
            medians=first.medians,
            means=np.zeros_like(first.means),
            scales=np.ones_like(first.scales),
            categories=first.categories,
            codes=first.codes,
        )
        k = len(NUMERIC_FEATURES)
        weights, offsets, fill = [], [], []
        for model in models:
            score, enc = model.score, model.encoder
            assert isinstance(score, LinearScore)  # nosec B101  # type narrowing, not a check
            if enc.categories != first.categories or enc.codes != first.codes:
                raise ValueError("bootstrap refits encode categories differently")
            coef = np.array(score.coef, dtype=float)
            coef[:k] = coef[:k] / enc.scales  # per raw unit
            intercept = score.intercept - float(coef[:k] @ enc.means)
            # Platt: logit(p) = -(a * margin + b), folded into the weights.
            a, b = model.calibration_a, model.calibration_b
            weights.append(-a * coef)
            offsets.append(-(a * intercept + b))
            # The raw encoding fills a blank with the first refit's median; this refit
            # would have used its own.
            fill.append(-a * coef[:k] * (enc.medians - first.medians))
        return cls(raw, np.array(weights), np.array(offsets), np.array(fill))

    @cached_property
    def _augmented_weights(self) -> np.ndarray:
        """(width + 1 + numeric, B): weights, offset and blank fills as one matrix, so one
        product gives the log-odds (a separate addition over the (n, B) result costs more
        than the product itself)."""
        return np.ascontiguousarray(np.column_stack([self.weights, self.offsets, self.fill]).T)

    @cached_property
    def _row_parts(self) -> tuple[list[float], dict[str, dict[Any, list[float]]]]:
        """What one patient's augmented row is made of: the numbers' blank fills, and each
        category's (or flag's) encoded columns as a plain list."""
        parts: dict[str, dict[Any, list[float]]] = {
            name: {0: [0.0], 1: [1.0]} for name in FLAG_FEATURES
        }
        for name, values, rows in zip(
            CATEGORICAL_FEATURES, self.encoder.categories, self.encoder.category_rows, strict=True
        ):
            parts[name] = {value: rows[code].tolist() for code, value in enumerate(values)}
        return [float(m) for m in self.encoder.medians], parts

    def logits_one(self, values: dict[str, Any]) -> np.ndarray:
        """One patient's log-odds under each refit, from its field values: shape (B,).

        The patient's augmented row (as :meth:`logits` builds for many) is put together in
        plain Python and multiplied once: one numpy call instead of one per field."""
        medians, parts = self._row_parts
        row: list[float] = []
        blanks: list[float] = []
        for name, median in zip(NUMERIC_FEATURES, medians, strict=True):
            value = values[name]
            row.append(median if value is None else value)
            blanks.append(1.0 if value is None else 0.0)
        for name in FLAG_FEATURES + CATEGORICAL_FEATURES:
            row += parts[name][values[name]]
        row.append(1.0)
        row += blanks
        return np.array(row) @ self._augmented_weights

    def logits(self, columns: Columns) -> np.ndarray:
        """Each refit's calibrated log-odds for each patient: shape (n, B)."""
        encoded = self.encoder.encode(columns)
        n, width = encoded.shape
        k = len(NUMERIC_FEATURES)
        augmented = np.empty((n, width + 1 + k))
        augmented[:, :width] = encoded
        augmented[:, width] = 1.0
        for j, name in enumerate(NUMERIC_FEATURES):
            augmented[:, width + 1 + j] = np.isnan(columns[name])
        return augmented @ self._augmented_weights


@dataclass(frozen=True)
class GeneralIntervals:
    """Any family's refits, scored one after another."""

    models: tuple[LeanModel, ...]

    def logits(self, columns: Columns) -> np.ndarray:
        p = np.column_stack([model.predict(columns) for model in self.models])
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))


@dataclass(frozen=True)
class ProbabilityIntervals:
    """The refits, and the percentile interval they give each patient."""

    refits: LinearIntervals | GeneralIntervals
    size: int  # B

    @classmethod
    def from_lean_models(cls, models: list[LeanModel]) -> ProbabilityIntervals:
        if not models:
            raise ValueError("no bootstrap refits")
        if all(isinstance(model.score, LinearScore) for model in models):
            return cls(LinearIntervals.from_lean_models(models), len(models))
        return cls(GeneralIntervals(tuple(models)), len(models))

    def probabilities(self, columns: Columns) -> np.ndarray:
        """Every refit's probability for every patient: shape (n, B)."""
        return expit(self.refits.logits(columns))

    def interval_one(self, values: dict[str, Any]) -> tuple[float, float]:
        """One patient's (low, high), from its field values (``bmi`` None when blank)."""
        if isinstance(self.refits, LinearIntervals):
            first, last = _order_statistics(self.size)
            ordered = np.sort(self.refits.logits_one(values))
            low, high = float(ordered[first]), float(ordered[last])
            # Two numbers: math's exp rather than three numpy calls. numpy's vectorised exp
            # may differ from it by a few units in the last place, a million million times
            # finer than the replies' four decimals.
            return 1.0 / (1.0 + math.exp(-low)), 1.0 / (1.0 + math.exp(-high))
        columns = {
            name: np.array(
                [np.nan if values[name] is None else values[name]],
                dtype=float if name in NUMERIC_FEATURES else object,
            )
            for name in FEATURES
        }
        lows, highs = self.interval(columns)
        return float(lows[0]), float(highs[0])

    def interval(self, columns: Columns) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) probabilities of each patient's 95% percentile interval."""
        low, high = _order_statistics(self.size)
        # A full sort is several times faster than numpy's partition with two kth here,
        # and sorting in place spares a copy (16 MB for 10,000 patients: its page faults
        # cost twice the sort).
        ordered = self.refits.logits(columns)
        ordered.sort(axis=1)
        return expit(ordered[:, low]), expit(ordered[:, high])
