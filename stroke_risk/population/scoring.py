"""One batch of patients scored with the service's own assessor, bad rows set aside.

Spark hands the job Arrow batches; this module turns one batch (as a pandas frame) into
one output row per input row: the scores for a valid patient, or the validation message
for a row the service would refuse. Validation is :func:`stroke_risk.core.patient_tables
.parse_patients` (the CSV reader the app uses, with the API's wording) and scoring is
:meth:`RiskAssessor.assess` (what ``/predict_batch`` runs), so every number is the
service's by construction. Nothing here imports Spark: it is tested on plain frames.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from stroke_risk.core.patient_tables import ID_COLUMN, parse_patients
from stroke_risk.core.schema import FEATURES, Patient
from stroke_risk.serving.assessor import RiskAssessor
from stroke_risk.serving.results import AssessmentResult

TOP_DRIVERS = 3

# The scored columns, in output order, with their Arrow/Spark types; every one is null on
# a rejected row, and ``rejection`` is null on a scored one.
SCORE_COLUMNS: dict[str, str] = {
    "probability": "double",
    "probability_low": "double",  # the 95% probability_interval's ends
    "probability_high": "double",
    "percent": "double",
    "risk_band": "string",
    "peer_group": "string",
    "relative_risk": "double",
    **{
        name: kind
        for k in range(1, TOP_DRIVERS + 1)
        for name, kind in ((f"driver_{k}", "string"), (f"driver_{k}_odds_ratio", "double"))
    },
    "what_if_change": "string",  # the biggest what-if: the change that lowers risk most
    "what_if_probability": "double",
    "what_if_reduction": "double",
    "rejection": "string",
}


def _as_text(series: pd.Series) -> list[str]:
    """A column as the text a CSV would hold, so typed Parquet and CSV are read alike.

    Floats are written with ``repr`` (which round-trips exactly), integral ones without a
    ".0" so that a 0/1 flag stored as a float still reads as 0 or 1; missing is blank.
    """
    text = []
    for value in series.tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            text.append("")
        elif isinstance(value, bool):
            text.append(str(int(value)))
        elif isinstance(value, float):
            text.append(str(int(value)) if value.is_integer() else repr(value))
        else:
            text.append(str(value))
    return text


def _score_row(result: AssessmentResult) -> dict[str, Any]:
    """The worklist's columns from one of the service's results."""
    interval = result.probability_interval or (None, None)
    row: dict[str, Any] = {
        "probability": result.probability,
        "probability_low": interval[0],
        "probability_high": interval[1],
        "percent": result.percent,
        "risk_band": result.risk_band,
        "peer_group": result.comparison["group"],
        "relative_risk": result.comparison["relative_risk"],
        "rejection": None,
    }
    for k in range(TOP_DRIVERS):
        factor = result.contributing_factors[k] if k < len(result.contributing_factors) else None
        row[f"driver_{k + 1}"] = factor.factor if factor else None
        row[f"driver_{k + 1}_odds_ratio"] = factor.odds_ratio if factor else None
    best = max(result.what_if, key=lambda w: w.absolute_reduction, default=None)
    row["what_if_change"] = best.change if best else None
    row["what_if_probability"] = best.probability if best else None
    row["what_if_reduction"] = best.absolute_reduction if best else None
    return row


def score_batch(
    frame: pd.DataFrame, assessor: RiskAssessor, keep: list[str] | None = None
) -> pd.DataFrame:
    """One output row per input row, in order: ``id``, the ``keep`` columns as given, then
    :data:`SCORE_COLUMNS`.

    ``frame`` holds the data set's columns (lower case) and ``id``; a row that fails the
    patient schema (a patient under 18 included) gets its problems in ``rejection``, in the
    words the API and the app use, e.g. "age: must be 18 or over ...".
    """
    keep = keep or []
    columns = {name: _as_text(frame[name]) for name in (ID_COLUMN, *FEATURES)}
    # Plain Python strings (object dtype): pandas' Arrow-backed strings are slow to iterate.
    text = pd.DataFrame(columns, dtype=object)
    parsed = parse_patients(text)
    problems: dict[int, list[str]] = {}
    for error in parsed.errors:
        problems.setdefault(error.line - 2, []).append(f"{error.column}: {error.message}")
    # parse_patients skips blank rows silently (blank lines in a CSV); here they are rows.
    for position, values in enumerate(zip(*columns.values(), strict=True)):
        if not any(value.strip() for value in values):
            problems[position] = ["the row is blank"]
    valid_positions = [p for p in range(len(text)) if p not in problems]
    # Already validated: constructing skips a second validation. A blank BMI is NaN in the
    # frame and None in a Patient.
    patients = []
    for record in parsed.valid[list(FEATURES)].to_dict(orient="records"):
        if record["bmi"] != record["bmi"]:
            record["bmi"] = None
        patients.append(Patient.model_construct(**record))
    results = assessor.assess(patients)
    rows: list[dict[str, Any]] = [{}] * len(text)
    for position, result in zip(valid_positions, results, strict=True):
        rows[position] = _score_row(result)
    empty = dict.fromkeys(SCORE_COLUMNS)
    for position, messages in problems.items():
        rows[position] = {**empty, "rejection": "; ".join(messages)}
    out = pd.DataFrame.from_records(rows, columns=list(SCORE_COLUMNS))
    out.insert(0, ID_COLUMN, text[ID_COLUMN].to_numpy())
    for position, name in enumerate(keep, start=1):
        out.insert(position, name, frame[name].to_numpy())
    return out
