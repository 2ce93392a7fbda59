"""Uploads in the clinic's units: the chosen unit applies to the file unless the file says
its own (a glucose_unit column); a value that fits the other unit is refused naming both;
the sample files parse back to the same patients; the summary counts what was scored."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from stroke_risk.app.batch import (
    UNIT_COLUMN,
    ScoredUpload,
    glucose_in_mg_dl,
    problems_text,
    sample_csv,
    score_patients_csv,
)
from stroke_risk.app.client import StrokeRiskClient
from stroke_risk.app.views import upload_instructions
from stroke_risk.core.patient_tables import RowError, parse_patients, read_table
from stroke_risk.core.units import glucose_to_mg_dl, glucose_unit_problem
from tests.app.conftest import sample_upload
from tests.app.test_app import texts


def in_mmol(upload: pd.DataFrame) -> pd.DataFrame:
    """The same patients with glucose in mmol/L, to one decimal as labs report it."""
    mmol = upload.copy()
    mmol["avg_glucose_level"] = [
        f"{float(value) / 18.016:.1f}" for value in upload["avg_glucose_level"]
    ]
    return mmol


def as_mg_dl_of(mmol: pd.DataFrame) -> pd.DataFrame:
    """mg/dL input holding exactly the values the mmol/L file converts to."""
    mg_dl = mmol.copy()
    mg_dl["avg_glucose_level"] = [
        f"{round(glucose_to_mg_dl(float(value), 'mmol/L'), 2):g}"
        for value in mmol["avg_glucose_level"]
    ]
    return mg_dl


def csv_of(frame: pd.DataFrame) -> io.StringIO:
    return io.StringIO(frame.to_csv(index=False))


def test_glucose_56_read_as_mg_per_dl_is_refused_naming_both_units():
    problem = glucose_unit_problem(5.6, "mg/dL")
    assert problem is not None
    assert "5.6 fits mmol/L, not mg/dL" in problem and "55 to 600" in problem


def test_glucose_150_read_as_mmol_per_l_is_refused_naming_both_units():
    problem = glucose_unit_problem(150.0, "mmol/L")
    assert problem is not None
    assert "150 fits mg/dL, not mmol/L" in problem and "3.1 to 33.3" in problem


def test_glucose_that_fits_its_unit_is_no_problem():
    assert glucose_unit_problem(5.6, "mmol/L") is None
    assert glucose_unit_problem(101.0, "mg/dL") is None


def test_a_mmol_file_read_in_mmol_converts_every_row_to_mg_per_dl(data_path):
    upload = in_mmol(sample_upload(data_path, rows=5))
    converted, errors = glucose_in_mg_dl(read_table(csv_of(upload)), "mmol/L")
    assert errors == []
    expected = [round(float(v) * 18.016, 2) for v in upload["avg_glucose_level"]]
    assert [float(v) for v in converted["avg_glucose_level"]] == pytest.approx(expected)


def test_a_mmol_file_read_as_mg_per_dl_is_refused_row_by_row_naming_both_units(data_path):
    upload = in_mmol(sample_upload(data_path, rows=5))
    _, errors = glucose_in_mg_dl(read_table(csv_of(upload)), "mg/dL")
    assert [error.line for error in errors] == [2, 3, 4, 5, 6]
    assert all(error.column == "avg_glucose_level" for error in errors)
    assert all("fits mmol/L, not mg/dL" in error.message for error in errors)


def test_the_files_own_unit_column_wins_over_the_chosen_unit(data_path):
    upload = in_mmol(sample_upload(data_path, rows=3))
    upload[UNIT_COLUMN] = "mmol/L"
    converted, errors = glucose_in_mg_dl(read_table(csv_of(upload)), "mg/dL")
    assert errors == []
    assert float(converted["avg_glucose_level"].iloc[0]) == pytest.approx(
        float(upload["avg_glucose_level"].iloc[0]) * 18.016, abs=0.01
    )


def test_an_unknown_unit_in_the_file_is_a_row_problem_naming_the_allowed_units(data_path):
    upload = sample_upload(data_path, rows=2)
    upload[UNIT_COLUMN] = ["mg/dL", "mmol"]
    _, errors = glucose_in_mg_dl(read_table(csv_of(upload)), "mg/dL")
    assert [(e.line, e.column) for e in errors] == [(3, UNIT_COLUMN)]
    assert "'mmol' is not a glucose unit: give mg/dL or mmol/L" in errors[0].message


@pytest.mark.parametrize("unit", ["mg/dL", "mmol/L"])
def test_each_sample_file_parses_to_the_same_patients_in_its_own_unit(unit):
    raw = read_table(io.BytesIO(sample_csv(unit)))
    assert set(raw[UNIT_COLUMN]) == {unit}
    other = "mmol/L" if unit == "mg/dL" else "mg/dL"
    converted, errors = glucose_in_mg_dl(raw, other)  # the file's column wins
    assert errors == []
    parsed = parse_patients(converted)
    assert parsed.errors == [] and len(parsed.valid) == len(raw)
    reference = parse_patients(
        glucose_in_mg_dl(read_table(io.BytesIO(sample_csv("mg/dL"))), "mg/dL")[0]
    )
    assert list(parsed.valid["avg_glucose_level"]) == pytest.approx(
        list(reference.valid["avg_glucose_level"]),
        abs=0.05 * 18.016,  # mmol/L to 0.1
    )


def test_the_instructions_name_the_chosen_unit_and_the_unit_column():
    text = upload_instructions("mmol/L")
    assert "Glucose is read in mmol/L" in text and f"`{UNIT_COLUMN}`" in text


def _upload(rows_read: int, scored: int, errors: list[RowError]) -> ScoredUpload:
    results = pd.DataFrame({"line": range(scored)})
    return ScoredUpload(results=results, errors=errors, rows_read=rows_read)


def test_when_no_row_was_scored_the_summary_says_so():
    errors = [RowError(line, "avg_glucose_level", "no") for line in range(2, 7)]
    text = problems_text(_upload(5, 0, errors))
    assert "5 of 5 rows could not be scored" in text
    assert "No row was scored." in text
    assert "other rows were scored" not in text


def test_the_summary_counts_the_rows_scored():
    text = problems_text(_upload(12, 10, [RowError(5, "age", "x"), RowError(8, "age", "y")]))
    assert "2 of 12 rows could not be scored" in text and "10 of 12 were scored." in text


@pytest.mark.slow
def test_a_mmol_upload_with_mmol_chosen_scores_every_row_as_the_mg_per_dl_file(
    service_url, data_path
):
    mmol = in_mmol(sample_upload(data_path, rows=12))
    client = StrokeRiskClient(service_url)
    from_mmol = score_patients_csv(csv_of(mmol), client, glucose_unit="mmol/L")
    from_mg_dl = score_patients_csv(csv_of(as_mg_dl_of(mmol)), client, glucose_unit="mg/dL")
    assert from_mmol.errors == [] and from_mmol.rows_scored == 12
    by_line = from_mg_dl.results.set_index("line")["probability"]
    for line, probability in from_mmol.results.set_index("line")["probability"].items():
        assert probability == by_line[line]


@pytest.mark.slow
def test_the_app_reads_an_upload_in_the_chosen_unit(app, service_url, data_path):
    mmol = in_mmol(sample_upload(data_path, rows=5))
    at = app(service_url)
    at.radio(key="units.glucose").set_value("mmol/L").run()
    at.file_uploader(key="batch.file").set_value(
        ("clinic.csv", mmol.to_csv(index=False).encode(), "text/csv")
    )
    at.run()
    assert not at.exception and not at.error and not at.warning
    assert "Scored 5 patients" in texts(at.success)
    assert "Glucose was read in mmol/L" in texts(at.success)
