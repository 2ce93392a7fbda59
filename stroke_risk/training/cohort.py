"""Reading a provider's cohort: patients at an index date, followed up for a first stroke.

One row per patient: the ten patient fields as measured at the index date (the schema's
own fields, read as strictly as the training data set, by the same reader), then

- ``followup_years``: years from the index date to the first stroke, or to the end of
  follow-up or death, whichever came first (a number above 0);
- ``stroke``: 1 if the follow-up ended with a stroke, else 0;
- optional ``death``: 1 if it ended with a death before any stroke (a competing event;
  without the column, deaths are indistinguishable from the end of follow-up);
- optional ``index_date`` (YYYY-MM-DD), ``id``, and grouping columns such as
  ``practice_id`` (kept as text for subgroup tables).

CSV or Parquet. Every problem is reported with its line, column and id, and the file is
refused whole if it has any: a model is never trained on rows that were quietly dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError, create_model

from stroke_risk.core.patient_tables import (
    ID_COLUMN,
    MISSING_MARKERS,
    DataError,
    RowError,
    cell_error,
    cell_value,
    read_table,
)
from stroke_risk.core.schema import (
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    TARGET,
    PatientRecord,
)
from stroke_risk.training.dataset import sha256_of

FOLLOWUP = "followup_years"
DEATH = "death"
INDEX_DATE = "index_date"
OUTCOME_COLUMNS = (FOLLOWUP, TARGET)
GROUP_COLUMNS = ("practice_id", "site")  # kept as text when present, for subgroups
ERRORS_SHOWN = 10


@dataclass(frozen=True)
class Cohort:
    """A validated cohort and what identifies it (for lineage in the model's metadata)."""

    frame: pd.DataFrame  # FEATURES, followup_years, stroke, death, [id, index_date, groups]
    source: str
    sha256: str
    has_death: bool
    first_index_date: str | None = None
    last_index_date: str | None = None
    group_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def events(self) -> int:
        return int(self.frame[TARGET].sum())

    def describe(self) -> dict[str, Any]:
        """The cohort's fingerprint, size and dates, as saved in a model's lineage."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "patients": len(self.frame),
            "strokes": self.events,
            "deaths": int(self.frame[DEATH].sum()) if self.has_death else None,
            "median_followup_years": float(self.frame[FOLLOWUP].median()),
            "first_index_date": self.first_index_date,
            "last_index_date": self.last_index_date,
        }


def _text(value: Any) -> str:
    """A Parquet cell as the text a CSV would hold (1.0 -> "1", NaN/None -> "")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp | date):
        return value.strftime("%Y-%m-%d")
    return str(value)


def read_cohort_table(path: Path) -> pd.DataFrame:
    """The file as text columns, lower-case names: CSV, or Parquet by its suffix."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            frame = pd.read_parquet(path)
        except FileNotFoundError as exc:
            raise DataError(f"no cohort file at {path}") from exc
        except (OSError, ValueError) as exc:
            raise DataError(f"could not read {path} as Parquet: {exc}") from exc
        frame = frame.astype(object).map(_text)
        frame.columns = [str(column).strip().lower() for column in frame.columns]
        return frame
    if not path.is_file():
        raise DataError(f"no cohort file at {path}")
    return read_table(path)


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is empty (blank lines, skipped as the patient reader does)."""
    return (frame.astype(str).apply(lambda column: column.str.strip()) == "").all(axis=1).to_numpy()


@cache
def _field_model(name: str) -> type[BaseModel]:
    """A model of one field of :class:`PatientRecord`, with its type, limits and validators."""
    field_info = PatientRecord.model_fields[name]
    return create_model(f"Cohort_{name}", **{name: (field_info.annotation, field_info)})


def validate_fields(frame: pd.DataFrame, blank: np.ndarray) -> tuple[pd.DataFrame, list[RowError]]:
    """The ten fields and ``stroke`` validated by the schema, each distinct value once.

    The same rules and words as ``patient_tables.parse_patients`` (which validates a whole
    record per row: about 0.3 ms a row, 30 s for 100,000 patients); the schema has no rule
    across fields, so validating each column's distinct values is the same check.
    """
    references = frame[ID_COLUMN].astype(str).to_numpy() if ID_COLUMN in frame.columns else None
    lines = np.arange(len(frame)) + 2
    errors: list[RowError] = []
    bad = np.zeros(len(frame), dtype=bool)
    values: dict[str, np.ndarray] = {}
    for name in FEATURES:
        texts = frame[name].astype(str).str.strip().to_numpy()
        model = _field_model(name)
        canonical: dict[str, object] = {}
        problems: dict[str, str] = {}
        for text in pd.unique(texts):
            raw = cell_value(name, text)
            try:
                canonical[text] = getattr(model.model_validate({name: raw}), name)
            except ValidationError as exc:
                problems[text] = cell_error(exc.errors()[0], raw)
        if problems:
            for row in np.flatnonzero(np.isin(texts, list(problems)) & ~blank):
                reference = None if references is None else references[row]
                errors.append(RowError(int(lines[row]), name, problems[texts[row]], reference))
                bad[row] = True
        values[name] = np.array([canonical.get(text) for text in texts], dtype=object)
    labels = frame[TARGET].astype(str).str.strip().to_numpy()
    for row in np.flatnonzero(~np.isin(labels, ["0", "1"]) & ~blank):
        reference = None if references is None else references[row]
        errors.append(
            RowError(int(lines[row]), TARGET, f"'{labels[row]}' is not 0 or 1", reference)
        )
    kept = ~blank
    valid = pd.DataFrame({name: values[name][kept] for name in FEATURES})
    for name in NUMERIC_FEATURES:
        valid[name] = valid[name].astype(float)
    for name in FLAG_FEATURES:
        valid[name] = valid[name].astype(int)
    if references is not None:
        valid.insert(0, ID_COLUMN, references[kept])
    valid[TARGET] = np.where(np.isin(labels, ["0", "1"]), labels, "0")[kept].astype(int)
    return valid, errors


def _outcome_errors(
    frame: pd.DataFrame, blank: np.ndarray
) -> tuple[dict[str, np.ndarray], list[RowError]]:
    """Check the follow-up columns; their values and every problem, with line and id."""
    references = frame[ID_COLUMN].astype(str).to_numpy() if ID_COLUMN in frame.columns else None
    errors: list[RowError] = []

    def report(rows: np.ndarray, column: str, message: Any) -> None:
        for row in np.flatnonzero(rows & ~blank):
            reference = None if references is None else references[row]
            text = message(row) if callable(message) else message
            errors.append(RowError(int(row) + 2, column, text, reference))

    texts = frame[FOLLOWUP].astype(str).str.strip().to_numpy()
    followup = pd.to_numeric(pd.Series(texts), errors="coerce").to_numpy(dtype=float)
    empty = np.isin(texts, list(MISSING_MARKERS))
    report(empty, FOLLOWUP, "is empty")
    report(np.isnan(followup) & ~empty, FOLLOWUP, lambda r: f"'{texts[r]}' is not a number")
    report(
        ~np.isnan(followup) & ~(np.isfinite(followup) & (followup > 0)),
        FOLLOWUP,
        lambda r: (
            f"'{texts[r]}' must be a number of years above 0 (time from the index "
            "date to the first stroke, death or end of follow-up)"
        ),
    )
    stroke = frame[TARGET].astype(str).str.strip().to_numpy() == "1"
    death = np.zeros(len(frame), dtype=bool)
    if DEATH in frame.columns:
        deaths = frame[DEATH].astype(str).str.strip().to_numpy()
        report(~np.isin(deaths, ["0", "1"]), DEATH, lambda r: f"'{deaths[r]}' is not 0 or 1")
        death = deaths == "1"
        report(
            death & stroke,
            DEATH,
            "a follow-up ends with its first event: a stroke or a death, not both "
            "(a death after a stroke is stroke = 1, death = 0)",
        )
    dates = np.full(len(frame), None, dtype=object)
    if INDEX_DATE in frame.columns:
        raw = frame[INDEX_DATE].astype(str).str.strip()
        parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
        report(
            (raw != "").to_numpy() & parsed.isna().to_numpy(),
            INDEX_DATE,
            lambda r: f"'{raw.iloc[r]}' is not a date (YYYY-MM-DD)",
        )
        dates = np.where(parsed.isna(), None, parsed.dt.strftime("%Y-%m-%d")).astype(object)
    return {FOLLOWUP: followup, DEATH: death.astype(int), INDEX_DATE: dates}, errors


def load_cohort(path: Path) -> Cohort:
    """Read and validate a cohort file, refusing it whole if any row has a problem."""
    path = Path(path)
    frame = read_cohort_table(path)
    missing = [c for c in (*FEATURES, *OUTCOME_COLUMNS) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s): {', '.join(missing)}. A cohort has the ten patient "
            f"fields ({', '.join(FEATURES)}), {FOLLOWUP} and {TARGET}; optionally "
            f"{DEATH}, {INDEX_DATE}, {ID_COLUMN} and grouping columns such as practice_id"
        )
    if frame.empty:
        raise DataError(f"{path} has no rows")
    # The ten fields and the stroke label: the schema's own rules and the reader's words.
    blank = _blank_rows(frame)
    valid, field_errors = validate_fields(frame, blank)
    outcome, outcome_errors = _outcome_errors(frame, blank)
    errors = sorted([*field_errors, *outcome_errors], key=lambda e: e.line)
    if errors:
        shown = "\n  ".join(str(error) for error in errors[:ERRORS_SHOWN])
        more = len(errors) - ERRORS_SHOWN
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        raise DataError(f"{path} is not a valid cohort:\n  {shown}{suffix}")
    kept = ~blank
    valid[FOLLOWUP] = outcome[FOLLOWUP][kept]
    valid[DEATH] = outcome[DEATH][kept]
    dates = outcome[INDEX_DATE][kept]
    if INDEX_DATE in frame.columns:
        valid[INDEX_DATE] = dates
    groups = tuple(c for c in GROUP_COLUMNS if c in frame.columns)
    for column in groups:
        valid[column] = frame[column].to_numpy()[kept]
    known = [d for d in dates if d is not None]
    return Cohort(
        frame=valid,
        source=path.name,
        sha256=sha256_of(path),
        has_death=DEATH in frame.columns,
        first_index_date=min(known) if known else None,
        last_index_date=max(known) if known else None,
        group_columns=groups,
    )


def write_cohort(frame: pd.DataFrame, path: Path) -> Path:
    """Write a cohort as CSV or (by suffix) Parquet, e.g. a simulated one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path
