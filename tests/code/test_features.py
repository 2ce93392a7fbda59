"""Preprocessing: how a blank BMI is filled, and how categories are coded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stroke_risk.core.schema import CATEGORICAL_FEATURES, FEATURES, categories
from stroke_risk.scoring.lean import Encoder
from stroke_risk.training.features import (
    HotDeckImputer,
    build_preprocessor,
    category_code,
    encoded_columns,
    monotone_constraints,
)
from tests.conftest import EXAMPLE_PATIENT, patients_frame


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


@pytest.fixture
def example_frame() -> pd.DataFrame:
    """The example patient once with each smoking status."""
    return patients_frame(
        [{**EXAMPLE_PATIENT, "smoking_status": value} for value in categories("smoking_status")]
    )


def test_smoking_is_coded_as_a_ladder_with_unknown_apart():
    rows = dict(zip(categories("smoking_status"), category_code("smoking_status"), strict=True))
    assert rows == {
        "never smoked": (0.0, 0.0, 0.0),
        "formerly smoked": (1.0, 0.0, 0.0),
        "smokes": (1.0, 1.0, 0.0),
        "Unknown": (0.0, 0.0, 1.0),
    }


def test_unordered_categories_stay_one_hot():
    rows = category_code("work_type")
    np.testing.assert_array_equal(np.asarray(rows), np.eye(len(categories("work_type"))))


def test_only_the_ladder_steps_of_a_category_carry_a_direction():
    directions = dict(zip(encoded_columns(), monotone_constraints(), strict=True))
    smoking = {label: d for (name, label), d in directions.items() if name == "smoking_status"}
    assert smoking == {"formerly smoked or above": 1, "smokes or above": 1, "Unknown": 0}
    assert all(
        d == 0 for (name, label), d in directions.items() if label and name != "smoking_status"
    )


def test_the_preprocessor_writes_the_columns_encoded_columns_names(example_frame):
    matrix = build_preprocessor().fit_transform(example_frame)
    assert matrix.shape[1] == len(encoded_columns())
    smoking = [i for i, (name, _) in enumerate(encoded_columns()) if name == "smoking_status"]
    by_value = dict(zip(example_frame["smoking_status"], matrix[:, smoking].tolist(), strict=True))
    assert by_value["smokes"] == [1.0, 1.0, 0.0]


def test_a_model_saved_before_the_ladder_is_still_read_one_hot(example_frame):
    """Encoders pickled before ``codes`` existed lack it; they coded every category one-hot."""
    old = Encoder(
        medians=np.zeros(3),
        means=np.zeros(3),
        scales=np.ones(3),
        categories=tuple(categories(name) for name in CATEGORICAL_FEATURES),
    )
    matrix = old.encode({name: example_frame[name].to_numpy() for name in FEATURES})
    smoking = old.slices()["smoking_status"]
    rows = matrix[:, smoking]
    assert rows.shape[1] == len(categories("smoking_status"))
    np.testing.assert_array_equal(rows.sum(axis=1), np.ones(len(example_frame)))


def test_the_preprocessor_spreads_training_rows_with_a_blank_bmi_over_observed_values(
    stroke_data,
):
    """All blank BMIs on one value (median imputation) would let a tree learn that value as
    'not recorded', a step of risk; hot-deck draws give them many values."""
    features = stroke_data[list(FEATURES)]
    encoded = build_preprocessor(seed=0).fit_transform(features)
    bmi = [name for name, _ in encoded_columns()].index("bmi")
    blank = features["bmi"].isna().to_numpy()
    assert blank.sum() > 100, "the premise: the data set has blank BMIs"
    assert len(np.unique(encoded[blank, bmi])) > 50


def test_the_preprocessor_adds_no_missing_bmi_indicator(stroke_data):
    """A missing-value column would teach the model that an unmeasured BMI means high risk
    (a blank BMI went with a 4x stroke rate in the data); the columns are exactly the
    features' own."""
    encoded = build_preprocessor(seed=0).fit_transform(stroke_data[list(FEATURES)])
    assert encoded.shape[1] == len(encoded_columns())
