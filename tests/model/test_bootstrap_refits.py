"""The interval refits: the quick path (categories coded once, `NumbersFirst`) gives the
numbers of the whole pipeline refitted on each bootstrap resample, as it was done before.

The tolerance is 1e-9 in probability: the same matrix reaches the same solver, so the
copies agree to rounding (measured: 6e-14 for logistic regression, 0 for the trees).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from stroke_risk.core.schema import FEATURES, TARGET
from stroke_risk.training.bootstrap_refits import (
    PREPROCESS_STEP,
    bootstrap_refits,
    calibrated,
    on_coded_rows,
)
from stroke_risk.training.families import MODEL_STEP, candidates
from stroke_risk.training.features import encode_fixed_columns
from stroke_risk.training.lean_compile import compile_lean_model, frame_to_columns
from stroke_risk.validation.validate import family_fit
from tests.model.fitting import FAMILIES, training_split

SAME_NUMBERS = 1e-9
REFITS = 3
SEED = 42


def chosen_procedure(family: str) -> object:
    candidate = next(c for c in candidates(SEED) if c.name == family)
    first = {name: values[0] for name, values in candidate.quick_grid.items()}
    return clone(candidate.pipeline).set_params(**first)


def whole_pipeline_refit(estimator: object, data: pd.DataFrame, seed: int):
    """One refit as it was made before the quick path: the DataFrame pipeline, re-coding
    every category in every fold."""
    rows = np.random.default_rng(seed).integers(0, len(data), len(data))
    sample = data.iloc[rows]
    model = calibrated(estimator, seed).fit(sample[list(FEATURES)], sample[TARGET].to_numpy())
    return compile_lean_model(model, sample)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_quick_refits_give_the_whole_pipelines_probabilities(
    family: str, stroke_data: pd.DataFrame
) -> None:
    data = training_split(stroke_data)
    estimator = chosen_procedure(family)
    quick = bootstrap_refits(estimator, data, REFITS, seed=SEED, n_jobs=1)
    seeds = np.random.SeedSequence(SEED).generate_state(REFITS).tolist()
    columns = frame_to_columns(stroke_data)
    for seed, lean in zip(seeds, quick, strict=True):
        expected = whole_pipeline_refit(estimator, data, seed).predict(columns)
        np.testing.assert_allclose(lean.predict(columns), expected, rtol=0, atol=SAME_NUMBERS)


def test_rows_coded_once_then_imputed_and_scaled_are_the_preprocessors_matrix(
    stroke_data: pd.DataFrame,
) -> None:
    """Bit for bit, blanks and hot-deck draws included: the refits' speed-up rests on it."""
    estimator = chosen_procedure("logistic_regression")
    frame = stroke_data[list(FEATURES)]
    assert frame["bmi"].isna().any(), "the data set's blank BMIs are what this checks"
    expected = clone(estimator.named_steps[PREPROCESS_STEP]).fit_transform(frame)
    coded = encode_fixed_columns(frame)
    quick = on_coded_rows(estimator).named_steps[PREPROCESS_STEP].fit_transform(coded)
    np.testing.assert_array_equal(quick, expected)


def test_each_refit_is_reported_to_the_progress_hook(stroke_data: pd.DataFrame) -> None:
    seen: list[tuple[int, int]] = []
    estimator = chosen_procedure("decision_tree")
    data = training_split(stroke_data)
    bootstrap_refits(
        estimator, data, REFITS, seed=SEED, n_jobs=1, progress=lambda *a: seen.append(a)
    )
    assert seen == [(done, REFITS) for done in range(1, REFITS + 1)]


def test_the_model_step_keeps_its_hyperparameters_on_coded_rows() -> None:
    estimator = chosen_procedure("logistic_regression").set_params(**{f"{MODEL_STEP}__C": 0.1})
    assert on_coded_rows(estimator).get_params()[f"{MODEL_STEP}__C"] == 0.1


@pytest.mark.parametrize("family", ["logistic_regression", "xgboost"])
def test_validations_fits_give_the_whole_pipelines_probabilities(
    family: str, stroke_data: pd.DataFrame
) -> None:
    """Validation's procedure (optimism bootstrap, repeated CV) fits on coded rows too."""
    data = training_split(stroke_data)
    estimator = chosen_procedure(family)
    params = {k: v for k, v in estimator.get_params().items() if k.startswith(f"{MODEL_STEP}__")}
    predict = family_fit(family, **params)(data, SEED)
    whole = calibrated(estimator, SEED).fit(data[list(FEATURES)], data[TARGET])
    expected = whole.predict_proba(stroke_data[list(FEATURES)])[:, 1]
    np.testing.assert_allclose(predict(stroke_data), expected, rtol=0, atol=SAME_NUMBERS)


def test_coding_refuses_a_category_the_schema_does_not_allow(stroke_data: pd.DataFrame) -> None:
    frame = stroke_data[list(FEATURES)].head(3).copy()
    frame.loc[frame.index[1], "work_type"] = "Astronaut"
    with pytest.raises(ValueError, match="work_type"):
        encode_fixed_columns(frame)
