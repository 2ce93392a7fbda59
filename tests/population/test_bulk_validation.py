"""The bulk check accepts exactly what the Patient model accepts, with the same values, and
every other row keeps the reference's words.

The reference is the job's row-by-row path: each value written as a CSV would hold it,
then :func:`parse_patients` (the ``Patient`` model, the API's wording). Batches are drawn
with hypothesis over typed and text columns, good and bad values alike."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stroke_risk.core.canonical_patients import trusted_patient
from stroke_risk.core.schema import (
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    Patient,
    categories,
    numeric_limits,
)
from stroke_risk.population.bulk_validation import check_batch
from stroke_risk.population.scoring import _reference_validation, validate

EXAMPLE: dict[str, Any] = Patient.model_config["json_schema_extra"]["example"]


def reference(batch: pa.RecordBatch) -> tuple[list[int], list[dict], dict[int, str]]:
    """Every row through the Patient model one by one, as the job did before the bulk check."""
    ids = [str(i) for i in range(batch.num_rows)]
    return _reference_validation(batch, np.arange(batch.num_rows), ids)


def _same(a: dict, b: dict) -> bool:
    """Equal values and types (1 is not 1.0 here: the assessor gets what validation gives)."""
    return all(
        type(a[k]) is type(b[k]) and (a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]))
        for k in FEATURES
    )


def assert_agrees_with_the_reference(batch: pa.RecordBatch) -> None:
    expected_positions, expected_records, expected_problems = reference(batch)
    expected = dict(zip(expected_positions, expected_records, strict=True))
    checked = check_batch(batch)
    for position in np.flatnonzero(checked.accepted).tolist():
        assert position in expected, f"row {position} accepted in bulk, refused by Patient"
        bulk = {name: checked.columns[name][position] for name in FEATURES}
        bulk = {k: v.item() if isinstance(v, np.generic) else v for k, v in bulk.items()}
        bulk["bmi"] = None if bulk["bmi"] != bulk["bmi"] else bulk["bmi"]
        assert _same(bulk, expected[position]), (bulk, expected[position])
    positions, records, problems = validate(batch)
    assert positions == expected_positions
    assert all(_same(a, b) for a, b in zip(records, expected_records, strict=True))
    assert problems == expected_problems


# --- values, good and bad, for each kind of column ------------------------------------
# Each value is good six times in seven, so about a fifth of the drawn rows are valid.

SPACES = st.sampled_from(["", " ", "\t", "  ", "\n", "\u00a0", "\u2003", "\v"])


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.integers(0, 6).flatmap(lambda k: good if k else odd)


def spaced(text: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(SPACES, text, SPACES).map("".join)


def number_text(name: str) -> st.SearchStrategy[str | None]:
    low, high = numeric_limits(name)
    written = st.floats(low - 30, high + 30, allow_nan=False).flatmap(
        lambda x: st.sampled_from([repr(x), f"{x:.2f}", f"{x:g}", f"{x:e}", str(round(x))])
    )
    good = st.floats(low, high).map(lambda x: f"{x:.2f}")
    odd = st.sampled_from(
        [
            "NA",
            "N/A",
            "nan",
            "NaN",
            "null",
            "None",
            "",
            "inf",
            "-inf",
            "1e999",
            "forty",
            "4_2",
            "+42",
            ".5e2",
            "42.",
            "٤٢",
            "0x2a",
            "1,5",
            "--1",
            "42abc",
            "1e-999",
            "-0",
            "00042",
        ]
    )
    return mostly(good, st.one_of(st.none(), spaced(st.one_of(written, odd))))


def number_float(name: str) -> st.SearchStrategy[float | None]:
    low, high = numeric_limits(name)
    odd = st.one_of(
        st.none(),
        st.floats(low - 1, high + 1),
        st.sampled_from([math.nextafter(low, -1), math.nextafter(high, 2 * high), -0.0]),
        st.floats(allow_nan=True, allow_infinity=True),
    )
    return mostly(st.floats(low, high), odd)


def number_int(name: str) -> st.SearchStrategy[int | None]:
    low, high = numeric_limits(name)
    good = st.integers(math.ceil(low), math.floor(high))
    return mostly(good, st.one_of(st.none(), st.integers(-5, 700), st.just(2**62)))


def category_text(name: str) -> st.SearchStrategy[str | None]:
    allowed = categories(name)
    variants = st.sampled_from(allowed).flatmap(
        lambda v: st.sampled_from(
            [v, v.lower(), v.upper(), v.replace("_", " "), v.replace(" ", "-"), f" {v} ", v + "x"]
        )
    )
    odd = st.one_of(st.none(), variants, st.text(max_size=6), spaced(st.sampled_from(allowed)))
    return mostly(st.sampled_from(allowed), odd)


FLAG_VALUES: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "int64": (st.sampled_from([0, 1]), st.one_of(st.none(), st.integers(-2, 3))),
    "float64": (
        st.sampled_from([0.0, 1.0, -0.0]),
        st.one_of(st.none(), st.sampled_from([0.5, 2.0, -1.0, float("nan")])),
    ),
    "bool": (st.booleans(), st.none()),
    "string": (
        spaced(st.sampled_from(["0", "1"])),
        st.one_of(st.none(), spaced(st.sampled_from(["2", "true", "yes", "0.0", "01", "", "-1"]))),
    ),
}


@st.composite
def batches(draw: st.DrawFn) -> pa.RecordBatch:
    """A batch of up to 12 rows; each column typed or text, each value good or bad."""
    rows = draw(st.integers(1, 12))

    def column(values: st.SearchStrategy[Any], kind: Any) -> pa.Array:
        return pa.array(draw(st.lists(values, min_size=rows, max_size=rows)), kind)

    arrays: dict[str, pa.Array] = {}
    for name in FEATURES:
        if name in NUMERIC_FEATURES:
            kind = draw(st.sampled_from(["float64", "float64", "float32", "int64", "text", "bool"]))
            if kind == "text":
                arrays[name] = column(number_text(name), pa.string())
            elif kind == "bool":  # never a valid number: all left to the reference
                arrays[name] = column(st.booleans(), pa.bool_())
            elif kind == "int64":
                arrays[name] = column(number_int(name), pa.int64())
            else:
                arrays[name] = column(number_float(name), pa.float64()).cast(kind, safe=False)
        elif name in FLAG_FEATURES:
            kind = draw(st.sampled_from(sorted(FLAG_VALUES)))
            arrays[name] = column(mostly(*FLAG_VALUES[kind]), kind)
        else:
            kind = draw(st.sampled_from([pa.string(), pa.large_string()]))
            arrays[name] = column(category_text(name), kind)
    return pa.RecordBatch.from_pydict({"id": [str(i) for i in range(rows)], **arrays})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_drawn_batches_agree_with_patient_validation(batch: pa.RecordBatch) -> None:
    assert_agrees_with_the_reference(batch)


def _clean(rows: int) -> dict[str, list[Any]]:
    return {"id": [str(i) for i in range(rows)], **{k: [v] * rows for k, v in EXAMPLE.items()}}


def test_clean_typed_rows_are_accepted_in_bulk() -> None:
    """Without this the bulk check could refuse everything and still 'agree'."""
    columns = _clean(6)
    columns["age"] = [18.0, 120.0, 42.0, 67.5, 80.0, 33.0]
    columns["bmi"] = [None, 10.0, 100.0, float("nan"), 31.2, 22.0]
    columns["hypertension"] = [0, 1, 0, 1, 0, 1]
    batch = pa.RecordBatch.from_pydict(columns)
    assert check_batch(batch).accepted.all()
    assert_agrees_with_the_reference(batch)


def test_clean_text_rows_are_accepted_in_bulk() -> None:
    columns = {k: [str(v) for v in vs] for k, vs in _clean(4).items()}
    columns["bmi"] = ["", " NA", "31.20", "1e1"]
    columns["work_type"] = ["govt job", "Govt-Job", " private ", "self employed"]
    columns["hypertension"] = [" 1", "0", "1 ", "0"]
    batch = pa.RecordBatch.from_pydict(columns)
    assert check_batch(batch).accepted.all()
    assert_agrees_with_the_reference(batch)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("age", 17.99, "under 18"),
        ("age", None, "is empty"),
        ("age", "forty", "'forty' is not a number"),
        ("bmi", 9.99, "greater than or equal to 10"),
        ("avg_glucose_level", float("inf"), "finite"),
        ("gender", "Martian", "gender"),
        ("hypertension", 2, "hypertension"),
    ],
)
def test_a_refused_row_gets_the_reference_message(field: str, value: Any, words: str) -> None:
    columns = _clean(3)
    good = str(EXAMPLE[field]) if isinstance(value, str) else EXAMPLE[field]
    columns[field] = [good, value, good]
    batch = pa.RecordBatch.from_pydict(columns)
    positions, _, problems = validate(batch)
    assert positions == [0, 2]
    assert words in problems[1] and problems[1].startswith(field)
    assert_agrees_with_the_reference(batch)


def test_a_trusted_patient_equals_a_validated_one() -> None:
    validated = Patient.model_validate(EXAMPLE)
    trusted = trusted_patient(dict(validated.__dict__))
    assert trusted == validated
    assert trusted.model_dump() == validated.model_dump()
    assert trusted.model_fields_set == validated.model_fields_set
