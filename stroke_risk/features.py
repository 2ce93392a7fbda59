"""Turning validated patients into the model's numeric matrix.

Missing BMI is imputed with the training folds' median and no missing-value indicator is
added: in this data set a blank BMI goes with a four-times higher stroke rate (a quirk of
how the data were collected), and an indicator would teach the model that a GP who did
not measure BMI has a patient at high risk. See the model card.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from stroke_risk.schema import CATEGORICAL_FEATURES, FLAG_FEATURES, NUMERIC_FEATURES, categories

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


def build_preprocessor() -> ColumnTransformer:
    """Median-impute and scale numbers, pass 0/1 flags through, one-hot encode categories.

    The categories come from the schema, so a value the schema allows but the training
    split lacks still has a column, and the column layout never depends on the data.
    """
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    one_hot = OneHotEncoder(
        categories=[list(categories(name)) for name in CATEGORICAL_FEATURES],
        handle_unknown="error",
        sparse_output=False,
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, list(NUMERIC_FEATURES)),
            ("flags", "passthrough", list(FLAG_FEATURES)),
            ("categorical", one_hot, list(CATEGORICAL_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )


def encoded_columns() -> list[tuple[str, str | None]]:
    """(feature, category) for each encoded column, in order; category is None for numbers."""
    columns: list[tuple[str, str | None]] = [(name, None) for name in NUMERIC_FEATURES]
    columns += [(name, None) for name in FLAG_FEATURES]
    for name in CATEGORICAL_FEATURES:
        columns += [(name, value) for value in categories(name)]
    return columns


def monotone_constraints() -> list[int]:
    """The monotone direction of each encoded column (0 for one-hot columns)."""
    return [
        MONOTONE_DIRECTIONS.get(name, 0) if value is None else 0
        for name, value in encoded_columns()
    ]
