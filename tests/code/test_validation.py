"""validate(): one call, every section the clinical review asks for, strict JSON out."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from stroke_risk.core.schema import TARGET
from stroke_risk.validation.benchmarks import fit_age_only
from stroke_risk.validation.validate import family_fit, validate

SECTIONS = {
    "validation",
    "benchmarks",
    "decision_curve",
    "subgroups",
    "calibration_curve",
    "sample_size",
    "instability",
    "what_if_evidence",
}


def synthetic_patients(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Patients with every schema field; risk rises with age, hypertension and glucose."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    hypertension = (rng.random(n) < age / 200).astype(int)
    glucose = rng.normal(105, 35, n).clip(55, 280)
    log_odds = -7.5 + 0.06 * age + 0.5 * hypertension + 0.005 * glucose
    return pd.DataFrame(
        {
            "gender": rng.choice(["Female", "Male"], n),
            "age": age,
            "hypertension": hypertension,
            "heart_disease": (rng.random(n) < 0.05).astype(int),
            "ever_married": rng.choice(["Yes", "No"], n),
            "work_type": rng.choice(["Private", "Self-employed", "Govt_job"], n),
            "residence_type": rng.choice(["Urban", "Rural"], n),
            "avg_glucose_level": glucose,
            "bmi": np.where(rng.random(n) < 0.04, np.nan, rng.normal(28, 5, n)),
            "smoking_status": rng.choice(
                ["never smoked", "formerly smoked", "smokes", "Unknown"], n
            ),
            TARGET: (rng.random(n) < 1 / (1 + np.exp(-log_odds))).astype(int),
        }
    )


NUMERIC = ["age", "hypertension", "avg_glucose_level"]


def fit_simple(frame: pd.DataFrame, seed: int):
    model = LogisticRegression(max_iter=1000).fit(frame[NUMERIC], frame[TARGET])
    return lambda rows: model.predict_proba(rows[NUMERIC])[:, 1]


@pytest.fixture(scope="module")
def result_and_arrays():
    arrays: dict[str, np.ndarray] = {}
    result = validate(
        synthetic_patients(),
        fit_simple,
        seed=0,
        n_boot=8,
        benchmark_fits={"age_only": fit_age_only},
        n_repeats=2,
        parameters=4,
        n_jobs=1,
        arrays=arrays,
    )
    return result, arrays


def test_every_section_is_present_and_the_result_is_strict_json(result_and_arrays):
    result, _ = result_and_arrays
    assert SECTIONS <= set(result)
    json.dumps(result, allow_nan=False)


def test_figures_agree_across_sections(result_and_arrays):
    result, arrays = result_and_arrays
    corrected = result["validation"]["optimism_corrected"]["metrics"]["roc_auc"]
    cv_auc = result["validation"]["repeated_cv"]["per_fold"]["roc_auc"]["mean"]
    assert corrected["corrected"] == pytest.approx(cv_auc, abs=0.05)  # the two views agree
    comparison = result["benchmarks"]["age_only"]["model_minus_benchmark"]
    assert comparison["roc_auc"]["model"] == pytest.approx(
        result["validation"]["repeated_cv"]["averaged_probabilities"]["roc_auc"]
    )
    assert arrays["bootstrap_probabilities"].shape == (8, 1500)
    assert result["instability"]["bootstrap_models"] == 8
    assert result["sample_size"]["model_parameters"] == 4
    assert len(result["decision_curve"]["age_only"]) == len(result["decision_curve"]["threshold"])


def test_plots_are_written_when_asked(tmp_path):
    validate(
        synthetic_patients(600, seed=1),
        fit_simple,
        n_boot=3,
        benchmark_fits={},
        n_repeats=1,
        n_jobs=1,
        plots_dir=tmp_path,
    )
    assert (tmp_path / "calibration_loess.png").is_file()
    assert (tmp_path / "instability.png").is_file()


def test_an_unknown_family_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown model family 'svm'"):
        family_fit("svm")


def test_per_fold_differences_use_the_same_folds_for_both_models(result_and_arrays):
    result, _ = result_and_arrays
    per_fold = result["benchmarks"]["age_only"]["model_minus_benchmark_per_fold"]
    assert per_fold["roc_auc"]["folds"] == 5 * 2
    cv_model = result["validation"]["repeated_cv"]["per_fold"]["roc_auc"]["mean"]
    cv_bench = result["benchmarks"]["age_only"]["repeated_cv"]["per_fold"]["roc_auc"]["mean"]
    assert per_fold["roc_auc"]["mean"] == pytest.approx(cv_model - cv_bench)
    assert set(result["what_if_evidence"]["model_odds_ratios"]) == set(
        result["what_if_evidence"]["odds_ratios"]
    )
