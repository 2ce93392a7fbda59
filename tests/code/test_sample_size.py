"""Riley's sample-size criteria reproduce the published worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stroke_risk.validation.sample_size import (
    cox_snell_r2,
    expected_shrinkage,
    nagelkerke_r2,
    riley_max_parameters,
    riley_minimum_sample_size,
    sample_size_report,
)


def test_riley_worked_example_for_a_binary_outcome_is_reproduced():
    # Riley et al. (Stat Med 2019 part II; the pmsampsize example): 24 parameters,
    # prevalence 0.174, anticipated R2_cs 0.288 -> criteria (i) 623, (ii) 662, (iii) 221.
    sizes = riley_minimum_sample_size(24, prevalence=0.174, r2_cs=0.288)
    assert sizes["criterion_i_shrinkage"] == 623
    assert sizes["criterion_ii_optimism"] == 662
    assert sizes["criterion_iii_intercept"] == 221
    assert sizes["minimum"] == 662


def test_the_clinical_reviews_34_parameter_figure_is_reproduced():
    # The clinical review: ~34 parameters at n = 4,088 with R2_cs 0.0725 and shrinkage 0.9.
    assert riley_max_parameters(4088, 0.0725) == pytest.approx(34.3, abs=0.1)


def test_max_parameters_is_the_inverse_of_the_minimum_sample_size():
    most = riley_max_parameters(3000, 0.08)
    assert riley_minimum_sample_size(math.floor(most), 0.05, 0.08)["criterion_i_shrinkage"] <= 3000
    assert (
        riley_minimum_sample_size(math.ceil(most) + 1, 0.05, 0.08)["criterion_i_shrinkage"] > 3000
    )


def test_expected_shrinkage_at_the_maximum_parameters_is_the_target():
    most = riley_max_parameters(4088, 0.0725, shrinkage=0.9)
    assert expected_shrinkage(4088, round(most), 0.0725) == pytest.approx(0.9, abs=0.005)


def test_cox_snell_r2_is_zero_for_the_null_model_and_matches_a_likelihood_ratio():
    rng = np.random.default_rng(0)
    p = rng.beta(1, 12, 3000)
    y = (rng.random(p.size) < p).astype(int)
    assert cox_snell_r2(y, np.full(p.size, y.mean())) == pytest.approx(0.0, abs=1e-12)
    loglik = np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
    null = np.sum(y * np.log(y.mean()) + (1 - y) * np.log(1 - y.mean()))
    assert cox_snell_r2(y, p) == pytest.approx(1 - np.exp(-2 * (loglik - null) / y.size))
    assert 0 < cox_snell_r2(y, p) < nagelkerke_r2(y, p) < 1


def test_report_states_how_many_parameters_the_data_support():
    rng = np.random.default_rng(1)
    p = rng.beta(1, 15, 4000)
    y = (rng.random(p.size) < p).astype(int)
    report = sample_size_report(y, p, parameters=12)
    assert report["max_parameters_criteria_i_ii"] <= report["max_parameters_criterion_i"]
    assert report["events"] == int(y.sum())


def test_an_impossible_r2_is_refused_with_its_name():
    with pytest.raises(ValueError, match="r2_cs"):
        riley_max_parameters(1000, 0.95)
