"""The evidence behind the data-support flag splits the adults by the reply's own rule."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.core.age_bands import age_band
from stroke_risk.core.evidence import MIN_EVENTS_TO_JUDGE
from stroke_risk.core.schema import ADULT_AGE
from stroke_risk.scoring.profile import RARE_CATEGORY_COUNT
from stroke_risk.validation.data_support_evidence import data_support_evidence


@pytest.fixture(scope="module")
def evidence(stroke_data):
    n = len(stroke_data)
    rng = np.random.default_rng(0)
    main = np.full(n, 0.05)
    refits = np.clip(main[None, :] * rng.lognormal(0, 0.2, (40, n)), 1e-4, 0.99)
    return data_support_evidence(stroke_data, main, refits, main)


def test_thin_means_few_strokes_in_the_sex_and_age_band_or_a_rare_category(stroke_data, evidence):
    adults = stroke_data[stroke_data["age"] >= ADULT_AGE]
    bands = adults["age"].map(age_band)
    strokes = adults.groupby([adults["gender"], bands])["stroke"].transform("sum")
    rare = np.zeros(len(adults), dtype=bool)
    for name in ("gender", "ever_married", "work_type", "residence_type", "smoking_status"):
        counts = adults[name].map(adults[name].value_counts())
        rare |= (counts < RARE_CATEGORY_COUNT).to_numpy()
    thin = (strokes < MIN_EVENTS_TO_JUDGE).to_numpy() | rare
    assert evidence["thin"]["patients"] == thin.sum()
    assert evidence["thin"]["strokes"] == adults["stroke"].to_numpy()[thin].sum()
    assert evidence["thin"]["patients"] + evidence["adequate"]["patients"] == len(adults)


def test_every_adult_age_band_is_measured(evidence):
    assert set(evidence["by_age_band"]) == {"18-39", "40-49", "50-59", "60-69", "70-79", "80+"}
    assert all(row["median_log_odds_width"] > 0 for row in evidence["by_age_band"].values())
