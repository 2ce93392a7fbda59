"""Synthetic patients for benchmarks, drawn from a trained model's training profile.

    python bench/synthetic_patients.py --rows 1000000 --output /tmp/patients.parquet

NOT real data, and not realistic enough for anything but load: each field is drawn
independently. Sex and age band follow the profile's peer-group counts (age uniform within
the band, adults only), the other categories its category counts; glucose and BMI are
log-normal around the profile's medians, clipped to its ranges; hypertension and heart
disease use the data set's prevalence among adults (the profile does not store flags).
Every id starts with "SYN-" and the Parquet file's metadata says ``synthetic: true``.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stroke_risk.core.age_bands import AGE_BANDS
from stroke_risk.core.schema import ADULT_AGE
from stroke_risk.scoring.profile import TrainingProfile
from stroke_risk.scoring.store import get_model, load_lean

logger = logging.getLogger("bench")

# Among the data set's adults (4,254 rows): 11.7% hypertension, 6.5% heart disease.
FLAG_PREVALENCE = {"hypertension": 0.117, "heart_disease": 0.065}
SPREAD = {"avg_glucose_level": 0.38, "bmi": 0.22}  # sd of log values among adults
MISSING_BMI = 0.04  # the data set lacks a BMI for about 4% of rows
PATIENTS_PER_PRACTICE = 2_000


def synthetic_patients(profile: TrainingProfile, rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` synthetic adults with ``id``, ``practice_id`` and the data set's columns."""
    rng = np.random.default_rng(seed)
    adult_bands = {label: (low, high) for low, high, label in AGE_BANDS if high > ADULT_AGE}
    groups = [
        (key.split("|")[0], key.split("|")[1], group.patients)
        for key, group in profile.peers.items()
        if not key.startswith("all|") and key.split("|")[1] in adult_bands
    ]
    weights = np.array([n for _, _, n in groups], dtype=float)
    chosen = rng.choice(len(groups), size=rows, p=weights / weights.sum())
    sexes = np.array([sex for sex, _, _ in groups], dtype=object)[chosen]
    low = np.array([max(adult_bands[b][0], ADULT_AGE) for _, b, _ in groups])[chosen]
    top = profile.ranges["age"][1]
    high = np.array([min(adult_bands[b][1], top) for _, b, _ in groups])[chosen]
    frame = pd.DataFrame(
        {
            "id": [f"SYN-{i:09d}" for i in range(rows)],
            "practice_id": [f"SYN-P{i // PATIENTS_PER_PRACTICE:05d}" for i in range(rows)],
            "gender": sexes,
            "age": np.round(rng.uniform(low, high), 0),
        }
    )
    for name, counts in profile.category_counts.items():
        if name == "gender":
            continue
        values = list(counts)
        p = np.array([counts[v] for v in values], dtype=float)
        frame[name] = np.array(values, dtype=object)[rng.choice(len(values), rows, p=p / p.sum())]
    for name, prevalence in FLAG_PREVALENCE.items():
        frame[name] = (rng.random(rows) < prevalence).astype(np.int64)
    for name, sigma in SPREAD.items():
        lowest, highest = profile.ranges[name]
        median = float(profile.reference[name])
        drawn = np.exp(rng.normal(np.log(median), sigma, rows))
        frame[name] = np.round(np.clip(drawn, lowest, highest), 2)
    frame.loc[rng.random(rows) < MISSING_BMI, "bmi"] = np.nan
    return frame


def write_parquet(frame: pd.DataFrame, path: str) -> None:
    """Parquet whose metadata marks it as synthetic."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), b"synthetic": b"true"}
    pq.write_table(table.replace_schema_metadata(metadata), path, row_group_size=100_000)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--output", required=True)
    parser.add_argument("--model", default="stroke_risk_model:latest")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    profile = load_lean(get_model(args.model)).profile
    write_parquet(synthetic_patients(profile, args.rows, args.seed), args.output)
    logger.info("%d synthetic patients written to %s", args.rows, args.output)


if __name__ == "__main__":
    main()
