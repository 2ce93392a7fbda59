"""Reading a fitted, calibrated scikit-learn pipeline into the numpy-only lean model.

Done once at training time; `max_difference` proves on real rows that the copy gives the
pipeline's own numbers, and training refuses to save a model for which it does not.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from stroke_risk.core.schema import CATEGORICAL_FEATURES, FEATURES, categories
from stroke_risk.scoring.lean import (
    AdditiveTreesScore,
    Columns,
    Encoder,
    LeanModel,
    LeanModelError,
    LinearScore,
    Scorer,
    TreeScore,
)
from stroke_risk.scoring.store import LEAN_TOLERANCE
from stroke_risk.training.families import LOGIT_CLIP
from stroke_risk.training.features import NumbersFirst, category_code


def frame_to_columns(frame: pd.DataFrame) -> Columns:
    """A validated patient DataFrame as the column arrays the lean model reads."""
    return {name: frame[name].to_numpy() for name in FEATURES}


def _encoder(pipeline: Pipeline) -> Encoder:
    transformer = pipeline.named_steps["preprocess"]
    if isinstance(transformer, NumbersFirst):  # a refit on rows coded once (the schema's)
        numeric = transformer.numeric_
        return Encoder(
            medians=np.asarray(numeric.named_steps["impute"].statistics_, dtype=float),
            means=np.asarray(numeric.named_steps["scale"].mean_, dtype=float),
            scales=np.asarray(numeric.named_steps["scale"].scale_, dtype=float),
            categories=tuple(tuple(categories(name)) for name in CATEGORICAL_FEATURES),
            codes=tuple(category_code(name) for name in CATEGORICAL_FEATURES),
        )
    numeric = transformer.named_transformers_["numeric"]
    categorical = transformer.named_transformers_["categorical"]
    return Encoder(
        medians=np.asarray(numeric.named_steps["impute"].statistics_, dtype=float),
        means=np.asarray(numeric.named_steps["scale"].mean_, dtype=float),
        scales=np.asarray(numeric.named_steps["scale"].scale_, dtype=float),
        categories=tuple(
            tuple(str(v) for v in values)
            for values in categorical.named_steps["one_hot"].categories_
        ),
        codes=categorical.named_steps["code"].kw_args["codes"],
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
        clip=LOGIT_CLIP,
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


def checked_difference(lean: LeanModel, reference: Any, frame: pd.DataFrame) -> float:
    """:func:`max_difference`, refused above the store's tolerance: a lean copy that does not
    compute what its reference model does must never be saved (the service scores with it)."""
    gap = max_difference(lean, reference, frame)
    if gap > LEAN_TOLERANCE:
        raise RuntimeError(f"the lean copy differs from its reference model by {gap:.2e}")
    return gap
