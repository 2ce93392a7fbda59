"""Subgroup table: MetricFrame figures equal direct computations; thin groups are flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from stroke_risk.validation.subgroups import subgroup_performance


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(0)
    n = 4000
    frame = pd.DataFrame(
        {
            "gender": rng.choice(["Female", "Male"], n),
            "age": rng.uniform(20, 90, n),
            "residence_type": rng.choice(["Urban", "Rural"], n),
            "work_type": rng.choice(["Private", "Self-employed", "Govt_job"], n),
            "hypertension": (rng.random(n) < 0.1).astype(int),
            "heart_disease": (rng.random(n) < 0.05).astype(int),
            "smoking_status": rng.choice(
                ["never smoked", "formerly smoked", "smokes", "Unknown"], n
            ),
            "bmi": np.where(rng.random(n) < 0.05, np.nan, rng.normal(28, 5, n)),
        }
    )
    frame.loc[0, "gender"] = "Other"  # a group of one
    p = 1 / (1 + np.exp(-(-7 + 0.07 * frame["age"].to_numpy())))
    y = (rng.random(n) < p).astype(int)
    return frame, y, p


def _row(rows, grouping, group):
    return next(r for r in rows if r["grouping"] == grouping and r["group"] == group)


def test_one_groups_observed_expected_equals_a_direct_computation(cohort):
    frame, y, p = cohort
    rows = subgroup_performance(frame, y, p, n_boot=100)
    men = (frame["gender"] == "Male").to_numpy()
    row = _row(rows, "sex", "Male")
    assert row["observed_expected"] == pytest.approx(y[men].sum() / p[men].sum())
    assert row["patients"] == men.sum() and row["strokes"] == y[men].sum()
    assert row["roc_auc"] == pytest.approx(roc_auc_score(y[men], p[men]))
    low, high = row["observed_expected_ci"]
    assert low < row["observed_expected"] < high


GROUPINGS = (
    "sex",
    "age_band",
    "hypertension",
    "heart_disease",
    "smoking_status",
    "residence",
    "work_type",
    "bmi",
)


def test_every_grouping_is_reported_with_bmi_blank_versus_recorded(cohort):
    frame, y, p = cohort
    rows = subgroup_performance(frame, y, p, n_boot=50)
    assert {r["grouping"] for r in rows} == set(GROUPINGS)
    assert {r["group"] for r in rows if r["grouping"] == "bmi"} == {"blank", "recorded"}
    for grouping in GROUPINGS:
        assert sum(r["patients"] for r in rows if r["grouping"] == grouping) == len(frame)


def test_thin_groups_are_flagged_and_get_no_slope(cohort):
    frame, y, p = cohort
    rows = subgroup_performance(frame, y, p, n_boot=50)
    other = _row(rows, "sex", "Other")
    assert other["too_few_events"] and "too few" in other["note"]
    assert other["roc_auc"] is None and other["calibration_slope"] is None
    young = _row(rows, "age_band", "18-39")
    assert young["strokes"] < 20 and young["calibration_slope"] is None
    old = _row(rows, "age_band", "80+")
    assert old["strokes"] >= 20 and old["calibration_slope"] is not None
    assert (
        old["calibration_slope_ci"][0] < old["calibration_slope"] < old["calibration_slope_ci"][1]
    )


def test_a_miscalibrated_group_is_caught(cohort):
    frame, y, p = cohort
    doubled = np.where(frame["residence_type"] == "Rural", np.clip(2 * p, 0, 1), p)
    rows = subgroup_performance(frame, y, doubled, n_boot=100)
    assert _row(rows, "residence", "Rural")["observed_expected_ci"][1] < 0.8
    assert _row(rows, "residence", "Urban")["observed_expected_ci"][0] < 1.0


def test_vectorised_calibration_slopes_match_the_reference_fit():
    from stroke_risk.training.evaluation import calibration_slope_intercept
    from stroke_risk.validation.subgroups import calibration_slope_rows

    rng = np.random.default_rng(3)
    p = rng.beta(1, 10, (4, 800))
    y = (rng.random(p.shape) < np.clip(p * 1.3, 0, 1)).astype(int)
    expected = [calibration_slope_intercept(y[k], p[k])[0] for k in range(4)]
    np.testing.assert_allclose(calibration_slope_rows(y, p), expected, rtol=1e-3)


def test_hypertension_heart_disease_and_smoking_have_their_own_rows(cohort):
    frame, y, p = cohort
    rows = subgroup_performance(frame, y, p, n_boot=50)
    groups = {(r["grouping"], r["group"]) for r in rows}
    assert {("hypertension", "yes"), ("hypertension", "no")} <= groups
    assert {("heart_disease", "yes"), ("heart_disease", "no")} <= groups
    statuses = {"never smoked", "formerly smoked", "smokes", "Unknown"}
    assert {("smoking_status", s) for s in statuses} <= groups
    smokers = (frame["smoking_status"] == "smokes").to_numpy()
    row = _row(rows, "smoking_status", "smokes")
    assert row["patients"] == smokers.sum() and row["strokes"] == y[smokers].sum()
