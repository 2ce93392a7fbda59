"""The clinical validation on the real data set reproduces what the clinical review reported.

Few bootstraps and repeats keep it to well under a minute; the figures quoted in the model
card come from `validate` run with n_boot=200 and 10 repeats.
"""

from __future__ import annotations

import json

import pytest

from stroke_risk.validation.validate import (
    family_fit,
    logistic_regression_parameters,
    validate,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def validation(stroke_data):
    return validate(
        stroke_data,
        family_fit("logistic_regression", model__C=0.1),
        seed=0,
        n_boot=10,
        n_repeats=2,
        parameters=logistic_regression_parameters(stroke_data),
        n_jobs=2,
    )


def test_validation_is_strict_json_with_every_section(validation):
    json.dumps(validation, allow_nan=False)
    assert validation["validation"]["strokes"] == 249


def test_optimism_corrected_and_cross_validated_auc_agree(validation):
    corrected = validation["validation"]["optimism_corrected"]["metrics"]["roc_auc"]["corrected"]
    cv = validation["validation"]["repeated_cv"]["per_fold"]["roc_auc"]["mean"]
    assert 0.80 < corrected < 0.88
    assert corrected == pytest.approx(cv, abs=0.015)


def test_age_alone_comes_within_two_points_of_auc(validation):
    difference = validation["benchmarks"]["age_only"]["model_minus_benchmark"]["roc_auc"]
    assert -0.01 < difference["difference"] < 0.02
    assert difference["ci"][0] < 0.01  # no large, certain gain over age alone


def test_blank_bmi_patients_are_under_predicted(validation):
    blank = next(
        r for r in validation["subgroups"] if r["grouping"] == "bmi" and r["group"] == "blank"
    )
    assert blank["observed_expected_ci"][0] > 1.3


def test_the_logistic_regression_respects_rileys_parameter_limit(validation):
    sample_size = validation["sample_size"]
    assert 25 < sample_size["max_parameters_criterion_i"] < 60
    assert sample_size["model_parameters"] < sample_size["max_parameters_criterion_i"]
