"""A plain-numpy copy of the trained pipeline, for the service's hot path.

This module imports numpy only: the service loads these objects without scikit-learn,
XGBoost or pandas, which keeps its memory and start-up small. Copying a fitted pipeline
into them is :mod:`stroke_risk.training.lean_compile`'s job.

Why: a scikit-learn pipeline with a ColumnTransformer costs milliseconds per call however
few rows it gets, which alone would cap the service far below the throughput that
providers need. The fitted parameters (imputation medians, scaling, category codes,
model weights or trees, Platt calibration) are read out of the trained pipeline once and
evaluated with a few numpy operations. `lean_compile.max_difference` proves on real rows
that the copy gives the pipeline's own numbers; the service refuses to start if it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from stroke_risk.core.schema import CATEGORICAL_FEATURES, FEATURES, FLAG_FEATURES, NUMERIC_FEATURES

Columns = dict[str, np.ndarray]


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function (numpy only, so serving never imports scipy)."""
    return 1.0 / (1.0 + np.exp(-x))


class LeanModelError(RuntimeError):
    """The trained pipeline has a shape the lean path does not know how to copy."""


@dataclass(frozen=True)
class Encoder:
    """Median imputation and standard scaling of numbers, 0/1 flags, coded categories."""

    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    categories: tuple[tuple[str, ...], ...]
    # Each categorical feature's encoded row per category (see features.category_code).
    # None: one-hot, as in models saved before ordered categories were coded as ladders.
    codes: tuple[tuple[tuple[float, ...], ...], ...] | None = None

    @cached_property
    def category_rows(self) -> tuple[np.ndarray, ...]:
        """For each categorical feature, its categories' encoded rows as an array."""
        if self.codes is None:
            return tuple(np.eye(len(values)) for values in self.categories)
        return tuple(np.asarray(code, dtype=float) for code in self.codes)

    @property
    def width(self) -> int:
        coded = sum(rows.shape[1] for rows in self.category_rows)
        return len(NUMERIC_FEATURES) + len(FLAG_FEATURES) + coded

    def slices(self) -> dict[str, slice]:
        """Which encoded columns each feature occupies."""
        out: dict[str, slice] = {}
        position = 0
        for name in NUMERIC_FEATURES + FLAG_FEATURES:
            out[name] = slice(position, position + 1)
            position += 1
        for name, rows in zip(CATEGORICAL_FEATURES, self.category_rows, strict=True):
            out[name] = slice(position, position + rows.shape[1])
            position += rows.shape[1]
        return out

    @cached_property
    def _category_index(self) -> tuple[dict[str, int], ...]:
        """For each categorical feature, value -> its row in ``category_rows``."""
        return tuple(
            {value: code for code, value in enumerate(values)} for values in self.categories
        )

    def encode(self, columns: Columns) -> np.ndarray:
        """Columns of raw values (``bmi`` may hold NaN) -> the model's float matrix."""
        n = len(columns[FEATURES[0]])
        matrix = np.empty((n, self.width))
        numeric = np.column_stack(
            [np.asarray(columns[name], dtype=float) for name in NUMERIC_FEATURES]
        )
        numeric = np.where(np.isnan(numeric), self.medians, numeric)
        width = len(NUMERIC_FEATURES)
        matrix[:, :width] = (numeric - self.means) / self.scales
        for i, name in enumerate(FLAG_FEATURES):
            matrix[:, width + i] = columns[name]
        position = width + len(FLAG_FEATURES)
        for name, lookup, rows in zip(
            CATEGORICAL_FEATURES, self._category_index, self.category_rows, strict=True
        ):
            try:
                codes = [lookup[value] for value in columns[name]]
            except KeyError as exc:
                raise ValueError(f"{name}: unknown category {exc.args[0]!r}") from exc
            matrix[:, position : position + rows.shape[1]] = rows[codes]
            position += rows.shape[1]
        return matrix


class Scorer(Protocol):
    def __call__(self, matrix: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LinearScore:
    """Logistic regression's decision function: the log-odds.

    Additive: ``score = link(intercept + terms(x).sum(axis=1))``, one term per encoded
    column, which lets explanations swap one factor's terms instead of re-scoring rows.
    """

    coef: np.ndarray
    intercept: float

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.coef + self.intercept

    def terms(self, matrix: np.ndarray) -> np.ndarray:
        return matrix * self.coef

    @property
    def offset(self) -> float:
        return self.intercept

    @staticmethod
    def link(margin: np.ndarray) -> np.ndarray:
        return margin


@dataclass(frozen=True)
class AdditiveTreesScore:
    """A booster of depth-one trees, folded into one step function per encoded column.

    XGBoost compares in float32 and sends ``x < threshold`` left; the step function counts
    the thresholds at or below x, which is the same rule.
    """

    base_margin: float
    thresholds: tuple[np.ndarray, ...]  # per column, sorted float32
    steps: tuple[np.ndarray, ...]  # per column, value added for 0, 1, 2 ... thresholds passed

    def terms(self, matrix: np.ndarray) -> np.ndarray:
        """Each encoded column's step value for each row, shape (rows, columns)."""
        x = matrix.astype(np.float32)
        out = np.zeros(x.shape)
        for j, (thresholds, steps) in enumerate(zip(self.thresholds, self.steps, strict=True)):
            if len(thresholds):
                out[:, j] = steps[np.searchsorted(thresholds, x[:, j], side="right")]
        return out

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return self.base_margin + self.terms(matrix).sum(axis=1)

    @property
    def offset(self) -> float:
        return self.base_margin

    @staticmethod
    def link(margin: np.ndarray) -> np.ndarray:
        return margin  # the calibrator was fitted on the log-odds

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        return self.margin(matrix)


@dataclass(frozen=True)
class TreeScore:
    """A single decision tree's leaf log-odds (scikit-learn compares float32 ``<=``)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    leaf_probability: np.ndarray
    depth: int
    clip: float = 1e-4  # models.LOGIT_CLIP

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        x = matrix.astype(np.float32)
        rows = np.arange(len(x))
        node = np.zeros(len(x), dtype=np.intp)
        for _ in range(self.depth):
            is_split = self.left[node] >= 0
            goes_left = x[rows, np.maximum(self.feature[node], 0)] <= self.threshold[node]
            following = np.where(goes_left, self.left[node], self.right[node])
            node = np.where(is_split, following, node)
        p = np.clip(self.leaf_probability[node], self.clip, 1 - self.clip)
        return np.log(p / (1 - p))  # the calibrator was fitted on the leaves' log-odds


@dataclass(frozen=True)
class LeanModel:
    """Encoder, raw score and Platt calibration: ``p = 1 / (1 + exp(a * score + b))``."""

    encoder: Encoder
    score: Scorer
    calibration_a: float
    calibration_b: float

    def calibrate(self, score: np.ndarray) -> np.ndarray:
        return expit(-(self.calibration_a * score + self.calibration_b))

    def predict_encoded(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibrate(self.score(matrix))

    def predict(self, columns: Columns) -> np.ndarray:
        """Calibrated probability of the model's outcome (its record: core.outcome) per patient."""
        return self.predict_encoded(self.encoder.encode(columns))
