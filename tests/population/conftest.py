"""Population-scoring fixtures: one local SparkSession per test session, a patient table
with practices and bad rows, and the in-process assessor the job must agree with.

Spark's Python workers are separate processes: they get this interpreter
(``PYSPARK_PYTHON``) and this checkout on ``PYTHONPATH``, so they import the same
``stroke_risk`` as the tests.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.core.config import REPO_ROOT, get_settings
from stroke_risk.core.patient_tables import read_table
from stroke_risk.population.model_source import build_assessor, load_stored_lean

os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)

MODEL_TAG = "stroke_risk_model:latest"
PRACTICES = ("P01", "P02", "P03")
SAMPLE_ROWS = 300

# Rows the service refuses, each with the words its message must contain.
BAD_ROWS: dict[str, tuple[dict[str, str], str]] = {
    "bad-age": ({"age": "forty"}, "age: 'forty' is not a number"),
    "bad-gender": ({"gender": "Martian"}, "gender"),
    "child": ({"age": "12"}, "under 18"),
    "bad-flag": ({"hypertension": "2"}, "hypertension"),
}


@pytest.fixture(scope="session")
def spark() -> Iterator:
    """A small local Spark: one core, two shuffle partitions, no UI; stopped at the end."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("stroke-risk population tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def assessor(stored_model) -> RiskAssessor:
    """The service's assessor, built in-process from the session's quick model."""
    return build_assessor(load_stored_lean(MODEL_TAG), get_settings())


def population_table(source: pd.DataFrame, rows: int | None = None) -> pd.DataFrame:
    """Data-set rows (as text) with a practice each, plus the :data:`BAD_ROWS`."""
    table = source.head(rows).copy() if rows else source.copy()
    table["id"] = table["id"].astype(str)
    table["practice_id"] = [PRACTICES[i % len(PRACTICES)] for i in range(len(table))]
    adult = table[pd.to_numeric(table["age"]) >= 40].iloc[0]
    bad = []
    for position, (reference, (changes, _)) in enumerate(BAD_ROWS.items()):
        row = adult.copy()
        row["id"] = reference
        row["practice_id"] = PRACTICES[position % len(PRACTICES)]
        for column, value in changes.items():
            row[column] = value
        bad.append(row)
    return pd.concat([table, pd.DataFrame(bad)], ignore_index=True)


@pytest.fixture(scope="session")
def population_csv(data_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few hundred patients of the data set in three practices, with four bad rows."""
    path = tmp_path_factory.mktemp("population") / "patients.csv"
    population_table(read_table(data_path), SAMPLE_ROWS).to_csv(path, index=False)
    return path
