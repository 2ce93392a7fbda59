"""Age-adjusted odds ratios recover known effects; crude rates are direct counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stroke_risk.core.schema import TARGET
from stroke_risk.validation.what_if_evidence import age_adjusted_odds_ratios, crude_rates_by_smoking


@pytest.fixture(scope="module")
def confounded():
    """Hypertension doubles the odds; older people have more of it; smoking does nothing."""
    rng = np.random.default_rng(0)
    n = 20_000
    age = rng.uniform(20, 90, n)
    hypertension = (rng.random(n) < (age - 10) / 100).astype(int)
    log_odds = -8 + 0.07 * age + np.log(2.0) * hypertension
    return pd.DataFrame(
        {
            "age": age,
            "gender": rng.choice(["Female", "Male"], n),
            "hypertension": hypertension,
            "heart_disease": (rng.random(n) < 0.05).astype(int),
            "smoking_status": rng.choice(
                ["never smoked", "formerly smoked", "smokes", "Unknown"], n
            ),
            "bmi": np.where(rng.random(n) < 0.04, np.nan, rng.normal(28, 5, n)),
            "avg_glucose_level": rng.normal(100, 30, n).clip(55, 300),
            TARGET: (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int),
        }
    )


def test_age_adjustment_recovers_a_known_odds_ratio_that_the_crude_one_exaggerates(confounded):
    rows = age_adjusted_odds_ratios(confounded)["hypertension"]
    age_only = next(r for r in rows if r["adjusted_for"].startswith("age ("))
    assert age_only["ci"][0] < 2.0 < age_only["ci"][1]
    exposed = confounded["hypertension"] == 1
    odds = confounded.groupby(exposed)[TARGET].mean().pipe(lambda r: r / (1 - r))
    assert odds[True] / odds[False] > age_only["odds_ratio"] * 1.3  # confounded by age


def test_every_factor_is_reported_both_ways_and_a_null_factor_includes_one(confounded):
    result = age_adjusted_odds_ratios(confounded)
    assert set(result) == {
        "hypertension",
        "heart_disease",
        "smoking_status",
        "bmi",
        "avg_glucose_level",
    }
    smokes = [r for r in result["smoking_status"] if r["contrast"] == "smokes vs never smoked"]
    assert len(smokes) == 2 and {r["adjusted_for"][:3] for r in smokes} == {"age"}
    for row in smokes:
        assert row["ci"][0] < 1.0 < row["ci"][1]
    bmi_rows = result["bmi"]
    assert all(r["patients"] == confounded["bmi"].notna().sum() for r in bmi_rows)


def test_crude_rates_by_smoking_are_direct_counts(confounded):
    rows = {r["smoking_status"]: r for r in crude_rates_by_smoking(confounded)}
    smokers = confounded[confounded["smoking_status"] == "smokes"]
    assert rows["smokes"]["stroke_rate"] == pytest.approx(smokers[TARGET].mean())
    assert rows["smokes"]["ci"][0] < rows["smokes"]["stroke_rate"] < rows["smokes"]["ci"][1]


def test_mutually_adjusted_rows_belong_to_their_own_factor(confounded):
    result = age_adjusted_odds_ratios(confounded)
    mutual = {
        factor: next(r for r in rows if r["adjusted_for"].startswith("age spline"))
        for factor, rows in result.items()
    }
    assert mutual["hypertension"]["coefficient"] == "hypertension"
    assert mutual["heart_disease"]["coefficient"] == "heart_disease"
    assert mutual["hypertension"]["odds_ratio"] != mutual["heart_disease"]["odds_ratio"]


def test_the_models_odds_ratio_of_a_logistic_model_is_its_coefficient(confounded):
    from stroke_risk.validation.what_if_evidence import model_odds_ratios

    def predict(rows: pd.DataFrame) -> np.ndarray:
        log_odds = -8 + 0.07 * rows["age"] + np.log(1.7) * rows["hypertension"]
        return (1 / (1 + np.exp(-log_odds))).to_numpy()

    result = model_odds_ratios(predict, confounded)
    hypertension = result["hypertension"][0]
    assert hypertension["odds_ratio_median"] == pytest.approx(1.7)
    assert hypertension["odds_ratio_p10_p90"] == pytest.approx([1.7, 1.7])
    assert result["smoking_status"][0]["odds_ratio_median"] == pytest.approx(1.0)
    assert result["bmi"][0]["patients"] == confounded["bmi"].notna().sum()
