"""Benchmarks: age-only and age + sex procedures, and paired differences with intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stroke_risk.core.schema import TARGET
from stroke_risk.validation.benchmarks import compare_models, fit_age_only, fit_age_sex
from stroke_risk.validation.decision_curves import net_benefit


def _aged_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    gender = rng.choice(["Female", "Male"], n)
    risk = 1 / (1 + np.exp(-(-7 + 0.07 * age + 0.5 * (gender == "Male"))))
    return pd.DataFrame({"age": age, "gender": gender, TARGET: (rng.random(n) < risk).astype(int)})


def test_age_benchmarks_rise_with_age_and_are_calibrated_in_the_large():
    frame = _aged_frame()
    for fit in (fit_age_only, fit_age_sex):
        p = fit(frame, 0)(frame)
        assert p.sum() == pytest.approx(frame[TARGET].sum(), rel=0.1)
        older = frame.assign(age=frame["age"] + 10)
        assert np.mean(fit(frame, 0)(older) > p) > 0.95


def test_age_sex_benchmark_uses_sex_and_age_only_does_not():
    frame = _aged_frame(6000)
    women, men = frame.assign(gender="Female"), frame.assign(gender="Male")
    age_sex, age_only = fit_age_sex(frame, 0), fit_age_only(frame, 0)
    assert np.mean(age_sex(men) > age_sex(women)) > 0.95
    np.testing.assert_allclose(age_only(men), age_only(women))


def test_a_model_compared_with_itself_differs_by_exactly_nothing():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 15, 2000)
    y = (rng.random(p.size) < p).astype(int)
    result = compare_models(y, p, p, thresholds=[0.05], n_boot=100)
    assert result["roc_auc"]["difference"] == 0.0
    assert result["roc_auc"]["ci"] == [0.0, 0.0]
    assert result["net_benefit"][0]["ci"] == [0.0, 0.0]


def test_a_better_model_wins_with_an_interval_above_zero_and_point_values_are_direct():
    rng = np.random.default_rng(1)
    p = rng.beta(1, 15, 5000)
    y = (rng.random(p.size) < p).astype(int)
    blurred = np.clip(p + rng.normal(0, 0.05, p.size), 0.001, 0.999)
    result = compare_models(y, p, blurred, thresholds=[0.05, 0.10], n_boot=300, seed=2)
    assert result["roc_auc"]["ci"][0] > 0
    assert result["brier"]["ci"][1] < 0
    nb = result["net_benefit"][1]
    assert nb["difference"] == pytest.approx(
        net_benefit(y, p, 0.10) - net_benefit(y, blurred, 0.10)
    )
    assert nb["ci"][0] <= nb["difference"] <= nb["ci"][1]
