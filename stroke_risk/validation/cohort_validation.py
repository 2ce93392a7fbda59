"""Internal validation of a cohort model at its horizon, optimism-corrected.

As for the shipped model: the apparent measures on the development cohort, minus the
optimism estimated by refitting the whole procedure on bootstrap resamples (Harrell's
bootstrap, the family fixed; Efron & Tibshirani's ".632-free" version). The refits are
the ones training keeps for the probability intervals, so the bootstrap is paid once for
intervals, optimism and instability (Riley & Collins 2023).

For speed on large cohorts the optimism of each refit is measured on at most
``OPTIMISM_ROWS`` patients: the resample's first rows, against the same patients in the
original cohort (each once). The optimism is a difference of two paired estimates, and
for 100,000 patients it is a few thousandths of C.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from stroke_risk.training.cohort import Cohort
from stroke_risk.training.lean_compile import frame_to_columns
from stroke_risk.training.survival import CohortTrainingResult, HorizonRiskModel
from stroke_risk.validation.horizon_metrics import (
    horizon_measures,
    sample_size_guidance,
    subgroup_measures,
)

OPTIMISM_ROWS = 20_000
OPTIMISM_REFITS = 20  # of the training refits, used for the optimism correction
CORRECTED = ("harrell_c", "uno_c", "auc_at_horizon", "observed_expected", "slope")

COMPETING_RISK_NOTE = (
    "Deaths before a stroke are a competing event, not censoring: the model is calibrated "
    "to, and validated against, the cumulative incidence of stroke (Aalen-Johansen), the "
    "chance of having a stroke within the horizon when people may also die of other "
    "causes. It is therefore lower than a 'risk if no one died' for the oldest and "
    "frailest patients. A cohort without a death column cannot tell deaths from the end "
    "of follow-up: its deaths are censored, and the estimate then reads as the risk "
    "among people who stay alive, which overstates the real-world risk where deaths are "
    "common."
)


def _flat(measures: dict[str, Any]) -> dict[str, float]:
    return {
        "harrell_c": measures["harrell_c"],
        "uno_c": measures["uno_c"],
        "auc_at_horizon": measures["auc_at_horizon"],
        "observed_expected": measures["observed_expected"],
        "slope": measures["calibration"]["slope"],
    }


def _optimism(frame: pd.DataFrame, refit: HorizonRiskModel) -> dict[str, float]:
    n = len(frame)
    rows = np.random.default_rng(refit.seed).integers(0, n, n)[:OPTIMISM_ROWS]
    # The original patients compared are those the resample drew (each once): the two
    # measures are paired. A fixed random subset instead added its own constant offset to
    # every refit's optimism (0.005 of C for one subset of 20,000 out of 50,000).
    boot = frame.iloc[rows]
    original = frame if n <= OPTIMISM_ROWS else frame.iloc[np.unique(rows)]
    horizon = float(refit.horizon_years)
    on_boot = _flat(
        horizon_measures(boot, refit.predict_proba(boot)[:, 1], horizon, with_curve=False)
    )
    on_original = _flat(
        horizon_measures(original, refit.predict_proba(original)[:, 1], horizon, with_curve=False)
    )
    return {key: on_boot[key] - on_original[key] for key in CORRECTED}


def instability(
    frame: pd.DataFrame, risk: np.ndarray, refits: list[HorizonRiskModel]
) -> dict[str, Any]:
    """How much each patient's risk moves across bootstrap refits (Riley & Collins 2023)."""
    columns = frame_to_columns(frame)
    refit_risks = np.column_stack([refit.lean().predict(columns) for refit in refits])
    low, high = np.percentile(refit_risks, [2.5, 97.5], axis=1)
    width = high - low
    return {
        "refits": len(refits),
        "mean_absolute_prediction_error": float(np.mean(np.abs(refit_risks - risk[:, None]))),
        "interval_width_median": float(np.median(width)),
        "interval_width_90th_percentile": float(np.percentile(width, 90)),
    }


def validate_cohort_model(
    result: CohortTrainingResult, cohort: Cohort, seed: int = 42, n_jobs: int = 2
) -> dict[str, Any]:
    """Apparent and optimism-corrected measures, subgroups, instability, sample size."""
    frame = cohort.frame
    horizon = result.horizon_years
    risk = result.lean.predict(frame_to_columns(frame))
    apparent = horizon_measures(frame, risk, horizon)
    refits = result.refits[:OPTIMISM_REFITS]
    optimisms = Parallel(n_jobs=n_jobs)(delayed(_optimism)(frame, refit) for refit in refits)
    flat = _flat(apparent)
    optimism = {key: float(np.nanmean([o[key] for o in optimisms])) for key in CORRECTED}
    return {
        "validation": {
            "kind": "internal",
            "method": (
                f"bootstrap optimism correction ({len(refits)} refits of the whole procedure, "
                f"family fixed; measured on up to {OPTIMISM_ROWS:,} patients each)"
            ),
            "apparent": apparent,
            "optimism": optimism,
            "corrected": {key: flat[key] - optimism[key] for key in CORRECTED},
        },
        "subgroups": subgroup_measures(frame, risk, horizon, cohort.group_columns),
        "instability": instability(frame, risk, result.refits),
        "sample_size": sample_size_guidance(apparent["strokes_by_horizon"]),
        "competing_risks": COMPETING_RISK_NOTE
        if cohort.has_death
        else COMPETING_RISK_NOTE + " This cohort has no death column.",
    }
