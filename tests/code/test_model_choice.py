"""Model choice: the simplest family within one standard error of the best CV ROC AUC."""

from __future__ import annotations

import pytest

from stroke_risk.training.train import CandidateResult, choose_one_standard_error


def candidate(name: str, mean: float, sd: float = 0.017, folds: int = 25) -> CandidateResult:
    return CandidateResult(name, {}, mean, sd, folds, {}, 0.0)


def test_a_constructed_tie_goes_to_the_simpler_family():
    # XGBoost ahead by 0.0017, a tenth of a fold SD: within one standard error (0.0034).
    chosen, selection = choose_one_standard_error(
        [
            candidate("decision_tree", 0.8276),
            candidate("logistic_regression", 0.8387),
            candidate("xgboost", 0.8404),
        ]
    )
    assert chosen == "logistic_regression"
    assert selection["best_by_cv_auc"] == "xgboost"
    assert selection["standard_error"] == pytest.approx(0.017 / 5)


def test_a_clear_win_goes_to_the_more_complex_family():
    chosen, _ = choose_one_standard_error(
        [candidate("logistic_regression", 0.830), candidate("xgboost", 0.840)]
    )
    assert chosen == "xgboost"


def test_simplicity_order_not_list_order_decides():
    chosen, _ = choose_one_standard_error(
        [
            candidate("xgboost", 0.84),
            candidate("decision_tree", 0.839),
            candidate("logistic_regression", 0.8385),
        ]
    )
    assert chosen == "logistic_regression"
