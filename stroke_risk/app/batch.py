"""Scoring an uploaded CSV of patients: the good rows are scored and ranked, the bad named.

The file is read with :func:`stroke_risk.core.patient_tables.load_patients_csv`, the same
reader training uses, so the upload accepts exactly what the schema accepts. A bad row
never costs the good ones: they are scored and the bad rows come back as line-numbered
problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd

from stroke_risk.app.client import ServiceError, ServiceRejectedData, StrokeRiskClient
from stroke_risk.app.views import format_value, people_like_this, percent_text
from stroke_risk.core.patient_tables import ID_COLUMN, DataError, RowError, load_patients_csv
from stroke_risk.core.responses import Assessment
from stroke_risk.core.schema import FEATURES, NUMERIC_FEATURES
from stroke_risk.core.spreadsheet_cells import neutralised

FIRST_DATA_LINE = 2  # line 1 is the header, as in RowError.line


@dataclass(frozen=True)
class ScoredUpload:
    """The scored patients, highest risk first, and the rows that could not be scored."""

    results: pd.DataFrame
    errors: list[RowError]
    rows_read: int
    thresholds: tuple[float, float] | None = None  # the service's risk bands, once scored
    # The full replies by file line, for the printable summaries (kept in memory only).
    assessments: dict[int, Assessment] = field(default_factory=dict)

    @property
    def skipped_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})


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


def _main_factors(assessment: Assessment, limit: int = 3) -> str:
    raising = [f for f in assessment.contributing_factors if f.direction == "raises"][:limit]
    return "; ".join(f"{f.label}: {format_value(f.factor, f.value)}" for f in raising)


def _best_what_if(assessment: Assessment) -> str:
    helpful = [w for w in assessment.what_if if w.absolute_reduction > 0]
    if not helpful:
        return ""
    best = max(helpful, key=lambda w: w.absolute_reduction)
    return f"{best.change}: {percent_text(best.probability)}"


def results_frame(
    valid: pd.DataFrame, lines: list[int], assessments: list[Assessment]
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
    frame["people_like_this"] = [people_like_this(a.probability) for a in assessments]
    frame["relative_to_peers"] = [a.comparison.relative_risk for a in assessments]
    frame["peer_group"] = [a.comparison.group for a in assessments]
    frame["peer_average_percent"] = [round(100 * a.comparison.average_risk, 1) for a in assessments]
    frame["main_factors"] = [_main_factors(a) for a in assessments]
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
) -> ScoredUpload:
    """Validate an uploaded CSV, score its valid rows through the service and rank them.

    Raises :class:`DataError` when the file cannot be used at all (not CSV, missing
    columns, no rows) and :class:`ServiceError` when the service cannot score it.
    """
    parsed = load_patients_csv(source)
    rows_read = len(parsed.valid) + len(parsed.error_lines)
    if rows_read == 0:
        raise DataError("the file has a header but no patients")
    skipped = set(parsed.error_lines)
    lines = [
        line for line in range(FIRST_DATA_LINE, FIRST_DATA_LINE + rows_read) if line not in skipped
    ]
    assessments: list[Assessment] = []
    if not parsed.valid.empty:
        try:
            assessments = client.assess_many(patients_for_service(parsed.valid), on_progress)
        except ServiceRejectedData as exc:
            raise ServiceError(_rejected_rows_text(exc, lines)) from exc
    thresholds = assessments[0].risk_band_thresholds if assessments else None
    results = results_frame(parsed.valid, lines, assessments)
    by_line = dict(zip(lines, assessments, strict=True))
    return ScoredUpload(results, parsed.errors, rows_read, thresholds, by_line)


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
    return (
        f"{len(lines)} of {upload.rows_read} rows could not be scored and "
        f"{'was' if len(lines) == 1 else 'were'} left out: {shown}{suffix}. "
        "The other rows were scored. Correct the file and upload it again to score them."
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
