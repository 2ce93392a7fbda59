"""Fixtures for the model tests: each candidate family fitted once per session and split,
and the assessors built from them (every family; a logistic regression with intervals)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.core.config import Settings
from stroke_risk.core.schema import ADULT_AGE, Patient
from stroke_risk.scoring.intervals import ProbabilityIntervals
from stroke_risk.scoring.profile import build_profile
from stroke_risk.training.bootstrap_refits import bootstrap_refits
from stroke_risk.training.families import candidates
from stroke_risk.training.lean_compile import compile_lean_model, frame_to_columns
from tests.model.fitting import FAMILIES, fit_calibrated, training_split
from tests.model.replies import adult_patients

FittedFamily = Callable[[str, int], CalibratedClassifierCV]


@pytest.fixture(scope="session")
def fitted_family(stroke_data: pd.DataFrame) -> FittedFamily:
    """``fitted_family(family, seed)``: the family calibrated on training split ``seed``.

    The explanation, lean-copy and behavioural tests all ask for the same fits (every family
    on split 0); each is made once per session, however many tests ask for it.
    """
    fitted: dict[tuple[str, int], CalibratedClassifierCV] = {}

    def get(family: str, seed: int = 0) -> CalibratedClassifierCV:
        if (family, seed) not in fitted:
            fitted[family, seed] = fit_calibrated(family, training_split(stroke_data, seed), seed)
        return fitted[family, seed]

    return get


@pytest.fixture(scope="module", params=FAMILIES)
def assessor(request, stroke_data, fitted_family) -> RiskAssessor:
    train = training_split(stroke_data)
    lean = compile_lean_model(fitted_family(request.param), train)
    adults = train[train["age"] >= ADULT_AGE]
    profile = build_profile(adults, lean.predict(frame_to_columns(adults)))
    return RiskAssessor(lean, profile, Settings(), f"test:{request.param}")


@pytest.fixture(scope="module")
def with_intervals(stroke_data, fitted_family) -> RiskAssessor:
    """A logistic regression with 40 bootstrap refits behind its intervals."""
    train = training_split(stroke_data)
    candidate = next(c for c in candidates(0) if c.name == "logistic_regression")
    estimator = candidate.pipeline.set_params(**{k: v[0] for k, v in candidate.quick_grid.items()})
    lean = compile_lean_model(fitted_family("logistic_regression"), train)
    refits = bootstrap_refits(estimator, train, 40, seed=3)
    adults = train[train["age"] >= ADULT_AGE]
    profile = build_profile(adults, lean.predict(frame_to_columns(adults)))
    intervals = ProbabilityIntervals.from_lean_models(refits)
    return RiskAssessor(lean, profile, Settings(), "test:intervals", intervals=intervals)


@pytest.fixture(scope="module")
def patients(stroke_data) -> list[Patient]:
    return adult_patients(stroke_data, 400)
