"""FHIR Bulk Data input: a Synthea-like $export (NDJSON per resource type) through the job
gives each patient exactly what /fhir/risk-assessment's mapping and assessor give, and a
patient the mapping cannot score is rejected in the mapping's words."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jobs.score_population import parse_arguments
from stroke_risk.core.patient_tables import read_table
from stroke_risk.fhir.estimate import estimate
from stroke_risk.fhir.mapping import map_bundle
from stroke_risk.population.job import FHIR_NDJSON, JobOptions, run
from tests.fhir.builders import ICD10CM, bundle, condition, observation, row_bundle
from tests.population.conftest import MODEL_TAG

pytestmark = pytest.mark.slow

TODAY = dt.date(2026, 11, 30)
PRACTICES = ("Organization/practice-a", "Organization/practice-b")
REFUSED = ("pop-100", "pop-101", "pop-102", "ghost")  # the charts the mapping cannot score


def _chart(row: dict[str, Any], number: int, recorded: bool = True) -> list[dict[str, Any]]:
    """A data-set row as one patient's resources, each Observation and Condition pointing at
    the Patient as an export writes it (Synthea: ``urn:uuid:ID``; others ``Patient/ID``)."""
    resources = [entry["resource"] for entry in row_bundle(row, TODAY)["entry"]]
    if not recorded:  # no work type or residence: the estimate is a range
        resources = [r for r in resources if "valueString" not in r]
    person = resources[0]
    person["id"] = f"pop-{number}"
    person["managingOrganization"] = {"reference": PRACTICES[number % 2]}
    for resource in resources[1:]:
        written = f"urn:uuid:pop-{number}" if number % 3 == 0 else f"Patient/pop-{number}"
        resource["subject"] = {"reference": written}
    return resources


def _write_export(folder: Path, charts: list[list[dict[str, Any]]]) -> Path:
    """One NDJSON file per resource type; Observations split over two files, and one type
    the job does not read, as real exports have."""
    folder.mkdir(parents=True)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in (r for chart in charts for r in chart):
        by_type.setdefault(resource["resourceType"], []).append(resource)
    by_type["Encounter"] = [{"resourceType": "Encounter", "id": "e1", "status": "finished"}]
    observations = by_type.pop("Observation")
    half = len(observations) // 2
    files = {
        **{f"{kind}.ndjson": resources for kind, resources in by_type.items()},
        "Observation.000.ndjson": observations[:half],
        "Observation.001.ndjson": observations[half:],
    }
    for name, resources in files.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in resources))
    return folder


@pytest.fixture(scope="module")
def charts(data_path) -> dict[str, list[dict[str, Any]]]:
    """Twelve adults of the data set (four without work type and residence), and four
    patients the mapping refuses."""
    table = read_table(data_path)
    measured = pd.to_numeric(table["bmi"], errors="coerce").notna()
    adults = table[(pd.to_numeric(table["age"]) >= 30) & measured].head(12)
    adults = adults.to_dict(orient="records")
    found = {f"pop-{n}": _chart(row, n, recorded=n >= 4) for n, row in enumerate(adults)}
    template = adults[0]
    no_glucose = [
        r
        for r in _chart(template, 100)
        if r.get("code", {}).get("coding", [{}])[0].get("code") != "2345-7"
    ]
    stroke = [
        *_chart(template, 101),
        {**condition("I63.9", ICD10CM), "subject": {"reference": "Patient/pop-101"}},
    ]
    child = _chart({**template, "age": "12", "work_type": "children"}, 102)
    orphan = [
        {
            **observation("2345-7", 101.0, "mg/dL", "2026-10-01"),
            "subject": {"reference": "Patient/ghost"},
        }
    ]
    found |= {"pop-100": no_glucose, "pop-101": stroke, "pop-102": child, "ghost": orphan}
    return found


@pytest.fixture(scope="module")
def fhir_output(spark, stored_model, charts, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fhir")
    export = _write_export(folder / "export", list(charts.values()))
    output = folder / "out"
    options = JobOptions(
        str(export), str(output), MODEL_TAG, ["managing_organization"], FHIR_NDJSON, "2026-11-30"
    )
    run(spark, options)
    return output


def test_each_patient_scores_as_the_fhir_route_maps_and_scores_them(
    fhir_output, charts, assessor
) -> None:
    scored = pd.read_parquet(fhir_output / "scored").set_index("id")
    scorable = [key for key in charts if key not in REFUSED]
    assert sorted(scored.index) == sorted(scorable)
    for key in scorable:
        expected = estimate(map_bundle(bundle(*charts[key]), TODAY), assessor)
        assert expected.outcome == "scored"
        row = scored.loc[key]
        assert abs(row["probability"] - expected.result["probability"]) <= 1e-9
        assert row["risk_band"] == expected.result["risk_band"]
        drivers = [f["factor"] for f in expected.result["contributing_factors"][:3]]
        assert [row["driver_1"], row["driver_2"], row["driver_3"]] == drivers
        assert row["probability_range_low"] == pytest.approx(expected.low, abs=1e-12)
        assert row["probability_range_high"] == pytest.approx(expected.high, abs=1e-12)
        assumed = "; ".join(f"{k}={v}" for k, v in expected.assumed.items())
        assert (row["assumed"] if isinstance(row["assumed"], str) else "") == assumed


def test_unrecorded_fields_are_named_and_give_a_range(fhir_output) -> None:
    scored = pd.read_parquet(fhir_output / "scored").set_index("id")
    ranged = scored.loc[[f"pop-{n}" for n in range(4)]]
    assert ranged["assumed"].str.contains("work_type=").all()
    assert (ranged["probability_range_low"] <= ranged["probability"]).all()
    assert (ranged["probability"] <= ranged["probability_range_high"]).all()
    assert scored.loc[[f"pop-{n}" for n in range(4, 12)], "assumed"].isna().all()


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("pop-100", "not enough data: glucose"),
        ("pop-101", "stroke or TIA recorded"),
        ("pop-102", "under 18"),
        ("ghost", "exactly one Patient, found 0"),
    ],
)
def test_patients_the_mapping_cannot_score_are_rejected_in_its_words(
    fhir_output, charts, assessor, key, words
) -> None:
    rejected = pd.read_parquet(fhir_output / "rejected").set_index("id")
    assert words in rejected.loc[key, "rejection"]
    if key != "ghost":  # what the route's own mapping and estimate say
        expected = estimate(map_bundle(bundle(*charts[key]), TODAY), assessor)
        assert rejected.loc[key, "rejection"] == expected.reason


def test_the_worklist_is_partitioned_and_ranked_by_managing_organization(fhir_output) -> None:
    folders = sorted(p.name for p in (fhir_output / "scored").iterdir() if p.is_dir())
    # Partitioned by the organization's id: "Organization/practice-a" -> practice-a
    assert folders == [f"managing_organization={p.split('/')[1]}" for p in PRACTICES]
    scored = pd.read_parquet(fhir_output / "scored")
    for _, group in scored.groupby("managing_organization", observed=True):
        ordered = group.sort_values("rank")
        assert ordered["rank"].tolist() == list(range(1, len(group) + 1))
        assert ordered["probability"].is_monotonic_decreasing
    summary = json.loads((fhir_output / "summary.json").read_text())
    assert summary["patients_scored"] == len(scored) == 12
    assert summary["rows_rejected"] == 4


def test_the_command_line_takes_fhir_ndjson_and_a_date() -> None:
    options = parse_arguments(
        [
            "--input",
            "export/",
            "--output",
            "out/",
            "--input-format",
            "fhir-ndjson",
            "--as-of",
            "2026-11-30",
            "--group-by",
            "managing_organization",
        ]
    )
    assert (options.input_format, options.as_of, options.group_by) == (
        FHIR_NDJSON,
        "2026-11-30",
        ["managing_organization"],
    )


def test_a_grouping_column_fhir_does_not_have_fails_naming_the_choices(
    spark, stored_model, tmp_path
) -> None:
    export = _write_export(tmp_path / "export", [_chart(_ROW, 1)])
    with pytest.raises(ValueError, match="managing_organization"):
        run(
            spark,
            JobOptions(
                str(export),
                str(tmp_path / "out"),
                MODEL_TAG,
                ["practice_id"],
                FHIR_NDJSON,
                "2026-11-30",
            ),
        )


_ROW = {
    "gender": "Female",
    "age": "67",
    "hypertension": "1",
    "heart_disease": "0",
    "ever_married": "Yes",
    "work_type": "Private",
    "residence_type": "Urban",
    "avg_glucose_level": "150.3",
    "bmi": "31.2",
    "smoking_status": "never smoked",
}
