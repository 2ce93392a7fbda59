"""Turning validated patients into the model's numeric matrix.

Missing BMI: in this data set a blank BMI goes with a four-times higher stroke rate (a
quirk of how the data were collected). A missing-value indicator would teach the model
that a GP who did not measure BMI has a patient at high risk. Plain median imputation is
not enough either: the 170 blank training rows all land on one value, and the trees put a
step of risk right there (measured: 12.1% at BMI 24.9 against 14.5% at the median 28.0
for the same patient, flat above), which inflates every BMI what-if. So the training rows
with a blank BMI get BMI values drawn at random from the observed ones (hot-deck), which
spreads them out so that no BMI value stands for "not recorded"; a patient scored later
with a blank BMI gets the training median. See the model card.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from stroke_risk.core.schema import (
    CATEGORICAL_FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    categories,
)

# Direction in which each encoded column may move the risk (+1 up, 0 free), in the column
# order of build_preprocessor(). Age, glucose, BMI, hypertension and heart disease are
# well-established risk factors; constraining trees to respect that keeps them from fitting
# noise into clinically absurd steps (e.g. risk falling at 79 and rising again at 80).
MONOTONE_DIRECTIONS: dict[str, int] = {
    "age": 1,
    "avg_glucose_level": 1,
    # BMI above the healthy range is an accepted risk factor. Unconstrained, the trees pick
    # up this data set's confounded dip in stroke rate at very high BMI (mostly younger
    # patients) and would tell an obese patient that their weight lowers their risk.
    "bmi": 1,
    "hypertension": 1,
    "heart_disease": 1,
}

# Categories with an accepted order of risk, lowest first. Coded one-hot, the models could
# rank them any way, and on 3 of 10 training splits both logistic regression and XGBoost
# put former smokers above current ones (former smokers here are older: a confounded
# association); "stop smoking" would then read as raising the risk. Coded as a ladder
# instead (column j: at or above step j + 1), each column constrained not to lower risk,
# every model keeps never <= formerly <= smokes. Values outside the ladder ("Unknown",
# i.e. not recorded) keep a one-hot column of their own, free of any direction.
ORDERED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "smoking_status": ("never smoked", "formerly smoked", "smokes"),
}


class HotDeckImputer(TransformerMixin, BaseEstimator):
    """Median imputation when scoring; random draws of observed values when training.

    ``fit_transform`` (what a Pipeline calls while fitting) fills each gap with a value
    drawn from the column's observed values; ``transform`` (scoring, including held-out
    folds) fills it with the median in ``statistics_``, like ``SimpleImputer``.
    """

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, X, y=None) -> HotDeckImputer:  # noqa: N803 - scikit-learn's signature
        values = np.asarray(X, dtype=float)
        self.statistics_ = np.nanmedian(values, axis=0)
        self.observed_ = [column[~np.isnan(column)] for column in values.T]
        self.n_features_in_ = values.shape[1]
        return self

    def transform(self, X) -> np.ndarray:  # noqa: N803
        values = np.array(X, dtype=float)
        rows, columns = np.nonzero(np.isnan(values))
        values[rows, columns] = self.statistics_[columns]
        return values

    def fit_transform(self, X, y=None) -> np.ndarray:  # noqa: N803
        self.fit(X)
        values = np.array(X, dtype=float)
        rng = np.random.default_rng(self.random_state)
        for j, observed in enumerate(self.observed_):
            missing = np.isnan(values[:, j])
            if missing.any():
                values[missing, j] = rng.choice(observed, missing.sum())
        return values

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


Code = tuple[tuple[float, ...], ...]  # one row of 0/1 columns per allowed value


def _category_columns(name: str) -> list[tuple[str, int, frozenset[str]]]:
    """(label, monotone direction, values that set it to 1) of each encoded column of a
    categorical feature: one per ladder step above the first, one per other value."""
    ladder = ORDERED_CATEGORIES.get(name, ())
    steps = [(f"{ladder[j]} or above", 1, frozenset(ladder[j:])) for j in range(1, len(ladder))]
    others = [(value, 0, frozenset([value])) for value in categories(name) if value not in ladder]
    return steps + others


def category_code(name: str) -> Code:
    """Each allowed value's encoded row, in the schema's order: one-hot, or the ladder."""
    columns = _category_columns(name)
    return tuple(
        tuple(1.0 if value in members else 0.0 for _, _, members in columns)
        for value in categories(name)
    )


def recode_one_hot(one_hot: np.ndarray, codes: tuple[Code, ...]) -> np.ndarray:
    """Each categorical feature's one-hot columns mapped through its code (see above)."""
    one_hot = np.asarray(one_hot)
    parts, start = [], 0
    for code in codes:
        stop = start + len(code)
        parts.append(one_hot[:, start:stop] @ np.asarray(code))
        start = stop
    return np.hstack(parts)


def _coded_names(transformer: Any, input_features: Any) -> np.ndarray:
    return np.asarray([f"{name}={label}" for name, label in encoded_columns() if label])


def build_preprocessor(seed: int = 0) -> ColumnTransformer:
    """Impute (see above) and scale numbers, pass 0/1 flags through, code categories.

    The categories come from the schema, so a value the schema allows but the training
    split lacks still has a column, and the column layout never depends on the data.
    """
    numeric = Pipeline([("impute", HotDeckImputer(random_state=seed)), ("scale", StandardScaler())])
    one_hot = OneHotEncoder(
        categories=[list(categories(name)) for name in CATEGORICAL_FEATURES],
        handle_unknown="error",
        sparse_output=False,
    )
    codes = tuple(category_code(name) for name in CATEGORICAL_FEATURES)
    recode = FunctionTransformer(
        recode_one_hot,
        kw_args={"codes": codes},
        feature_names_out=_coded_names,
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, list(NUMERIC_FEATURES)),
            ("flags", "passthrough", list(FLAG_FEATURES)),
            (
                "categorical",
                Pipeline([("one_hot", one_hot), ("code", recode)]),
                list(CATEGORICAL_FEATURES),
            ),
        ],
        verbose_feature_names_out=False,
    )


def encoded_columns() -> list[tuple[str, str | None]]:
    """(feature, column label) for each encoded column, in order; None for numbers."""
    columns: list[tuple[str, str | None]] = [(name, None) for name in NUMERIC_FEATURES]
    columns += [(name, None) for name in FLAG_FEATURES]
    for name in CATEGORICAL_FEATURES:
        columns += [(name, label) for label, _, _ in _category_columns(name)]
    return columns


def monotone_constraints() -> list[int]:
    """The monotone direction of each encoded column (+1 for ladder steps, else 0 for
    categories)."""
    directions = [MONOTONE_DIRECTIONS.get(name, 0) for name in NUMERIC_FEATURES + FLAG_FEATURES]
    for name in CATEGORICAL_FEATURES:
        directions += [direction for _, direction, _ in _category_columns(name)]
    return directions


def encode_fixed_columns(frame: pd.DataFrame) -> np.ndarray:
    """``frame``'s rows as build_preprocessor encodes them before anything is fitted: the
    numbers as they are (blanks kept), the flags, each category as its code row.

    Only the numbers' imputation and scaling are learnt from data; the categories' coding
    comes from the schema (``category_code``). So rows resampled many times over (the
    bootstrap refits, validation's bootstraps and folds) are coded once, in numpy, and
    each fit only imputes and scales, with :class:`NumbersFirst`. A value outside the
    schema's categories is refused, as the preprocessor's one-hot encoder refuses it.
    """
    parts = [
        frame[list(NUMERIC_FEATURES)].to_numpy(dtype=float),
        frame[list(FLAG_FEATURES)].to_numpy(dtype=float),
    ]
    for name in CATEGORICAL_FEATURES:
        allowed = list(categories(name))
        index = pd.Index(allowed).get_indexer(frame[name])
        if (index < 0).any():
            raise ValueError(f"{name}: a value outside the schema's categories {allowed}")
        parts.append(np.asarray(category_code(name), dtype=float)[index])
    return np.hstack(parts)


class NumbersFirst(TransformerMixin, BaseEstimator):
    """``numeric`` (build_preprocessor's imputer and scaler) fitted on the first ``width``
    columns of :func:`encode_fixed_columns`' output; the other columns passed through.

    Gives build_preprocessor's matrix bit for bit (the same imputer draws, the same scaler,
    the same column order) at a fraction of the cost: re-coding the categories of pandas
    columns was most of a refit's time.
    """

    def __init__(self, numeric: Any = None, width: int = len(NUMERIC_FEATURES)) -> None:
        self.numeric = numeric
        self.width = width

    def fit(self, X, y=None) -> NumbersFirst:  # noqa: N803 - scikit-learn's signature
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:  # noqa: N803
        values = np.asarray(X, dtype=float)
        self.numeric_ = clone(self.numeric)
        # Column-major, as pandas hands the ColumnTransformer its numbers: the scaler's sums
        # then add in the same order, and the matrix is the same to the last bit.
        numbers = self.numeric_.fit_transform(np.asfortranarray(values[:, : self.width]))
        self.n_features_in_ = values.shape[1]
        return np.hstack([numbers, values[:, self.width :]])

    def transform(self, X) -> np.ndarray:  # noqa: N803
        values = np.asarray(X, dtype=float)
        numbers = self.numeric_.transform(np.asfortranarray(values[:, : self.width]))
        return np.hstack([numbers, values[:, self.width :]])
