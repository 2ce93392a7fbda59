"""Fitting one candidate family quickly, calibrated as training does, for model tests."""

from __future__ import annotations

import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold

from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, TARGET
from stroke_risk.training.families import candidates
from stroke_risk.training.train import split

FAMILIES = tuple(candidate.name for candidate in candidates(0))  # every family training compares


def training_split(data: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    return split(data, seed)[0]


def fit_calibrated(family: str, train: pd.DataFrame, seed: int = 0) -> CalibratedClassifierCV:
    """The family's quick-grid pipeline, Platt-calibrated on out-of-fold log-odds."""
    candidate = next(c for c in candidates(seed) if c.name == family)
    pipeline = candidate.pipeline.set_params(**{k: v[0] for k, v in candidate.quick_grid.items()})
    return CalibratedClassifierCV(
        pipeline,
        method="sigmoid",
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        ensemble=False,
    ).fit(train[list(FEATURES)], train[TARGET])


def bmi_fill_value(calibrated: CalibratedClassifierCV) -> float:
    """The BMI a fitted pipeline puts in place of a blank one, read off its imputer (the
    training split's median): never a number copied into a test, which would hold for one
    seed only."""
    pipeline = calibrated.calibrated_classifiers_[0].estimator
    numeric = pipeline.named_steps["preprocess"].named_transformers_["numeric"]
    return float(numeric.named_steps["impute"].statistics_[NUMERIC_FEATURES.index("bmi")])
