"""A plain-numpy copy of the trained pipeline, for the service's hot path.

Why: a scikit-learn pipeline with a ColumnTransformer costs milliseconds per call however
few rows it gets, which alone would cap the service far below the throughput that
providers need. The fitted parameters (imputation medians, scaling, one-hot layout,
model weights or trees, Platt calibration) are read out of the trained pipeline once and
evaluated with a few numpy operations. `max_difference` proves on real rows that the copy
gives the pipeline's own numbers; the service refuses to start if it does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from stroke_risk.schema import CATEGORICAL_FEATURES, FEATURES, FLAG_FEATURES, NUMERIC_FEATURES

Columns = dict[str, np.ndarray]


class LeanModelError(RuntimeError):
    """The trained pipeline has a shape the lean path does not know how to copy."""


@dataclass(frozen=True)
class Encoder:
    """Median imputation and standard scaling of numbers, 0/1 flags, one-hot categories."""

    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    categories: tuple[tuple[str, ...], ...]

    @property
    def width(self) -> int:
        return len(NUMERIC_FEATURES) + len(FLAG_FEATURES) + sum(map(len, self.categories))

    def slices(self) -> dict[str, slice]:
        """Which encoded columns each feature occupies."""
        out: dict[str, slice] = {}
        position = 0
        for name in NUMERIC_FEATURES + FLAG_FEATURES:
            out[name] = slice(position, position + 1)
            position += 1
        for name, values in zip(CATEGORICAL_FEATURES, self.categories, strict=True):
            out[name] = slice(position, position + len(values))
            position += len(values)
        return out

    def encode(self, columns: Columns) -> np.ndarray:
        """Columns of raw values (``bmi`` may hold NaN) -> the model's float matrix."""
        n = len(columns[FEATURES[0]])
        matrix = np.zeros((n, self.width))
        for i, name in enumerate(NUMERIC_FEATURES):
            values = np.asarray(columns[name], dtype=float)
            values = np.where(np.isnan(values), self.medians[i], values)
            matrix[:, i] = (values - self.means[i]) / self.scales[i]
        offset = len(NUMERIC_FEATURES)
        for i, name in enumerate(FLAG_FEATURES):
            matrix[:, offset + i] = np.asarray(columns[name], dtype=float)
        offset += len(FLAG_FEATURES)
        for name, values in zip(CATEGORICAL_FEATURES, self.categories, strict=True):
            codes = _codes(columns[name], values, name)
            matrix[np.arange(n), offset + codes] = 1.0
            offset += len(values)
        return matrix


def _codes(values: np.ndarray, categories: tuple[str, ...], name: str) -> np.ndarray:
    lookup = {value: code for code, value in enumerate(categories)}
    try:
        return np.fromiter((lookup[v] for v in values), dtype=np.intp, count=len(values))
    except KeyError as exc:
        raise ValueError(f"{name}: unknown category {exc.args[0]!r}") from exc


class Scorer(Protocol):
    def __call__(self, matrix: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class LinearScore:
    """Logistic regression's decision function: the log-odds."""

    coef: np.ndarray
    intercept: float

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        return matrix @ self.coef + self.intercept


@dataclass(frozen=True)
class AdditiveTreesScore:
    """A booster of depth-one trees, folded into one step function per encoded column.

    XGBoost compares in float32 and sends ``x < threshold`` left; the step function counts
    the thresholds at or below x, which is the same rule.
    """

    base_margin: float
    thresholds: tuple[np.ndarray, ...]  # per column, sorted float32
    steps: tuple[np.ndarray, ...]  # per column, value added for 0, 1, 2 ... thresholds passed

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        x = matrix.astype(np.float32)
        total = np.full(len(x), self.base_margin)
        for j, (thresholds, steps) in enumerate(zip(self.thresholds, self.steps, strict=True)):
            if len(thresholds):
                total += steps[np.searchsorted(thresholds, x[:, j], side="right")]
        return total

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        return expit(self.margin(matrix))


@dataclass(frozen=True)
class TreeScore:
    """A single decision tree's leaf probability (scikit-learn compares float32 ``<=``)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    leaf_probability: np.ndarray
    depth: int

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        x = matrix.astype(np.float32)
        rows = np.arange(len(x))
        node = np.zeros(len(x), dtype=np.intp)
        for _ in range(self.depth):
            is_split = self.left[node] >= 0
            goes_left = x[rows, np.maximum(self.feature[node], 0)] <= self.threshold[node]
            following = np.where(goes_left, self.left[node], self.right[node])
            node = np.where(is_split, following, node)
        return self.leaf_probability[node]


@dataclass(frozen=True)
class LeanModel:
    """Encoder, raw score and Platt calibration: ``p = 1 / (1 + exp(a * score + b))``."""

    encoder: Encoder
    score: Scorer
    calibration_a: float
    calibration_b: float

    def predict_encoded(self, matrix: np.ndarray) -> np.ndarray:
        return expit(-(self.calibration_a * self.score(matrix) + self.calibration_b))

    def predict(self, columns: Columns) -> np.ndarray:
        """Calibrated probability of stroke for each patient."""
        return self.predict_encoded(self.encoder.encode(columns))


def frame_to_columns(frame: pd.DataFrame) -> Columns:
    """A validated patient DataFrame as the column arrays the lean model reads."""
    return {name: frame[name].to_numpy() for name in FEATURES}


def _encoder(pipeline: Pipeline) -> Encoder:
    transformer = pipeline.named_steps["preprocess"]
    numeric = transformer.named_transformers_["numeric"]
    one_hot = transformer.named_transformers_["categorical"]
    return Encoder(
        medians=np.asarray(numeric.named_steps["impute"].statistics_, dtype=float),
        means=np.asarray(numeric.named_steps["scale"].mean_, dtype=float),
        scales=np.asarray(numeric.named_steps["scale"].scale_, dtype=float),
        categories=tuple(tuple(str(v) for v in values) for values in one_hot.categories_),
    )


def _additive_trees(model: XGBClassifier, probe: np.ndarray, width: int) -> AdditiveTreesScore:
    booster = model.get_booster()
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    per_column: list[list[tuple[float, float]]] = [[] for _ in range(width)]
    constant = 0.0
    for tree in trees:
        left, right = tree["left_children"], tree["right_children"]
        values = tree["split_conditions"]  # a leaf's value is stored in its split condition
        if left[0] == -1:
            constant += values[0]
            continue
        if left[left[0]] != -1 or left[right[0]] != -1:
            raise LeanModelError("the lean path supports XGBoost trees of depth one only")
        low, high = values[left[0]], values[right[0]]
        constant += low
        per_column[tree["split_indices"][0]].append((values[0], high - low))
    thresholds, steps = [], []
    for splits in per_column:
        splits.sort()
        thresholds.append(np.array([t for t, _ in splits], dtype=np.float32))
        steps.append(np.concatenate([[0.0], np.cumsum([d for _, d in splits])]))
    partial = AdditiveTreesScore(constant, tuple(thresholds), tuple(steps))
    # The global bias (base_score) is stored in a format that has changed across XGBoost
    # versions; recover it as the constant gap between the booster's margin and ours.
    gap = booster.inplace_predict(probe, predict_type="margin") - partial.margin(probe)
    if np.ptp(gap) > 1e-4:
        raise LeanModelError("the XGBoost model is not additive in its inputs")
    return AdditiveTreesScore(constant + float(np.median(gap)), tuple(thresholds), tuple(steps))


def _tree(model: DecisionTreeClassifier) -> TreeScore:
    tree = model.tree_
    counts = tree.value[:, 0, :]
    return TreeScore(
        left=tree.children_left.astype(np.intp),
        right=tree.children_right.astype(np.intp),
        feature=tree.feature.astype(np.intp),
        threshold=tree.threshold.astype(np.float64),
        leaf_probability=counts[:, 1] / counts.sum(axis=1),
        depth=int(tree.max_depth),
    )


def compile_lean_model(calibrated: CalibratedClassifierCV, probe: pd.DataFrame) -> LeanModel:
    """Read the parameters out of a fitted, calibrated pipeline (``ensemble=False``)."""
    if len(calibrated.calibrated_classifiers_) != 1:
        raise LeanModelError("expected one calibrated classifier (ensemble=False)")
    fitted = calibrated.calibrated_classifiers_[0]
    pipeline: Pipeline = fitted.estimator
    (calibrator,) = fitted.calibrators
    encoder = _encoder(pipeline)
    model = pipeline.named_steps["model"]
    score: Scorer
    if isinstance(model, LogisticRegression):
        score = LinearScore(model.coef_[0].astype(float), float(model.intercept_[0]))
    elif isinstance(model, XGBClassifier):
        matrix = encoder.encode(frame_to_columns(probe)).astype(np.float32)
        score = _additive_trees(model, matrix, encoder.width)
    elif isinstance(model, DecisionTreeClassifier):
        score = _tree(model)
    else:
        raise LeanModelError(f"no lean path for {type(model).__name__}")
    return LeanModel(encoder, score, float(calibrator.a_), float(calibrator.b_))


def max_difference(lean: LeanModel, calibrated: Any, frame: pd.DataFrame) -> float:
    """Largest absolute gap between the lean copy and the pipeline's ``predict_proba``."""
    expected = calibrated.predict_proba(frame[list(FEATURES)])[:, 1]
    return float(np.max(np.abs(lean.predict(frame_to_columns(frame)) - expected)))
