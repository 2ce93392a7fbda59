"""Reading patient tables (CSV) and validating every row against the patient schema.

The same reader serves training (which needs every row valid and the ``stroke`` label),
the app's CSV upload (which keeps the good rows and reports the bad ones) and population
scoring, so all of them enforce exactly the schema in :mod:`stroke_risk.core.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from stroke_risk.core.schema import (
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    TARGET,
    Patient,
    PatientRecord,
)
from stroke_risk.core.validation_errors import message as error_message

MISSING_MARKERS = {"", "N/A", "NA", "NaN", "nan", "null", "None"}
ID_COLUMN = "id"


class DataError(ValueError):
    """The data file is missing, corrupt or does not match the schema."""


@dataclass(frozen=True)
class RowError:
    """One problem in one row of a patient table, phrased for the person who made the file."""

    line: int  # line number in the file, the header being line 1
    column: str
    message: str
    reference: str | None = None  # the row's id, when the file has one

    def __str__(self) -> str:
        ref = f" (id {self.reference})" if self.reference else ""
        return f"line {self.line}{ref}, column '{self.column}': {self.message}"


@dataclass(frozen=True)
class ParsedPatients:
    """The rows that passed validation (canonical values, original order) and the errors."""

    valid: pd.DataFrame
    errors: list[RowError]
    error_lines: list[int]


def read_table(source: Path | str | IO[bytes] | IO[str]) -> pd.DataFrame:
    """The table as text, lower-case column names; a file that is not CSV is a DataError."""
    try:
        # Blank lines are kept (and skipped later) so that reported line numbers match the
        # file a person opens in an editor.
        frame = pd.read_csv(
            source,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
        )
    except FileNotFoundError as exc:
        raise DataError(f"no data file at {source}: run `make data`") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"could not read the file as CSV: {exc}") from exc
    # The data set spells one column "Residence_type"; accept any capitalisation.
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    return frame


def cell_value(name: str, text: str) -> object:
    """A stripped cell's text as the schema is handed it: a number field's number (None for
    a missing marker), a 0/1 flag as an int, else the text itself, so that what does not
    parse reaches the schema as written and its error can quote it."""
    if name in NUMERIC_FEATURES:
        if text in MISSING_MARKERS:
            return None
        try:
            return float(text)
        except ValueError:
            return text
    if name in FLAG_FEATURES:
        return int(text) if text in {"0", "1"} else text
    return text


def cell_error(error: ErrorDetails, value: object) -> str:
    """What is wrong with a cell holding ``value`` (from :func:`cell_value`), in words for
    the person who made the file: an empty cell and a word where a number goes are named as
    such, not by the schema's type."""
    if value is None or value == "":
        return "is empty"
    if error["type"] == "float_type":
        return f"'{value}' is not a number"
    return error_message(error)


def parse_patients(frame: pd.DataFrame, require_target: bool = False) -> ParsedPatients:
    """Validate every row of a raw (all-text) table against the patient schema.

    Unknown extra columns are ignored, except that ``id`` is kept as the row's reference
    and ``stroke`` is kept (and checked) when ``require_target`` is set. A labelled table is
    the data set, read as recorded (:class:`PatientRecord`, any age); a table to score is
    read as :class:`Patient`, so a patient under 18 is a row that is not scored, with why.
    """
    model = PatientRecord if require_target else Patient
    required = list(FEATURES) + ([TARGET] if require_target else [])
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DataError(
            "missing column(s): "
            + ", ".join(missing)
            + ". Expected the data set's columns: "
            + ", ".join(required)
        )
    has_id = ID_COLUMN in frame.columns
    records: list[dict[str, object]] = []
    errors: list[RowError] = []
    error_lines: list[int] = []
    for position, row in enumerate(frame.to_dict(orient="records")):
        line = position + 2
        if all(str(value).strip() == "" for value in row.values()):
            continue  # a blank line
        reference = str(row[ID_COLUMN]) if has_id else None
        values: dict[str, object] = {
            name: cell_value(name, str(row[name]).strip()) for name in FEATURES
        }
        row_errors: list[RowError] = []
        try:
            record = model.model_validate(values).model_dump()
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else "?"
                message = cell_error(error, values.get(column))
                row_errors.append(RowError(line, column, message, reference))
            record = {}
        if require_target:
            label = str(row[TARGET]).strip()
            if label not in {"0", "1"}:
                row_errors.append(RowError(line, TARGET, f"'{label}' is not 0 or 1", reference))
            else:
                record[TARGET] = int(label)
        if row_errors:
            errors.extend(row_errors)
            error_lines.append(line)
            continue
        if has_id:
            record[ID_COLUMN] = reference
        records.append(record)
    columns = (
        ([ID_COLUMN] if has_id else []) + list(FEATURES) + ([TARGET] if require_target else [])
    )
    valid = pd.DataFrame.from_records(records, columns=columns)
    for name in NUMERIC_FEATURES:
        valid[name] = valid[name].astype(float)
    return ParsedPatients(valid=valid, errors=errors, error_lines=error_lines)


def load_patients_csv(source: Path | str | IO[bytes] | IO[str]) -> ParsedPatients:
    """Read a CSV of patients (with or without ``id`` and ``stroke``) without losing good rows."""
    return parse_patients(read_table(source), require_target=False)
