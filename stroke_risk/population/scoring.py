"""One batch of patients scored with the service's own assessor, bad rows set aside.

Spark hands the job Arrow batches; this module turns one batch into one output row per
input row: the scores for a valid patient, or the validation message for a row the
service would refuse. Validation is the patient schema's: clean rows are accepted in bulk
(:mod:`stroke_risk.population.bulk_validation`, which accepts only what the reference
would), every other row goes through :func:`stroke_risk.core.patient_tables
.parse_patients` (the CSV reader the app uses, with the API's wording). Scoring is
:meth:`RiskAssessor.assess` (what ``/predict_batch`` runs), so every number is the
service's by construction. Nothing here imports Spark: it is tested on plain batches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from stroke_risk.assessment.assessor import RiskAssessor
from stroke_risk.assessment.results import AssessmentResult
from stroke_risk.core.canonical_patients import trusted_patient
from stroke_risk.core.patient_tables import ID_COLUMN, parse_patients
from stroke_risk.core.schema import FEATURES
from stroke_risk.population.bulk_validation import check_batch, reference_text

TOP_DRIVERS = 3

# The scored columns, in output order, with their Arrow/Spark types; every one is null on
# a rejected row, and ``rejection`` is null on a scored one.
SCORE_COLUMNS: dict[str, str] = {
    "probability": "double",
    "probability_low": "double",  # the 95% probability_interval's ends
    "probability_high": "double",
    "percent": "double",
    "risk_band": "string",
    # The band's and the number's standing, as every channel shows them (core.reply_flags).
    "interval_crosses_band_edge": "boolean",
    "beyond_data": "boolean",
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
_ARROW_TYPES = {"double": pa.float64(), "string": pa.string(), "boolean": pa.bool_()}


def worklist_columns(results: list[AssessmentResult]) -> dict[str, list[Any]]:
    """The worklist's columns (all of :data:`SCORE_COLUMNS` but ``rejection``) from the
    service's results, in order: the numbers and words are the results' own."""
    columns: dict[str, list[Any]] = {name: [] for name in SCORE_COLUMNS if name != "rejection"}
    add = {name: values.append for name, values in columns.items()}
    drivers = [
        (add[f"driver_{k + 1}"], add[f"driver_{k + 1}_odds_ratio"]) for k in range(TOP_DRIVERS)
    ]
    for result in results:
        interval = result.probability_interval or (None, None)
        comparison = result.comparison
        add["probability"](result.probability)
        add["probability_low"](interval[0])
        add["probability_high"](interval[1])
        add["percent"](result.percent)
        add["risk_band"](result.risk_band)
        add["interval_crosses_band_edge"](result.interval_crosses_band_edge)
        add["beyond_data"](result.beyond_data)
        add["peer_group"](comparison["group"])
        add["relative_risk"](comparison["relative_risk"])
        factors = result.contributing_factors
        for k, (add_factor, add_odds) in enumerate(drivers):
            factor = factors[k] if k < len(factors) else None
            add_factor(factor.factor if factor else None)
            add_odds(factor.odds_ratio if factor else None)
        best = None
        for what_if in result.what_if:  # the first of the largest reductions, as max() picks
            if best is None or what_if.absolute_reduction > best.absolute_reduction:
                best = what_if
        add["what_if_change"](best.change if best else None)
        add["what_if_probability"](best.probability if best else None)
        add["what_if_reduction"](best.absolute_reduction if best else None)
    return columns


def _reference_validation(
    batch: pa.RecordBatch, positions: np.ndarray, ids: list[str]
) -> tuple[list[int], list[dict[str, Any]], dict[int, str]]:
    """The rows at ``positions`` validated one by one as their CSV text (the reference):
    the valid ones' positions and values, and each invalid row's message."""
    if len(positions) == 0:
        return [], [], {}
    rows = batch.select(list(FEATURES)).take(pa.array(positions))
    text = {name: reference_text(rows.column(name).to_pylist()) for name in FEATURES}
    text = {ID_COLUMN: [ids[p] for p in positions], **text}
    parsed = parse_patients(pd.DataFrame(text, dtype=object))
    problems: dict[int, list[str]] = {}
    for error in parsed.errors:
        problems.setdefault(int(positions[error.line - 2]), []).append(
            f"{error.column}: {error.message}"
        )
    # parse_patients skips blank rows silently (blank lines in a CSV); here they are rows.
    for local, values in enumerate(zip(*text.values(), strict=True)):
        if not any(value.strip() for value in values):
            problems[int(positions[local])] = ["the row is blank"]
    valid_positions = [int(p) for p in positions if int(p) not in problems]
    records = parsed.valid[list(FEATURES)].to_dict(orient="records")
    for record in records:  # a blank BMI is NaN in the frame and None in a Patient
        if record["bmi"] != record["bmi"]:
            record["bmi"] = None
    return valid_positions, records, {p: "; ".join(m) for p, m in problems.items()}


def _bulk_records(columns: dict[str, np.ndarray], positions: np.ndarray) -> list[dict[str, Any]]:
    """The accepted rows' values as plain Python (what ``Patient`` validation returns)."""
    lists = {name: columns[name][positions].tolist() for name in FEATURES}
    lists["bmi"] = [None if value != value else value for value in lists["bmi"]]
    rows = zip(*lists.values(), strict=True)
    return [dict(zip(FEATURES, values, strict=True)) for values in rows]


def _ids(batch: pa.RecordBatch) -> list[str]:
    return reference_text(batch.column(ID_COLUMN).to_pylist())


def validate(batch: pa.RecordBatch) -> tuple[list[int], list[dict[str, Any]], dict[int, str]]:
    """Every row of ``batch`` either valid (position and canonical values, in row order)
    or rejected (position -> the API's message); exactly what the reference would say."""
    ids = _ids(batch)
    checked = check_batch(batch)
    accepted = np.flatnonzero(checked.accepted)
    bulk = dict(zip(accepted.tolist(), _bulk_records(checked.columns, accepted), strict=True))
    others = np.flatnonzero(~checked.accepted)
    positions, records, problems = _reference_validation(batch, others, ids)
    bulk.update(zip(positions, records, strict=True))
    order = sorted(bulk)
    return order, [bulk[p] for p in order], problems


def score_arrow(
    batch: pa.RecordBatch,
    assessor: RiskAssessor,
    keep: list[str] | None = None,
    schema: pa.Schema | None = None,
) -> pa.RecordBatch:
    """One output row per input row, in order: ``id``, the ``keep`` columns as given, then
    :data:`SCORE_COLUMNS`.

    ``batch`` holds the data set's columns (lower case) and ``id``; a row that fails the
    patient schema (a patient under 18 included) gets its problems in ``rejection``, in the
    words the API and the app use, e.g. "age: must be 18 or over ...". ``schema``, when
    given, is the output's (Spark's declared types for the ``keep`` columns)."""
    keep = keep or []
    positions, records, problems = validate(batch)
    results = assessor.assess([trusted_patient(record) for record in records])
    scored = worklist_columns(results)
    # Row i of the output takes scored row where[i], or nulls where the row was rejected.
    where = np.full(batch.num_rows, -1)
    where[positions] = np.arange(len(positions))
    take = None if len(positions) == batch.num_rows else pa.array(where, mask=where < 0)
    arrays = [pa.array(_ids(batch), type=pa.string())]
    names = [ID_COLUMN]
    for name in keep:
        arrays.append(batch.column(name))
        names.append(name)
    for name, values in scored.items():
        column = pa.array(values, type=_ARROW_TYPES[SCORE_COLUMNS[name]])
        arrays.append(column if take is None else column.take(take))
        names.append(name)
    rejection = [None] * batch.num_rows
    for position, message in problems.items():
        rejection[position] = message
    arrays.append(pa.array(rejection, type=pa.string()))
    names.append("rejection")
    if schema is not None:  # Spark's declared types (e.g. large strings) where they differ
        arrays = [
            a.cast(f.type) if a.type != f.type else a for a, f in zip(arrays, schema, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def as_arrow(frame: pd.DataFrame) -> pa.RecordBatch:
    """A pandas frame as Arrow; a column Arrow cannot type (mixed objects) as its CSV text."""
    arrays, names = [], []
    for name in frame.columns:
        try:
            array = pa.array(frame[name], from_pandas=True)
            arrays.append(array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array(reference_text(frame[name].tolist()), type=pa.string()))
        names.append(str(name))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def score_batch(
    frame: pd.DataFrame, assessor: RiskAssessor, keep: list[str] | None = None
) -> pd.DataFrame:
    """:func:`score_arrow` for a pandas frame (tests, the one-process benchmark)."""
    return score_arrow(as_arrow(frame), assessor, keep).to_pandas()
