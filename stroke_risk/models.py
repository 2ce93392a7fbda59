"""The three candidate model families and the hyperparameters searched for each.

Every candidate is a full scikit-learn Pipeline (preprocessing included), so imputation
and scaling are refitted inside each cross-validation fold and never see held-out rows.
None uses class weights: re-weighting inflates probabilities, and a GP reads "3%" as 3
in 100. Ranking quality is compared by ROC AUC; calibration is fixed afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logit
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from stroke_risk.features import build_preprocessor, monotone_constraints

MODEL_STEP = "model"
LOGIT_CLIP = 1e-4  # a leaf with no strokes gets log-odds logit(1e-4), not -infinity


class MarginXGBClassifier(XGBClassifier):
    """XGBoost whose decision function is its log-odds.

    Platt scaling fits its sigmoid to a classifier's decision function when it has one and
    to its probability otherwise. Fitted to a probability in [0, 1], the sigmoid can never
    go below expit(-b): it put a floor of about 2% under every patient, children included,
    whose observed rate is 0.2%. Fitted to the log-odds, it has no such floor.
    """

    def decision_function(self, X: Any) -> np.ndarray:
        return self.predict(X, output_margin=True)


class LogOddsDecisionTree(DecisionTreeClassifier):
    """A decision tree whose decision function is its leaves' (clipped) log-odds, for the
    same reason as :class:`MarginXGBClassifier`."""

    def decision_function(self, X: Any) -> np.ndarray:
        return logit(np.clip(self.predict_proba(X)[:, 1], LOGIT_CLIP, 1 - LOGIT_CLIP))


@dataclass(frozen=True)
class Candidate:
    """A model family: its pipeline and the grid searched (``quick_grid`` for tests)."""

    name: str
    pipeline: Pipeline
    grid: dict[str, list[Any]]
    quick_grid: dict[str, list[Any]] = field(default_factory=dict)


def _pipeline(model: Any, seed: int) -> Pipeline:
    return Pipeline([("preprocess", build_preprocessor(seed)), (MODEL_STEP, model)])


def candidates(seed: int) -> list[Candidate]:
    """Decision tree, logistic regression and XGBoost, each with its search grid."""
    monotone = monotone_constraints()
    return [
        Candidate(
            name="decision_tree",
            pipeline=_pipeline(
                LogOddsDecisionTree(random_state=seed, monotonic_cst=monotone), seed
            ),
            grid={
                f"{MODEL_STEP}__max_depth": [4, 6],
                f"{MODEL_STEP}__min_samples_leaf": [50, 100],
            },
            quick_grid={f"{MODEL_STEP}__max_depth": [4], f"{MODEL_STEP}__min_samples_leaf": [50]},
        ),
        Candidate(
            name="logistic_regression",
            pipeline=_pipeline(LogisticRegression(max_iter=2000), seed),
            grid={f"{MODEL_STEP}__C": [0.03, 0.1, 0.3, 1.0]},
            quick_grid={f"{MODEL_STEP}__C": [0.1]},
        ),
        Candidate(
            # Depth-one trees make the booster additive: each factor's effect is a curve of
            # its own that can be plotted, explained exactly and evaluated quickly, and
            # interactions are not estimated from the data set's 249 stroke cases.
            name="xgboost",
            pipeline=_pipeline(
                MarginXGBClassifier(
                    max_depth=1,
                    tree_method="hist",
                    subsample=0.8,
                    colsample_bytree=0.8,
                    min_child_weight=5,
                    monotone_constraints=tuple(monotone),
                    n_jobs=1,
                    random_state=seed,
                ),
                seed,
            ),
            grid={
                f"{MODEL_STEP}__n_estimators": [200, 400],
                f"{MODEL_STEP}__learning_rate": [0.03, 0.1],
            },
            quick_grid={
                f"{MODEL_STEP}__n_estimators": [100],
                f"{MODEL_STEP}__learning_rate": [0.1],
            },
        ),
    ]
