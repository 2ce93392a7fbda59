"""Preprocessing: how a blank BMI is filled, when training and when scoring."""

from __future__ import annotations

import numpy as np

from stroke_risk.features import HotDeckImputer


def column_with_gaps() -> np.ndarray:
    values = np.array([20.0, 22.0, 30.0, 40.0, np.nan, np.nan, np.nan, np.nan] * 50)
    return values.reshape(-1, 1)


def test_training_rows_get_observed_values_drawn_at_random_not_one_value():
    filled = HotDeckImputer(random_state=0).fit_transform(column_with_gaps())
    gaps = np.isnan(column_with_gaps()[:, 0])
    assert set(np.unique(filled[gaps, 0])) == {20.0, 22.0, 30.0, 40.0}


def test_scoring_fills_a_gap_with_the_training_median():
    imputer = HotDeckImputer(random_state=0).fit(column_with_gaps())
    assert imputer.transform(np.array([[np.nan], [25.0]])).tolist() == [[26.0], [25.0]]
    assert imputer.statistics_.tolist() == [26.0]


def test_the_draws_are_reproducible():
    first = HotDeckImputer(random_state=3).fit_transform(column_with_gaps())
    second = HotDeckImputer(random_state=3).fit_transform(column_with_gaps())
    np.testing.assert_array_equal(first, second)
