"""The patient schema applied to a whole Arrow batch at once, for the rows that are clean.

Why: the job's reference validation reads each row as a CSV would hold it and runs it
through the :class:`~stroke_risk.core.schema.Patient` model (:func:`reference_text` and
:func:`stroke_risk.core.patient_tables.parse_patients`). Pydantic itself is quick, but
taking a million rows out of Arrow as Python text and dicts costs about 45 µs a row, more
than scoring them. Here each column is checked with numpy/pyarrow masks instead, and only
the rows this check does not accept go the reference way, so a rejected row still gets the
API's exact words.

The check is deliberately conservative: it accepts a value only where the reference is
certain to accept it and to read it as the same canonical value; anything unusual (a
decimal type, "1_000", a non-ASCII space, a category typed as a number...) is left to the
reference. So the accepted rows and their values are the reference's by construction, and
a test compares the two on a wide set of good and bad rows (tests/population).

What the reference does, column by column, and how it is mirrored here:
- numbers: the CSV text is parsed with ``float()`` (a missing marker is "no value") and
  must be finite and within the schema's limits (age from 18). Typed columns: floats are
  read exactly (``repr`` round-trips), integers too; booleans and other types are left to
  the reference. Text columns: plain decimal numbers only (RE2's ``\\s`` is a subset of
  what ``str.strip`` removes, ``\\d`` is ASCII), parsed by Arrow (correctly rounded, as
  ``float()`` is). A blank BMI, or a missing marker, is a BMI of None.
- 0/1 flags: integers 0 and 1, floats 0.0 and 1.0, any boolean; text is checked per
  distinct value, as categories are.
- categories (and text flags): each distinct value of the batch is validated once with
  the ``Patient`` model itself, and the rows take the canonical value it returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import ValidationError

from stroke_risk.core.patient_tables import MISSING_MARKERS
from stroke_risk.core.schema import (
    CATEGORICAL_FEATURES,
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    Patient,
    numeric_limits,
)

# A plain decimal number between RE2 whitespace (which str.strip also removes). At most 20
# integer digits and a two-digit exponent, so Arrow never overflows to an error.
_NUMBER = r"^\s*(?P<number>-?(?:\d{1,20}(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,2})?)\s*$"
_RE2_SPACE = " \t\n\f\r"
# A valid patient, to validate one category value at a time with the Patient model.
_EXAMPLE: dict[str, Any] = Patient.model_config["json_schema_extra"]["example"]


@dataclass(frozen=True)
class CheckedBatch:
    """``accepted[i]``: row i is valid; ``columns``: every row's canonical values (numbers
    as float arrays with NaN for a blank BMI, flags as int arrays, categories as object
    arrays). Values of rows not accepted are meaningless."""

    accepted: np.ndarray
    columns: dict[str, np.ndarray]


def reference_text(values: list[Any]) -> list[str]:
    """Values as the text a CSV would hold: what the reference validation reads.

    Floats are written with ``repr`` (which round-trips exactly), integral ones without a
    ".0" so that a 0/1 flag stored as a float still reads as 0 or 1; missing is blank.
    """
    text = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            text.append("")
        elif isinstance(value, bool):
            text.append(str(int(value)))
        elif isinstance(value, float):
            text.append(str(int(value)) if value.is_integer() else repr(value))
        else:
            text.append(str(value))
    return text


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _check_number(name: str, array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    low, high = numeric_limits(name)
    kind = array.type
    blank = np.zeros(len(array), dtype=bool)  # no value: allowed for BMI only
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        # Floats widen exactly; integers beyond 2**53 are far outside every limit anyway.
        values = pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        blank = np.isnan(values)  # a null or NaN is written as a blank
    elif _is_text(kind):
        trimmed = pc.utf8_trim(array, characters=_RE2_SPACE)
        blank = pc.fill_null(pc.is_in(trimmed, value_set=pa.array(sorted(MISSING_MARKERS))), True)
        blank = blank.to_numpy(zero_copy_only=False)
        number = pc.struct_field(pc.extract_regex(array, _NUMBER), [0])
        try:
            values = pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # not expected for these patterns: leave it to the reference
            return np.zeros(len(array), dtype=bool), np.full(len(array), np.nan)
        values = np.where(blank, np.nan, values)
    else:  # booleans (never a valid number here), decimals, dates...: the reference decides
        return np.zeros(len(array), dtype=bool), np.full(len(array), np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= low) & (values <= high)
    if name == "bmi":
        ok |= blank
        values = np.where(blank, np.nan, values)
    return ok, values


def _check_flag(name: str, array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    kind = array.type
    if pa.types.is_boolean(kind):
        ok = array.is_valid().to_numpy(zero_copy_only=False)
        values = pc.fill_null(array, False).to_numpy(zero_copy_only=False).astype(np.int64)
        return ok, values
    if pa.types.is_floating(kind) or pa.types.is_integer(kind):
        values = pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        ok = (values == 0.0) | (values == 1.0)
        return ok, np.where(ok, values, 0).astype(np.int64)
    if _is_text(kind):
        return _check_by_value(name, array)
    return np.zeros(len(array), dtype=bool), np.zeros(len(array), dtype=np.int64)


@lru_cache(maxsize=4096)
def _canonical(name: str, text: str) -> tuple[bool, Any]:
    """Whether the reference accepts ``text`` in field ``name``, and the value it keeps."""
    raw: Any = text.strip()
    if name in FLAG_FEATURES and raw in ("0", "1"):
        raw = int(raw)  # as the reference reads a flag
    try:
        patient = Patient.model_validate({**_EXAMPLE, name: raw})
    except ValidationError:
        return False, None
    return True, getattr(patient, name)


def _check_by_value(name: str, array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Validate each distinct text once with the Patient model; rows take its answer."""
    encoded = pc.dictionary_encode(array)
    answers = [_canonical(name, value) for value in encoded.dictionary.to_pylist()]
    known = np.array([ok for ok, _ in answers] + [False], dtype=bool)
    canonical = np.array([value for _, value in answers] + [None], dtype=object)
    # A null (a blank cell) points at the extra "not accepted" entry.
    indices = pc.fill_null(encoded.indices, len(answers)).to_numpy(zero_copy_only=False)
    values = canonical[indices]
    if name in FLAG_FEATURES:
        values = np.where(known[indices], values, 0).astype(np.int64)
    return known[indices], values


def _check_category(name: str, array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not _is_text(array.type):  # a category typed as a number or a date: the reference
        return np.zeros(len(array), dtype=bool), np.full(len(array), None, dtype=object)
    return _check_by_value(name, array)


def check_batch(batch: pa.RecordBatch) -> CheckedBatch:
    """The rows of ``batch`` the reference validation certainly accepts, and their values.

    ``batch`` holds the data set's columns (lower case); other columns are ignored."""
    accepted = np.ones(batch.num_rows, dtype=bool)
    columns: dict[str, np.ndarray] = {}
    for name in FEATURES:
        array = batch.column(name)
        if name in NUMERIC_FEATURES:
            ok, values = _check_number(name, array)
        elif name in FLAG_FEATURES:
            ok, values = _check_flag(name, array)
        else:
            assert name in CATEGORICAL_FEATURES  # nosec B101  # FEATURES is numbers, flags and categories
            ok, values = _check_category(name, array)
        accepted &= ok
        columns[name] = values
    return CheckedBatch(accepted, columns)
