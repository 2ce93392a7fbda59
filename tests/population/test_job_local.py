"""The whole job in local mode: ranked worklist per practice, rejected rows, summary, and
the service's numbers for every patient (in-process, and once against a real service)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import requests

from stroke_risk.core.patient_tables import load_patients_csv, read_table
from stroke_risk.population.job import JobOptions, run
from tests.population.conftest import BAD_ROWS, MODEL_TAG, PRACTICES, population_table
from tests.population.test_scoring import service_results
from tests.wording import future_risk_claims

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def job_output(spark, stored_model, population_csv: Path, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("scored") / "out"
    run(spark, JobOptions(str(population_csv), str(output), MODEL_TAG, ["practice_id"]))
    return output


def test_output_is_partitioned_by_practice(job_output: Path) -> None:
    folders = sorted(p.name for p in (job_output / "scored").iterdir() if p.is_dir())
    assert folders == [f"practice_id={practice}" for practice in PRACTICES]


def test_every_valid_patient_has_the_services_numbers(job_output, assessor, population_csv):
    scored = pd.read_parquet(job_output / "scored").set_index("id")
    expected = service_results(assessor, pd.read_csv(population_csv, dtype=str))
    assert sorted(scored.index) == sorted(expected)
    for reference, result in expected.items():
        row = scored.loc[reference]
        assert abs(row["probability"] - result.probability) <= 1e-9
        assert row["risk_band"] == result.risk_band
        assert [row["driver_1"], row["driver_2"], row["driver_3"]] == [
            f.factor for f in result.contributing_factors[:3]
        ]


def test_rank_is_highest_risk_first_within_each_practice(job_output: Path) -> None:
    scored = pd.read_parquet(job_output / "scored")
    for _, group in scored.groupby("practice_id", observed=True):
        ordered = group.sort_values("rank")
        assert ordered["rank"].tolist() == list(range(1, len(group) + 1))
        assert ordered["probability"].is_monotonic_decreasing


def test_rejected_rows_carry_their_id_and_the_validation_message(job_output, population_csv):
    rejected = pd.read_parquet(job_output / "rejected").set_index("id")
    parsed = load_patients_csv(population_csv)
    assert len(rejected) == len(parsed.error_lines)
    for reference, (_, words) in BAD_ROWS.items():
        assert words in rejected.loc[reference, "rejection"]


def test_the_summary_says_what_the_worklist_ranks_by(job_output: Path, stored_model) -> None:
    summary = json.loads((job_output / "summary.json").read_text())
    assert summary["outcome"]["kind"] == "history"
    assert (
        "stroke history" in summary["ranked_by"] and "not by a future risk" in summary["ranked_by"]
    )
    assert not future_risk_claims(json.dumps(summary))


def test_summary_csv_names_each_group_by_its_value_in_the_grouping_column(job_output):
    with (job_output / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[0] == "practice_id"
    assert sorted(row["practice_id"] for row in rows) == sorted(PRACTICES)


def test_summary_counts_what_was_written(job_output: Path) -> None:
    scored = pd.read_parquet(job_output / "scored")
    rejected = pd.read_parquet(job_output / "rejected")
    summary = json.loads((job_output / "summary.json").read_text())
    assert summary["patients_scored"] == len(scored)
    assert summary["rows_rejected"] == len(rejected)
    with (job_output / "summary.csv").open() as handle:
        lines = {row["practice_id"]: row for row in csv.DictReader(handle)}
    for practice, group in scored.groupby("practice_id", observed=True):
        line = lines[practice]
        assert int(line["patients"]) == len(group)
        assert float(line["mean_probability"]) == pytest.approx(group["probability"].mean())
        for band in ("low", "moderate", "high"):
            assert int(line[band]) == int((group["risk_band"] == band).sum())
    rejected_by_group = rejected.groupby("practice_id", observed=True).size()
    for practice, count in rejected_by_group.items():
        assert int(lines[practice]["rejected"]) == count


def test_a_table_without_the_needed_columns_fails_naming_them(spark, stored_model, tmp_path):
    source = tmp_path / "thin.csv"
    source.write_text("id,age\n1,70\n")
    with pytest.raises(ValueError, match="missing column.*gender"):
        run(spark, JobOptions(str(source), str(tmp_path / "out"), MODEL_TAG))


def test_the_whole_data_set_equals_the_running_services_scores(
    spark, stored_model, service_url, data_path, tmp_path
) -> None:
    """All 5,110 rows through the job (no grouping), against a real `bentoml serve`."""
    table = population_table(read_table(data_path))
    source = tmp_path / "all.parquet"
    table.to_parquet(source)
    output = tmp_path / "out"
    totals = run(spark, JobOptions(str(source), str(output), MODEL_TAG))
    scored = pd.read_parquet(output / "scored").set_index("id")
    valid = load_patients_csv(_as_csv(table, tmp_path)).valid
    assert totals["patients_scored"] == len(valid) == len(scored)
    patients = [
        {k: (None if pd.isna(v) else v) for k, v in row.items() if k != "id"}
        for row in valid.drop(columns=["stroke"], errors="ignore").to_dict(orient="records")
    ]
    reply = requests.post(f"{service_url}/predict_batch", json={"patients": patients}, timeout=60)
    assert reply.status_code == 200, reply.text[:500]
    for reference, result in zip(valid["id"], reply.json()["results"], strict=True):
        row = scored.loc[reference]
        assert abs(row["probability"] - result["probability"]) <= 1e-9
        assert row["risk_band"] == result["risk_band"]
        assert [row["driver_1"], row["driver_2"], row["driver_3"]] == [
            f["factor"] for f in result["contributing_factors"][:3]
        ]
    assert scored.loc[scored["rank"] == 1, "probability"].item() == scored["probability"].max()


def _as_csv(table: pd.DataFrame, folder: Path) -> Path:
    path = folder / "all.csv"
    table.to_csv(path, index=False)
    return path
