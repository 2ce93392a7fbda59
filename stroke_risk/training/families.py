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

from stroke_risk.training.features import build_preprocessor, monotone_constraints

MODEL_STEP = "model"
# Simplest first, by the number of parameters each family estimates: logistic regression
# (one per encoded column, about 16), a depth-4 to 6 tree (up to 64 leaves plus their
# splits), a booster of 200 to 400 stumps (a split and two leaf values each). Model choice
# prefers the earlier family unless a later one wins by more than one standard error.
SIMPLEST_FIRST: tuple[str, ...] = ("logistic_regression", "decision_tree", "xgboost")
LOGIT_CLIP = 1e-4  # a leaf with no strokes gets log-odds logit(1e-4), not -infinity
# One solve of MonotoneLogisticRegression's active set: coef_, intercept_, n_iter_.
Solved = tuple[np.ndarray, np.ndarray, np.ndarray]


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


class MonotoneLogisticRegression(LogisticRegression):
    """Logistic regression whose coefficients keep the directions in ``monotone_cst``.

    Unconstrained, this data set's confounding gives BMI a negative coefficient on some
    training splits (and heart disease on one): the model would tell a patient that a
    higher BMI, or heart disease, lowers their risk, and the what-ifs would point the wrong
    way. The trees get the same directions as monotone constraints. scikit-learn's solver
    takes no bounds, so they are enforced the standard active-set way around it: a
    coefficient of the wrong sign is held at zero (its column blanked) and the rest are
    refitted; a held one is released when the loss would fall by moving it the allowed
    way. The penalised loss is convex, so this ends at the bounded optimum.

    Each held set is solved once per ``fit``: the solver is deterministic, so the same
    held set gives the same fit, and a round that comes back to one takes the fit already
    made. Round trips happen: with the solver's tolerance a coefficient can be released by
    the slope test and held again by the refit, round after round, until the round limit
    (13 of the 1,200 fits behind the 200 interval refits; a third of their solves were
    such repeats: bench/README.md). The answer is the one solving again would give.
    """

    def __init__(
        self,
        monotone_cst: Any = None,
        *,
        C: float = 1.0,  # noqa: N803 - scikit-learn's name
        tol: float = 1e-4,
        max_iter: int = 2000,
    ) -> None:
        super().__init__(C=C, tol=tol, max_iter=max_iter)
        self.monotone_cst = monotone_cst

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MonotoneLogisticRegression:  # noqa: N803
        values = np.asarray(X, dtype=float)
        width = values.shape[1]
        signs = np.zeros(width) if self.monotone_cst is None else np.asarray(self.monotone_cst)
        weights = np.ones(len(values)) if sample_weight is None else np.asarray(sample_weight)
        target = (np.asarray(y) == 1).astype(float)  # classes 0/1: coef_ is for class 1
        held = np.zeros(width, dtype=bool)
        solved: dict[bytes, Solved] = {}
        for _ in range(4 * width):  # each round holds or releases; a few in practice
            wrong = self._fit_holding(values, y, sample_weight, held, signs, solved)
            if wrong.any():
                held |= wrong
                continue
            # The loss's slope along each held coefficient (the penalty's is zero there).
            residual = weights * (self.predict_proba(values)[:, 1] - target)
            gain = np.where(held, -signs * (values.T @ residual), 0.0)
            if gain.max() <= 0:
                break
            held[np.argmax(gain)] = False
        else:  # a round trip until the limit (see above): settle for holding alone, which ends
            while (wrong := self._fit_holding(values, y, sample_weight, held, signs, solved)).any():
                held |= wrong
        self.held_at_zero_ = held
        return self

    def _fit_holding(
        self,
        values: np.ndarray,
        y: Any,
        sample_weight: Any,
        held: np.ndarray,
        signs: np.ndarray,
        solved: dict[bytes, Solved],
    ) -> np.ndarray:
        """Fit with the held columns blanked, or take this fit's earlier solve of the same
        held set; return which coefficients have the wrong sign."""
        key = held.tobytes()
        if key in solved:
            self.coef_, self.intercept_, self.n_iter_ = (part.copy() for part in solved[key])
        else:
            super().fit(np.where(held, 0.0, values), y, sample_weight)
            self.coef_[0, held] = 0.0
            solved[key] = (self.coef_.copy(), self.intercept_.copy(), self.n_iter_.copy())
        return ~held & (signs * self.coef_[0] < 0)


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
            pipeline=_pipeline(MonotoneLogisticRegression(monotone), seed),
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
