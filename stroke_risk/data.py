"""Getting the data set and reading patient tables safely.

The same reader serves training (which needs every row valid and the ``stroke`` label)
and the app's CSV upload (which keeps the good rows and reports the bad ones), so both
enforce exactly the schema in :mod:`stroke_risk.schema`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd
from pydantic import ValidationError

from stroke_risk.config import DATA_SHA256
from stroke_risk.schema import FEATURES, FLAG_FEATURES, NUMERIC_FEATURES, TARGET, Patient

logger = logging.getLogger(__name__)

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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_data(
    destination: Path,
    source_path: Path | None = None,
    url: str | None = None,
    expected_sha256: str = DATA_SHA256,
    timeout: float = 60.0,
) -> Path:
    """Copy (from ``source_path``) or download (from ``url``) the data set to ``destination``.

    The file is written beside the destination under a temporary name and only renamed into
    place once its sha256 matches, so an interrupted or corrupt transfer never leaves a
    file that later steps would trust.
    """
    if source_path is None and url is None:
        raise DataError("give a local copy of the data set (STROKE_DATA) or a URL to download")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part", delete=False
    )
    tmp = Path(handle.name)
    try:
        with handle:
            if source_path is not None:
                if not source_path.is_file():
                    raise DataError(f"STROKE_DATA points to {source_path}, which is not a file")
                with source_path.open("rb") as src:
                    shutil.copyfileobj(src, handle)
            else:
                logger.info("Downloading the data set from %s", url)
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                        shutil.copyfileobj(response, handle)
                except OSError as exc:
                    raise DataError(
                        f"could not download the data set from {url}: {exc}. Download it by hand "
                        "and set STROKE_DATA to its path."
                    ) from exc
        actual = sha256_of(tmp)
        if actual != expected_sha256:
            origin = source_path or url
            raise DataError(
                f"the data set from {origin} has sha256 {actual}, expected {expected_sha256}: "
                "it is not the Kaggle Stroke Prediction Dataset this project was built on"
            )
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


def _read_table(source: Path | str | IO[bytes] | IO[str]) -> pd.DataFrame:
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


def _parse_number(value: str) -> float | None | str:
    """A number, None for a missing marker, or the original text if it does not parse."""
    text = value.strip()
    if text in MISSING_MARKERS:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def parse_patients(frame: pd.DataFrame, require_target: bool = False) -> ParsedPatients:
    """Validate every row of a raw (all-text) table against the patient schema.

    Unknown extra columns are ignored, except that ``id`` is kept as the row's reference
    and ``stroke`` is kept (and checked) when ``require_target`` is set.
    """
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
        values: dict[str, object] = {}
        for name in FEATURES:
            raw = str(row[name]).strip()
            if name in NUMERIC_FEATURES:
                values[name] = _parse_number(raw)
            elif name in FLAG_FEATURES:
                values[name] = int(raw) if raw in {"0", "1"} else raw
            else:
                values[name] = raw
        row_errors: list[RowError] = []
        try:
            record = Patient.model_validate(values).model_dump()
        except ValidationError as exc:
            for error in exc.errors():
                column = str(error["loc"][0]) if error["loc"] else "?"
                message = error["msg"]
                raw_value = values.get(column)
                if raw_value is None or raw_value == "":
                    message = "is empty"
                elif error["type"] == "float_type":
                    message = f"'{raw_value}' is not a number"
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
    return parse_patients(_read_table(source), require_target=False)


def load_training_data(path: Path) -> pd.DataFrame:
    """Read the labelled data set, refusing it whole if any row breaks the schema."""
    parsed = parse_patients(_read_table(path), require_target=True)
    if parsed.errors:
        shown = "\n  ".join(str(error) for error in parsed.errors[:10])
        more = len(parsed.errors) - 10
        suffix = f"\n  ... and {more} more" if more > 0 else ""
        raise DataError(f"{path} does not match the patient schema:\n  {shown}{suffix}")
    if parsed.valid.empty:
        raise DataError(f"{path} has no rows")
    return parsed.valid


def main() -> int:
    """``python -m stroke_risk.data``: put the data set at the configured path, verified."""
    import sys

    from stroke_risk.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    if settings.data_path.is_file() and sha256_of(settings.data_path) == DATA_SHA256:
        logger.info("%s is present and verified", settings.data_path)
        return 0
    try:
        if settings.data is not None:
            fetch_data(settings.data_path, source_path=settings.data)
        else:
            fetch_data(settings.data_path, url=settings.data_url)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    logger.info("%s written and verified (sha256 %s)", settings.data_path, DATA_SHA256)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
