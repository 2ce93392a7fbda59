"""Reading a provider's cohort: as strict as the data set, every problem with line, column, id."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from stroke_risk.core.patient_tables import DataError, parse_patients, read_table
from stroke_risk.training.cohort import load_cohort, write_cohort
from stroke_risk.training.simulation import simulate_cohort


@pytest.fixture(scope="module")
def cohort_frame() -> pd.DataFrame:
    return simulate_cohort(200, seed=3)


def written(frame: pd.DataFrame, tmp_path: Path, name: str = "cohort.csv") -> Path:
    return write_cohort(frame, tmp_path / name)


def refusal(frame: pd.DataFrame, tmp_path: Path, name: str = "cohort.csv") -> str:
    with pytest.raises(DataError) as caught:
        load_cohort(written(frame, tmp_path, name))
    return str(caught.value)


@pytest.mark.parametrize("name", ["cohort.csv", "cohort.parquet"])
def test_a_negative_followup_is_refused_naming_line_column_and_id(cohort_frame, tmp_path, name):
    frame = cohort_frame.copy()
    frame.loc[4, "followup_years"] = -1.5
    message = refusal(frame, tmp_path, name)
    assert f"line 6 (id {frame.loc[4, 'id']}), column 'followup_years': '-1.5' must be" in message


@pytest.mark.parametrize("name", ["cohort.csv", "cohort.parquet"])
def test_a_stroke_that_is_not_0_or_1_is_refused_naming_line_column_and_id(
    cohort_frame, tmp_path, name
):
    frame = cohort_frame.astype({"stroke": object})
    frame.loc[9, "stroke"] = 2
    message = refusal(frame, tmp_path, name)
    assert f"line 11 (id {frame.loc[9, 'id']}), column 'stroke': '2' is not 0 or 1" in message


@pytest.mark.parametrize("column", ["followup_years", "stroke", "avg_glucose_level"])
def test_a_missing_column_is_refused_naming_it(cohort_frame, tmp_path, column):
    message = refusal(cohort_frame.drop(columns=[column]), tmp_path)
    assert f"missing column(s): {column}." in message


def test_a_row_ending_in_both_a_stroke_and_a_death_is_refused(cohort_frame, tmp_path):
    frame = cohort_frame.copy()
    frame.loc[0, ["stroke", "death"]] = 1
    assert "line 2 (id P0000001), column 'death': a follow-up ends with its first event" in (
        refusal(frame, tmp_path)
    )


def test_a_field_breaking_the_schema_is_refused_in_the_data_sets_own_words(cohort_frame, tmp_path):
    """The same rule and words as the data set's reader, for a glucose read in mmol/L."""
    frame = cohort_frame.copy()
    frame.loc[2, "avg_glucose_level"] = 5.4
    frame.loc[3, "smoking_status"] = "sometimes"
    path = written(frame, tmp_path)
    expected = [str(e) for e in parse_patients(read_table(path), require_target=True).errors]
    assert len(expected) == 2
    message = refusal(frame, tmp_path)
    for line in expected:
        assert line in message


def test_every_problem_is_listed_up_to_ten_then_counted(cohort_frame, tmp_path):
    frame = cohort_frame.copy()
    frame.loc[:14, "followup_years"] = 0
    message = refusal(frame, tmp_path)
    assert message.count("column 'followup_years'") == 10
    assert "... and 5 more" in message


def test_csv_and_parquet_read_as_the_same_cohort(cohort_frame, tmp_path):
    from_csv = load_cohort(written(cohort_frame, tmp_path, "c.csv")).frame
    from_parquet = load_cohort(written(cohort_frame, tmp_path, "c.parquet")).frame
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert from_csv["bmi"].isna().sum() == cohort_frame["bmi"].isna().sum()


def test_a_cohort_records_its_fingerprint_size_and_dates(cohort_frame, tmp_path):
    cohort = load_cohort(written(cohort_frame, tmp_path))
    described = cohort.describe()
    assert described["patients"] == len(cohort_frame)
    assert described["strokes"] == int(cohort_frame["stroke"].sum())
    assert described["first_index_date"] == cohort_frame["index_date"].min()
    assert described["last_index_date"] == cohort_frame["index_date"].max()
    assert len(described["sha256"]) == 64
    assert cohort.group_columns == ("practice_id",)


def test_a_cohort_without_deaths_reads_every_end_as_censoring(cohort_frame, tmp_path):
    cohort = load_cohort(written(cohort_frame.drop(columns=["death"]), tmp_path))
    assert not cohort.has_death
    assert cohort.frame["death"].sum() == 0
