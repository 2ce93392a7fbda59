"""Fixtures for the model tests: each candidate family fitted once per session and split."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from tests.model.fitting import fit_calibrated, training_split

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
