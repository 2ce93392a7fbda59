"""Simulated cohorts whose true risks are known: for tests, and to try every command first.

A provider's data team can run the whole cohort path (train, validate, validate on another
site, update, serve) on a file from here before their own records arrive, and the tests
can check the pipeline against the truth, which real data never tell.

The truth is a pair of proportional Weibull hazards with a common shape ``k``:
stroke ``h_s(t | x) = k t^(k-1) exp(eta_s(x))`` and death before a stroke
``h_d(t | x) = k t^(k-1) exp(eta_d(x))``. With a common shape the risk of a first stroke
within ``H`` years, deaths competing (the cumulative incidence), has a closed form::

    F_s(H | x) = exp(eta_s) / (exp(eta_s) + exp(eta_d)) * (1 - exp(-(exp(eta_s) + exp(eta_d)) H^k))

Censoring is independent of the patient: each patient's follow-up ends at a uniformly
drawn administrative end (``max_followup_years`` at most) or earlier at a random loss to
follow-up. A second "site" differs in known ways: ``incidence_ratio`` multiplies the
stroke hazard (1.5: a population with more strokes, same effects), ``effect_ratio``
scales every effect on the log-hazard towards the typical patient (0.7: weaker effects).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SHAPE = 1.1  # Weibull shape of both hazards: risks grow slightly faster than time

# Log-hazard ratios of the true stroke model, per unit of each (raw) value.
STROKE_EFFECTS: dict[str, float] = {
    "age": 0.065,  # per year: about 1.9 times per decade
    "hypertension": 0.55,
    "heart_disease": 0.45,
    "avg_glucose_level": 0.004,  # per mg/dL: 1.22 times per 50 mg/dL
    "bmi": 0.02,  # per kg/m2
    "male": 0.15,
    "formerly smoked": 0.15,
    "smokes": 0.50,
}
STROKE_BASELINE = -5.5  # log-hazard of the typical patient (centred values below)
DEATH_BASELINE = -4.6
DEATH_EFFECTS: dict[str, float] = {"age": 0.09, "heart_disease": 0.4, "smokes": 0.4}
CENTRE = {"age": 60.0, "avg_glucose_level": 100.0, "bmi": 28.0}


@dataclass(frozen=True)
class Site:
    """How one simulated site's stroke hazard differs from the development site's."""

    incidence_ratio: float = 1.0
    effect_ratio: float = 1.0
    name: str = "development"


DEVELOPMENT = Site()
HIGHER_INCIDENCE = Site(incidence_ratio=1.5, name="higher incidence (1.5x hazard)")
WEAKER_EFFECTS = Site(effect_ratio=0.6, name="weaker effects (0.6x log-hazard ratios)")


def draw_patients(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n`` adults with the ten patient fields, their values related as in life (older
    people have more hypertension, heart disease and higher glucose); 3% blank BMI."""
    age = np.round(rng.uniform(25, 90, n), 0)
    older = (age - 25) / 65
    hypertension = (rng.random(n) < 0.05 + 0.35 * older).astype(int)
    heart_disease = (rng.random(n) < 0.01 + 0.15 * older**2).astype(int)
    glucose = np.clip(np.exp(rng.normal(np.log(92) + 0.25 * older, 0.28, n)), 55, 400)
    bmi = np.clip(rng.normal(27 + 2 * older, 5.5, n), 15, 60)
    bmi = np.where(rng.random(n) < 0.03, np.nan, np.round(bmi, 1))
    return pd.DataFrame(
        {
            "gender": rng.choice(["Female", "Male"], n, p=[0.55, 0.45]),
            "age": age,
            "hypertension": hypertension,
            "heart_disease": heart_disease,
            "ever_married": np.where(rng.random(n) < 0.45 + 0.45 * older, "Yes", "No"),
            "work_type": rng.choice(
                ["Private", "Self-employed", "Govt_job", "Never_worked"],
                n,
                p=[0.6, 0.2, 0.17, 0.03],
            ),
            "residence_type": rng.choice(["Urban", "Rural"], n),
            "avg_glucose_level": np.round(glucose, 2),
            "bmi": bmi,
            "smoking_status": rng.choice(
                ["never smoked", "formerly smoked", "smokes", "Unknown"],
                n,
                p=[0.45, 0.2, 0.17, 0.18],
            ),
        }
    )


def _true_bmi(frame: pd.DataFrame) -> np.ndarray:
    # A blank BMI was not measured; the person has one. The truth uses the centre then.
    return frame["bmi"].fillna(CENTRE["bmi"]).to_numpy(dtype=float)


def stroke_log_hazard(frame: pd.DataFrame, site: Site = DEVELOPMENT) -> np.ndarray:
    """``eta_s``: the true log-hazard of a first stroke for each patient at ``site``."""
    e = STROKE_EFFECTS
    smoking = frame["smoking_status"].to_numpy()
    effects = (
        e["age"] * (frame["age"].to_numpy(dtype=float) - CENTRE["age"])
        + e["hypertension"] * frame["hypertension"].to_numpy(dtype=float)
        + e["heart_disease"] * frame["heart_disease"].to_numpy(dtype=float)
        + e["avg_glucose_level"]
        * (frame["avg_glucose_level"].to_numpy(dtype=float) - CENTRE["avg_glucose_level"])
        + e["bmi"] * (_true_bmi(frame) - CENTRE["bmi"])
        + e["male"] * (frame["gender"].to_numpy() == "Male")
        + e["formerly smoked"] * (smoking == "formerly smoked")
        + e["smokes"] * (smoking == "smokes")
    )
    return STROKE_BASELINE + np.log(site.incidence_ratio) + site.effect_ratio * effects


def death_log_hazard(frame: pd.DataFrame) -> np.ndarray:
    """``eta_d``: the true log-hazard of death before a stroke (the same at every site)."""
    e = DEATH_EFFECTS
    return (
        DEATH_BASELINE
        + e["age"] * (frame["age"].to_numpy(dtype=float) - CENTRE["age"])
        + e["heart_disease"] * frame["heart_disease"].to_numpy(dtype=float)
        + e["smokes"] * (frame["smoking_status"].to_numpy() == "smokes")
    )


def true_risk(frame: pd.DataFrame, horizon_years: float, site: Site = DEVELOPMENT) -> np.ndarray:
    """Each patient's true chance of a first stroke within ``horizon_years``, deaths
    competing (the cumulative incidence; see the module's formula)."""
    stroke = np.exp(stroke_log_hazard(frame, site))
    death = np.exp(death_log_hazard(frame))
    total = stroke + death
    return stroke / total * (1 - np.exp(-total * horizon_years**SHAPE))


def simulate_cohort(
    n: int,
    seed: int = 0,
    site: Site = DEVELOPMENT,
    max_followup_years: float = 12.0,
    loss_rate_per_year: float = 0.02,
    practices: int = 40,
) -> pd.DataFrame:
    """A cohort in the project's cohort format (see ``stroke_risk.training.cohort``): one
    row per patient at an index date, ``followup_years`` to the first stroke, death or end
    of follow-up, ``stroke`` and ``death`` flags, ``index_date`` and ``practice_id``."""
    rng = np.random.default_rng(seed)
    patients = draw_patients(n, rng)

    def weibull_times(log_hazard: np.ndarray) -> np.ndarray:
        # Cumulative hazard exp(eta) t^k equals a unit exponential at the event time.
        return (rng.exponential(1.0, n) / np.exp(log_hazard)) ** (1 / SHAPE)

    stroke_time = weibull_times(stroke_log_hazard(patients, site))
    death_time = weibull_times(death_log_hazard(patients))
    end = np.minimum(
        rng.uniform(1.0, max_followup_years, n), rng.exponential(1 / loss_rate_per_year, n)
    )
    followup = np.minimum.reduce([stroke_time, death_time, end])
    stroke = (stroke_time <= np.minimum(death_time, end)).astype(int)
    death = ((death_time < stroke_time) & (death_time <= end)).astype(int)
    start = np.datetime64("2014-01-01")
    index_date = start + rng.integers(0, 4 * 365, n).astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "id": [f"P{i:07d}" for i in range(1, n + 1)],
            **{name: patients[name] for name in patients.columns},
            "followup_years": np.round(np.maximum(followup, 1 / 365.25), 4),
            "stroke": stroke,
            "death": death,
            "index_date": pd.to_datetime(index_date).strftime("%Y-%m-%d"),
            "practice_id": [f"practice-{k:02d}" for k in rng.integers(1, practices + 1, n)],
        }
    )


SITES = {
    "development": DEVELOPMENT,
    "higher-incidence": HIGHER_INCIDENCE,
    "weaker-effects": WEAKER_EFFECTS,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m stroke_risk.training.simulation`` (``make simulate-cohort``)."""
    import argparse

    from stroke_risk.training.cohort import write_cohort

    parser = argparse.ArgumentParser(description="Write a simulated cohort (CSV or Parquet).")
    parser.add_argument("--output", type=Path, default=Path("data/simulated-cohort.csv"))
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--site", choices=sorted(SITES), default="development")
    args = parser.parse_args(argv)
    frame = simulate_cohort(args.patients, seed=args.seed, site=SITES[args.site])
    path = write_cohort(frame, args.output)
    print(  # noqa: T201 - the command's answer
        f"{path}: {len(frame):,} patients, {int(frame['stroke'].sum()):,} strokes, "
        f"{int(frame['death'].sum()):,} deaths, site {SITES[args.site].name}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
