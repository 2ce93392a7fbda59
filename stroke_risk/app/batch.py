"""Scoring an uploaded CSV of patients: the good rows are scored and ranked, the bad named.

The file is read with :func:`stroke_risk.core.patient_tables.parse_patients`, the same
reader training uses, so the upload accepts exactly what the schema accepts. Glucose is in
the clinic's unit: the unit chosen in the app, or the file's own ``glucose_unit`` column;
a reading that fits the other unit better is refused naming both, never converted by
guess. A bad row never costs the good ones: they are scored and the bad rows come back as
line-numbered problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd

from stroke_risk.app.client import ServiceError, ServiceRejectedData, StrokeRiskClient
from stroke_risk.app.views import GLUCOSE, format_value, percent_text
from stroke_risk.core.outcome import KAGGLE_HISTORY, OutcomeSummary
from stroke_risk.core.patient_tables import (
    ID_COLUMN,
    MISSING_MARKERS,
    DataError,
    RowError,
    parse_patients,
    read_table,
)
from stroke_risk.core.responses import Assessment
from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES, Patient
from stroke_risk.core.spreadsheet_cells import neutralised
from stroke_risk.core.units import (
    GLUCOSE_UNITS,
    GlucoseUnit,
    glucose_from_mg_dl,
    glucose_to_mg_dl,
    glucose_unit_problem,
)

FIRST_DATA_LINE = 2  # line 1 is the header, as in RowError.line
UNIT_COLUMN = "glucose_unit"  # optional: the file says each row's glucose unit itself
_EXAMPLE: dict[str, Any] = Patient.model_config["json_schema_extra"]["example"]  # type: ignore[index]
# The sample files' patients: the schema's example, an older smoker and one without a BMI.
SAMPLE_PATIENTS: tuple[dict[str, Any], ...] = (
    _EXAMPLE,
    {
        **_EXAMPLE,
        "gender": "Male",
        "age": 71.0,
        "hypertension": 1,
        "avg_glucose_level": 205.4,
        "smoking_status": "smokes",
    },
    {**_EXAMPLE, "age": 55.0, "avg_glucose_level": 88.3, "bmi": None},
)


@dataclass(frozen=True)
class ScoredUpload:
    """The scored patients, highest risk first, and the rows that could not be scored."""

    results: pd.DataFrame
    errors: list[RowError]
    rows_read: int
    thresholds: tuple[float, float] | None = None  # the service's risk bands, once scored
    glucose_unit: GlucoseUnit = "mg/dL"  # the unit the app applied to rows without their own
    # The full replies by file line, for the printable summaries (kept in memory only).
    assessments: dict[int, Assessment] = field(default_factory=dict)

    @property
    def outcome(self) -> OutcomeSummary:
        """What the ranked number is, as the replies name it (the shipped history model's
        when nothing was scored)."""
        return next(iter(self.assessments.values())).outcome if self.assessments else KAGGLE_HISTORY

    @property
    def skipped_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})

    @property
    def rows_scored(self) -> int:
        return len(self.results)


def _row_is_blank(row: dict[str, str]) -> bool:
    return all(str(value).strip() == "" for value in row.values())


def glucose_in_mg_dl(
    frame: pd.DataFrame, glucose_unit: GlucoseUnit
) -> tuple[pd.DataFrame, list[RowError]]:
    """The raw table with glucose restated in mg/dL (the schema's unit) and the rows whose
    glucose does not fit their unit; those rows are blanked, so the schema's reader skips
    them as it skips blank lines and keeps every other row's line number.

    Each row's unit is the file's ``glucose_unit`` column when it has one, else the unit
    chosen in the app.
    """
    frame = frame.copy()
    errors: list[RowError] = []
    has_unit_column = UNIT_COLUMN in frame.columns
    if GLUCOSE not in frame.columns:
        return frame, errors  # the schema's reader names the missing column
    for position, row in enumerate(frame.to_dict(orient="records")):
        if _row_is_blank(row):
            continue
        line = position + FIRST_DATA_LINE
        reference = str(row[ID_COLUMN]) if ID_COLUMN in row else None
        row_unit: str = glucose_unit
        if has_unit_column and str(row[UNIT_COLUMN]).strip():
            row_unit = str(row[UNIT_COLUMN]).strip()
            by_spelling = {unit.lower(): unit for unit in GLUCOSE_UNITS}
            if row_unit.lower() not in by_spelling:
                allowed = " or ".join(GLUCOSE_UNITS)
                message = f"'{row_unit}' is not a glucose unit: give {allowed}"
                errors.append(RowError(line, UNIT_COLUMN, message, reference))
                frame.iloc[position] = ""
                continue
            row_unit = by_spelling[row_unit.lower()]
        text = str(row[GLUCOSE]).strip()
        try:
            value = float(text)
        except ValueError:
            continue  # empty or not a number: the schema's reader says so
        if text in MISSING_MARKERS or value != value:  # 'NaN' parses as a float
            continue
        if problem := glucose_unit_problem(value, row_unit):  # type: ignore[arg-type]
            errors.append(RowError(line, GLUCOSE, problem, reference))
            frame.iloc[position] = ""
            continue
        mg_dl = glucose_to_mg_dl(value, row_unit)  # type: ignore[arg-type]
        frame.iloc[position, frame.columns.get_loc(GLUCOSE)] = f"{round(mg_dl, 2):g}"
    return frame, errors


def sample_csv(glucose_unit: GlucoseUnit) -> bytes:
    """A small file in the upload's format with glucose in the given unit, to download and
    fill in: the schema's example patients, an ``id`` column and a blank BMI among them."""
    rows = []
    for number, patient in enumerate(SAMPLE_PATIENTS, start=1):
        glucose = glucose_from_mg_dl(float(patient[GLUCOSE]), glucose_unit)
        rows.append(
            {
                ID_COLUMN: f"P{number:03d}",
                **patient,
                GLUCOSE: round(glucose, 1),
                UNIT_COLUMN: glucose_unit,
            }
        )
    frame = pd.DataFrame(rows, columns=[ID_COLUMN, *FEATURES, UNIT_COLUMN])
    return frame.to_csv(index=False).encode("utf-8")


def patients_for_service(valid: pd.DataFrame) -> list[dict[str, Any]]:
    """Validated rows as JSON-ready patients: schema fields only, a blank BMI as None."""
    patients = valid[list(FEATURES)].astype(object)
    patients = patients.where(patients.notna(), None)
    records = patients.to_dict(orient="records")
    for record in records:
        for name in NUMERIC_FEATURES:
            if record[name] is not None:
                record[name] = float(record[name])
    return records


def _main_factors(assessment: Assessment, glucose_unit: GlucoseUnit, limit: int = 3) -> str:
    raising = [f for f in assessment.contributing_factors if f.direction == "raises"][:limit]
    return "; ".join(f"{f.label}: {format_value(f.factor, f.value, glucose_unit)}" for f in raising)


def _best_what_if(assessment: Assessment) -> str:
    helpful = [w for w in assessment.what_if if w.absolute_reduction > 0]
    if not helpful:
        return ""
    best = max(helpful, key=lambda w: w.absolute_reduction)
    return f"{best.change}: {percent_text(best.probability)}"


def results_frame(
    valid: pd.DataFrame,
    lines: list[int],
    assessments: list[Assessment],
    glucose_unit: GlucoseUnit = "mg/dL",
) -> pd.DataFrame:
    """One row per patient, ranked by risk (ties keep the file's order)."""
    if not assessments:
        return pd.DataFrame()
    frame = pd.DataFrame({"line": lines})
    if ID_COLUMN in valid.columns:
        frame[ID_COLUMN] = valid[ID_COLUMN].to_numpy()
    frame["risk_percent"] = [round(100 * a.probability, 1) for a in assessments]
    intervals = [a.probability_interval or [None, None] for a in assessments]
    frame["risk_low_percent"] = [None if lo is None else round(100 * lo, 1) for lo, _ in intervals]
    frame["risk_high_percent"] = [None if hi is None else round(100 * hi, 1) for _, hi in intervals]
    frame["risk_band"] = [a.risk_band for a in assessments]
    # The band's and the number's standing, as every channel shows them (reply_flags).
    frame["band_not_settled"] = [a.interval_crosses_band_edge for a in assessments]
    frame["beyond_data"] = [a.beyond_data for a in assessments]
    frame["people_like_this"] = [a.outcome.natural_frequency(a.probability) for a in assessments]
    frame["relative_to_peers"] = [a.comparison.relative_risk for a in assessments]
    frame["peer_group"] = [a.comparison.group for a in assessments]
    frame["peer_average_percent"] = [round(100 * a.comparison.average_risk, 1) for a in assessments]
    frame["main_factors"] = [_main_factors(a, glucose_unit) for a in assessments]
    frame["best_what_if"] = [_best_what_if(a) for a in assessments]
    frame["warnings"] = [" ".join(a.warnings) for a in assessments]
    for name in FEATURES:
        frame[name] = valid[name].to_numpy()
    frame["probability"] = [a.probability for a in assessments]
    frame["model_tag"] = [a.model_tag for a in assessments]
    frame = frame.sort_values("probability", ascending=False, kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def score_patients_csv(
    source: IO[bytes] | IO[str] | str,
    client: StrokeRiskClient,
    on_progress: Callable[[int, int], None] | None = None,
    glucose_unit: GlucoseUnit = "mg/dL",
) -> ScoredUpload:
    """Validate an uploaded CSV, score its valid rows through the service and rank them.

    Glucose is read in ``glucose_unit`` unless the file's ``glucose_unit`` column says
    otherwise for a row. Raises :class:`DataError` when the file cannot be used at all (not
    CSV, missing columns, no rows) and :class:`ServiceError` when the service cannot score it.
    """
    raw = read_table(source)
    patient_lines = [
        position + FIRST_DATA_LINE
        for position, row in enumerate(raw.to_dict(orient="records"))
        if not _row_is_blank(row)
    ]
    if not patient_lines:
        raise DataError("the file has a header but no patients")
    converted, unit_errors = glucose_in_mg_dl(raw, glucose_unit)
    parsed = parse_patients(converted)
    errors = sorted([*unit_errors, *parsed.errors], key=lambda error: error.line)
    skipped = set(parsed.error_lines) | {error.line for error in unit_errors}
    rows_read = len(patient_lines)
    lines = [line for line in patient_lines if line not in skipped]
    assessments: list[Assessment] = []
    if not parsed.valid.empty:
        try:
            assessments = client.assess_many(patients_for_service(parsed.valid), on_progress)
        except ServiceRejectedData as exc:
            raise ServiceError(_rejected_rows_text(exc, lines)) from exc
    thresholds = assessments[0].risk_band_thresholds if assessments else None
    results = results_frame(parsed.valid, lines, assessments, glucose_unit)
    by_line = dict(zip(lines, assessments, strict=True))
    return ScoredUpload(results, errors, rows_read, thresholds, glucose_unit, by_line)


def _rejected_rows_text(exc: ServiceRejectedData, lines: list[int]) -> str:
    """The service refused rows the app accepted (app and service disagree on the schema)."""
    places = []
    for error in exc.detail[:5]:
        loc = error.get("loc", [])
        if len(loc) >= 3 and isinstance(loc[1], int) and loc[1] < len(lines):
            places.append(f"line {lines[loc[1]]}, column '{loc[2]}': {error.get('msg')}")
    if not places:
        return str(exc)
    return (
        "The prediction service rejected rows this app accepted (the app and the service may "
        "be different versions): " + "; ".join(places)
    )


def high_risk_summaries(upload: ScoredUpload) -> list[tuple[str, Assessment]]:
    """The high-risk patients, highest first, each with the reference their summary carries:
    the file's id when it has one, else its line."""
    results = upload.results
    if results.empty:
        return []
    high = results[results["risk_band"] == "high"]
    has_id = ID_COLUMN in high.columns
    return [
        (
            f"id {row[ID_COLUMN]}" if has_id else f"line {row['line']}",
            upload.assessments[row["line"]],
        )
        for _, row in high.iterrows()
    ]


def problems_text(upload: ScoredUpload, limit: int = 5) -> str:
    """One paragraph naming the rows left out and why; the full list goes in a table."""
    lines = upload.skipped_lines
    if not lines:
        return ""
    shown = "; ".join(str(error) for error in upload.errors[:limit])
    more = len(upload.errors) - limit
    suffix = f"; and {more} more problem(s) listed below" if more > 0 else ""
    scored = upload.rows_scored
    if scored == 0:
        outcome = "No row was scored."
    else:
        outcome = f"{scored:,} of {upload.rows_read:,} {'was' if scored == 1 else 'were'} scored."
    return (
        f"{len(lines):,} of {upload.rows_read:,} rows could not be scored and "
        f"{'was' if len(lines) == 1 else 'were'} left out: {shown}{suffix}. "
        f"{outcome} Correct the file and upload it again to score them."
    )


def problems_frame(errors: list[RowError]) -> pd.DataFrame:
    """The row problems as a table: line, id, column, problem."""
    return pd.DataFrame(
        [
            {"line": e.line, "id": e.reference or "", "column": e.column, "problem": e.message}
            for e in errors
        ],
        columns=["line", "id", "column", "problem"],
    )


def scored_csv(results: pd.DataFrame) -> bytes:
    """The ranked results as a CSV file (UTF-8, with the file's own columns); text that a
    spreadsheet would run as a formula (an id "=1+1") is neutralised (OWASP)."""
    return results.map(neutralised).to_csv(index=False).encode("utf-8")
