"""What the data can say about each modifiable factor, independently of the shipped model.

A what-if ("if your blood pressure were treated...") is only as good as the factor's
estimated effect. This module estimates each effect the epidemiological way, with
statsmodels' logistic regression and Wald 95% intervals, in two adjustments:

- ``age``: stroke on a natural cubic spline of age (patsy ``cr``, 4 df) plus the factor
  alone. Age is the dominant confounder here (former smokers are older than current ones).
- ``all``: the spline of age, sex and every factor together (mutual adjustment).

BMI is per 5 kg/m2 and glucose per 50 mg/dL; smoking categories are against "never
smoked". Rows with a blank BMI are left out of every BMI model and the mutually adjusted
one (a blank BMI goes with a four-fold stroke rate here, a collection artifact). The label
is cross-sectional (a stroke at any time before the record), so a factor that people
change after a stroke, smoking above all, is open to reverse causation: crude rates by
smoking status are reported to show it (7.9% former vs 5.3% current smokers).

Glucose is also estimated *within* each of two ranges (under 140 mg/dL, 140 and above;
:func:`glucose_within_ranges`), among adults: the overall slope turned out to be the gap
between two clusters (a stand-in for diabetes) rather than an effect within either, and
the reply offers a glucose what-if only where the patient's own range shows one. Those
rows travel with the model (core.evidence.ReplyEvidence) so serving can read them without
statsmodels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.stats.proportion import proportion_confint

from stroke_risk.core.evidence import GLUCOSE_RANGE_EDGE
from stroke_risk.core.schema import ADULT_AGE, TARGET

AGE_SPLINE = "cr(age, df=4, constraints='center')"
NEVER = "never smoked"
# factor name -> (formula term, {coefficient name: contrast label}); rows the model needs.
FACTORS: dict[str, tuple[str, dict[str, str]]] = {
    "hypertension": ("hypertension", {"hypertension": "yes vs no"}),
    "heart_disease": ("heart_disease", {"heart_disease": "yes vs no"}),
    "smoking_status": (
        f"C(smoking_status, Treatment('{NEVER}'))",
        {
            f"C(smoking_status, Treatment('{NEVER}'))[T.smokes]": "smokes vs never smoked",
            f"C(smoking_status, Treatment('{NEVER}'))[T.formerly smoked]": (
                "formerly smoked vs never smoked"
            ),
            f"C(smoking_status, Treatment('{NEVER}'))[T.Unknown]": "not recorded vs never smoked",
        },
    ),
    "bmi": ("bmi_per_5", {"bmi_per_5": "per 5 kg/m2"}),
    "avg_glucose_level": ("glucose_per_50", {"glucose_per_50": "per 50 mg/dL"}),
}


def _prepared(data: pd.DataFrame) -> pd.DataFrame:
    frame = data.reset_index(drop=True)
    return frame.assign(
        bmi_per_5=frame["bmi"] / 5.0,
        glucose_per_50=frame["avg_glucose_level"] / 50.0,
        male=(frame["gender"] == "Male").astype(int),
    )


def _odds_ratios(
    frame: pd.DataFrame, formula: str, coefficients: dict[str, str]
) -> list[dict[str, Any]]:
    result = smf.logit(formula, frame).fit(disp=0, maxiter=200)
    intervals = result.conf_int()
    rows = []
    for name, contrast in coefficients.items():
        rows.append(
            {
                "coefficient": name,
                "contrast": contrast,
                "odds_ratio": float(np.exp(result.params[name])),
                "ci": [
                    float(np.exp(intervals.loc[name, 0])),
                    float(np.exp(intervals.loc[name, 1])),
                ],
                "p_value": float(result.pvalues[name]),
                "patients": int(result.nobs),
                "strokes": int(frame.loc[result.model.data.row_labels, TARGET].sum()),
            }
        )
    return rows


def age_adjusted_odds_ratios(data: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Odds ratios (95% CI) of each modifiable or clinical factor, adjusted for age alone
    and for everything; each row says which (``adjusted_for``) and on how many rows."""
    frame = _prepared(data)
    recorded = frame[frame["bmi"].notna()]
    everything = " + ".join(term for term, _ in FACTORS.values())
    all_coefficients = {
        name: label for _, labels in FACTORS.values() for name, label in labels.items()
    }
    mutual = _odds_ratios(
        recorded, f"{TARGET} ~ {AGE_SPLINE} + male + {everything}", all_coefficients
    )
    mutual_by_coefficient = {row["coefficient"]: row for row in mutual}
    result: dict[str, list[dict[str, Any]]] = {}
    for factor, (term, labels) in FACTORS.items():
        rows_for = recorded if factor == "bmi" else frame
        rows = []
        for row in _odds_ratios(rows_for, f"{TARGET} ~ {AGE_SPLINE} + {term}", labels):
            rows.append({**row, "adjusted_for": "age (natural cubic spline, 4 df)"})
            rows.append(
                {
                    **mutual_by_coefficient[row["coefficient"]],
                    "adjusted_for": "age spline, sex and all other factors (BMI recorded)",
                }
            )
        result[factor] = rows
    return result


def crude_rates_by_smoking(data: pd.DataFrame) -> list[dict[str, Any]]:
    """Observed stroke rate (Wilson 95% CI) and mean age for each smoking status.

    The mean age shows the confounding the crude rates carry; the cross-sectional label
    adds reverse causation (people who quit after their stroke count as former smokers).
    """
    rows = []
    for status, group in data.groupby("smoking_status", sort=True):
        strokes, patients = int(group[TARGET].sum()), len(group)
        low, high = proportion_confint(strokes, patients, alpha=0.05, method="wilson")
        rows.append(
            {
                "smoking_status": str(status),
                "patients": patients,
                "strokes": strokes,
                "stroke_rate": strokes / patients,
                "ci": [float(low), float(high)],
                "mean_age": float(group["age"].mean()),
            }
        )
    return rows


def model_odds_ratios_note() -> str:
    """What a reader must keep in mind comparing these with the model's own effects."""
    return (
        "Estimates from a cross-sectional data set: a stroke may precede the recorded "
        "factor (e.g. quitting smoking after a stroke), so these are associations, not "
        "effects of changing the factor. A model what-if is supported only where the "
        "model's odds ratio agrees with the age-adjusted estimate here in direction and "
        "roughly in size."
    )


def _odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    return p / (1 - p)


# factor -> [(contrast label, rows it applies to, how to set the "exposed" and "reference"
# versions of those rows)]; the same contrasts as :data:`FACTORS`.
def _model_contrasts(
    frame: pd.DataFrame,
) -> dict[str, list[tuple[str, pd.DataFrame, pd.DataFrame]]]:
    recorded = frame[frame["bmi"].notna()]
    return {
        "hypertension": [("yes vs no", frame.assign(hypertension=1), frame.assign(hypertension=0))],
        "heart_disease": [
            ("yes vs no", frame.assign(heart_disease=1), frame.assign(heart_disease=0))
        ],
        "smoking_status": [
            (
                f"{status} vs never smoked",
                frame.assign(smoking_status=status),
                frame.assign(smoking_status=NEVER),
            )
            for status in ("smokes", "formerly smoked")
        ],
        "bmi": [("per 5 kg/m2", recorded.assign(bmi=recorded["bmi"] + 5), recorded)],
        "avg_glucose_level": [
            (
                "per 50 mg/dL",
                frame.assign(avg_glucose_level=frame["avg_glucose_level"] + 50),
                frame,
            )
        ],
    }


def model_odds_ratios(predict: Any, data: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The model's own odds ratio for each contrast of :func:`age_adjusted_odds_ratios`:
    for every patient, the odds of the predicted risk with the factor set to the exposed
    level over the odds with it at the reference (everything else as recorded); the
    median and the 10th-90th percentiles over patients. For a logistic model these are
    one number (after Platt scaling, its odds ratio to the power of the Platt slope); a
    non-additive model gives a spread. BMI is shifted only where it was recorded.
    """
    frame = data.reset_index(drop=True)
    result: dict[str, list[dict[str, Any]]] = {}
    for factor, contrasts in _model_contrasts(frame).items():
        rows = []
        for label, exposed, reference in contrasts:
            ratios = _odds(predict(exposed)) / _odds(predict(reference))
            low, median, high = np.percentile(ratios, [10, 50, 90])
            rows.append(
                {
                    "contrast": label,
                    "odds_ratio_median": float(median),
                    "odds_ratio_p10_p90": [float(low), float(high)],
                    "patients": len(exposed),
                }
            )
        result[factor] = rows
    return result


GLUCOSE_WITHIN_RANGE_METHOD = (
    "adults; logistic regression of stroke on a natural cubic spline of age (4 df) and "
    "glucose per 50 mg/dL, fitted within each glucose range; Wald 95% CI"
)


def glucose_within_ranges(data: pd.DataFrame, edge: float = GLUCOSE_RANGE_EDGE) -> dict[str, Any]:
    """The age-adjusted odds ratio of stroke per 50 mg/dL of glucose within each range
    (under ``edge``, ``edge`` and above), and of the upper range against the lower, among
    adults (the population scored).

    ``ranges`` rows carry ``low`` (inclusive) and ``high`` (exclusive, None: open) in
    mg/dL, ``odds_ratio``, ``ci``, ``patients``, ``strokes`` and ``excludes_no_effect``:
    the reply's glucose what-if is shown only to patients of a range where that is true.
    """
    frame = _prepared(data[data["age"] >= ADULT_AGE])
    upper = frame["avg_glucose_level"] >= edge
    formula = f"{TARGET} ~ {AGE_SPLINE} + glucose_per_50"
    ranges = []
    for label, low, high, rows in (
        (f"under {edge:g} mg/dL", 0.0, edge, frame[~upper]),
        (f"{edge:g} mg/dL and above", edge, None, frame[upper]),
    ):
        (row,) = _odds_ratios(rows, formula, {"glucose_per_50": "per 50 mg/dL"})
        ranges.append(
            {
                "label": label,
                "low": low,
                "high": high,
                "odds_ratio": row["odds_ratio"],
                "ci": row["ci"],
                "patients": row["patients"],
                "strokes": row["strokes"],
                "excludes_no_effect": row["ci"][0] > 1.0 or row["ci"][1] < 1.0,
            }
        )
    between = frame.assign(upper_range=upper.astype(int))
    (gap,) = _odds_ratios(
        between,
        f"{TARGET} ~ {AGE_SPLINE} + upper_range",
        {"upper_range": f"{edge:g} mg/dL and above vs under {edge:g}"},
    )
    return {
        "edge": edge,
        "method": GLUCOSE_WITHIN_RANGE_METHOD,
        "ranges": ranges,
        "between_ranges": gap,
    }
