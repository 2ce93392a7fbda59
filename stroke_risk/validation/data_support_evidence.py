"""The evidence behind the reply's ``data_support`` flag: does the interval show thin data?

The reply's interval is the spread of the same model refitted on bootstrap resamples,
settings fixed. If that spread grew where few training patients are like the patient, no
separate flag would be needed. This measures whether it does: the adults are split by the
reply's own rule (:class:`stroke_risk.assessment.data_support.DataSupport`: fewer than
``MIN_EVENTS_TO_JUDGE`` strokes among the patient's sex and age band, or a category seen
in fewer than ``RARE_CATEGORY_COUNT`` adults), and for each part the median width of the
95% refit interval (on the log-odds scale, so a higher risk does not widen it by itself)
is set beside how well the model is calibrated and ranks there, out of fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.metrics import roc_auc_score

from stroke_risk.assessment.data_support import DataSupport
from stroke_risk.core.age_bands import age_band
from stroke_risk.core.evidence import NO_EVIDENCE
from stroke_risk.core.schema import ADULT_AGE, TARGET
from stroke_risk.scoring.profile import build_profile
from stroke_risk.training.evaluation import calibration_slope_intercept
from stroke_risk.training.lean_compile import frame_to_columns
from stroke_risk.validation.subgroups import MIN_EVENTS_FOR_SLOPE

_EPS = 1e-6


def _summary(
    y: np.ndarray, p: np.ndarray, width: np.ndarray, members: np.ndarray
) -> dict[str, Any]:
    ys, ps = y[members], p[members]
    strokes = int(ys.sum())
    return {
        "patients": int(members.sum()),
        "strokes": strokes,
        "median_log_odds_width": float(np.median(width[members])) if members.any() else None,
        "observed_expected": float(ys.sum() / ps.sum()) if members.any() else None,
        "roc_auc": float(roc_auc_score(ys, ps)) if 0 < strokes < members.sum() else None,
        "calibration_slope": calibration_slope_intercept(ys, ps)[0]
        if strokes >= MIN_EVENTS_FOR_SLOPE
        else None,
    }


def data_support_evidence(
    data: pd.DataFrame,
    main_probabilities: np.ndarray,
    bootstrap_probabilities: np.ndarray,
    out_of_fold: np.ndarray,
) -> dict[str, Any]:
    """Interval width and out-of-fold performance where the reply says the data are thin,
    against where it says they are adequate, and by age band; adults only.

    ``main_probabilities`` [n] and ``bootstrap_probabilities`` [B, n]: the model fitted on
    all rows and its bootstrap refits (the optimism bootstrap), for every row of ``data``;
    ``out_of_fold`` [n]: the repeated-CV probabilities.
    """
    frame = data.reset_index(drop=True)
    adults = (frame["age"] >= ADULT_AGE).to_numpy()
    adult_frame = frame[adults].reset_index(drop=True)
    y = adult_frame[TARGET].to_numpy().astype(int)
    refits = logit(np.clip(bootstrap_probabilities[:, adults], _EPS, 1 - _EPS))
    low, high = np.percentile(refits, [2.5, 97.5], axis=0)
    width = high - low
    p = np.asarray(out_of_fold, dtype=float)[adults]
    profile = build_profile(adult_frame, np.asarray(main_probabilities)[adults])
    support = DataSupport(profile, NO_EVIDENCE, (0.05, 0.15))
    columns = frame_to_columns(adult_frame)
    columns["bmi"] = columns["bmi"].astype(float)
    thin = np.array([row[0] == "thin" for row in support.many(columns)])
    bands = adult_frame["age"].map(age_band).to_numpy()
    return {
        "method": (
            "adults; the reply's data-support rule; median width of the 95% interval of "
            f"{len(bootstrap_probabilities)} bootstrap refits on the log-odds scale; "
            "O/E, AUC and calibration slope out of fold"
        ),
        "all": _summary(y, p, width, np.ones(len(y), dtype=bool)),
        "thin": _summary(y, p, width, thin),
        "adequate": _summary(y, p, width, ~thin),
        "by_age_band": {
            str(band): _summary(y, p, width, bands == band) for band in sorted(set(bands))
        },
    }
