"""The reply's numbers: one patient's plain-Python rounding is numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.assessment.drivers import odds_ratio_of_rounded_share, odds_ratios
from stroke_risk.assessment.results import DECIMALS, round_as_numpy


def test_rounding_one_number_equals_numpys_rounding_of_an_array():
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.uniform(-3, 3, 100_000),
            rng.uniform(0, 1e-3, 10_000),
            # Exact halves at the fourth decimal, where half-to-even and half-up differ.
            (np.arange(-2000, 2000) + 0.5) / 10**DECIMALS,
        ]
    )
    expected = (np.round(values, DECIMALS) + 0.0).tolist()
    assert [round_as_numpy(x) for x in values.tolist()] == expected


@pytest.mark.parametrize("value", [-0.00001, -0.0, -1e-9])
def test_rounding_never_gives_negative_zero(value):
    assert str(round_as_numpy(value)) == "0.0"


def test_rounding_to_one_decimal_as_the_percent_is():
    values = np.linspace(0, 100, 100_001)
    assert [round_as_numpy(x, 10.0) for x in values.tolist()] == np.round(values, 1).tolist()


def test_one_odds_ratio_equals_the_batchs_for_every_rounded_share_from_minus_10_to_10():
    """math's exp and numpy's differ in the last place for some shares; once rounded to 3
    decimals they must not, or a patient's reply would depend on the path it took."""
    shares = np.arange(-100_000, 100_001) / 10.0**DECIMALS  # every share a reply can hold
    batch = odds_ratios(shares).tolist()
    assert [odds_ratio_of_rounded_share(x) for x in shares.tolist()] == batch
