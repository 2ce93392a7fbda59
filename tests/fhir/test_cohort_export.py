"""A cohort from a FHIR Bulk Data export: the fields as of the index date through the
service's own mapping, the first stroke after it, death, censoring at the last record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from stroke_risk.fhir.cohort_export import export_to_cohort
from stroke_risk.training.cohort import load_cohort
from tests.fhir.builders import condition, field_observation, observation, patient

INDEX = dt.date(2018, 1, 1)


def person(pid: str, *, work: bool = True, died: str | None = None, **extra: Any) -> list[dict]:
    """A patient with every field recorded in 2017, and what happens after (``extra``)."""
    resources = [
        {**patient("1950-03-01", "male", "M"), "id": pid},
        observation("2345-7", 110.0, "mg/dL", "2017-06-01"),
        observation("39156-5", 27.5, "kg/m2", "2017-06-01"),
        condition("I10", "http://hl7.org/fhir/sid/icd-10-cm", onset="2010-01-01"),
        field_observation("residence_type", "Urban", "2017-06-01"),
    ]
    if work:
        resources.append(field_observation("work_type", "Private", "2017-06-01"))
    if died:
        resources[0]["deceasedDateTime"] = died
    resources += extra.get("later", [])
    for resource in resources[1:]:
        resource["subject"] = {"reference": f"Patient/{pid}"}
    return resources


@pytest.fixture
def export(tmp_path: Path) -> Path:
    directory = tmp_path / "export"
    directory.mkdir()
    people = [
        person("stroke-after", later=[condition("230690007", onset="2020-07-02")]),
        person("censored", later=[observation("2345-7", 120.0, "mg/dL", "2022-01-01")]),
        person("died", died="2019-01-01", later=[]),
        person("stroke-before", later=[condition("230690007", onset="2016-05-01")]),
        person(
            "no-work-type", work=False, later=[observation("2345-7", 99.0, "mg/dL", "2020-01-01")]
        ),
        person("no-follow-up", later=[]),
    ]
    by_type: dict[str, list[dict]] = {}
    for resources in people:
        for resource in resources:
            by_type.setdefault(resource["resourceType"], []).append(resource)
    for kind, resources in by_type.items():
        (directory / f"{kind}.ndjson").write_text("\n".join(map(json.dumps, resources)) + "\n")
    return directory


def test_an_export_becomes_a_cohort_the_strict_reader_accepts(export, tmp_path):
    output = tmp_path / "cohort.csv"
    counts = export_to_cohort(export, INDEX, output)
    assert counts["written"] == 3
    frame = load_cohort(output).frame.set_index("id")
    stroke, censored, died = (frame.loc[k] for k in ("stroke-after", "censored", "died"))
    assert (stroke["stroke"], stroke["death"]) == (1, 0)
    assert stroke["followup_years"] == pytest.approx(
        (dt.date(2020, 7, 2) - INDEX).days / 365.25, abs=1e-4
    )
    assert (censored["stroke"], censored["death"]) == (0, 0)
    assert censored["followup_years"] == pytest.approx(4.0, abs=0.01)
    assert (died["stroke"], died["death"]) == (0, 1)
    assert stroke["age"] == 67.0  # as of the index date, not today
    assert stroke["hypertension"] == 1
    assert stroke["avg_glucose_level"] == 110.0


def test_patients_without_an_honest_row_are_left_out_with_the_reason(export, tmp_path):
    counts = export_to_cohort(export, INDEX, tmp_path / "cohort.csv")
    assert counts["left out: stroke on record by the index date"] == 1
    assert counts["left out: work_type not recorded"] == 1
    assert counts["left out: no record after the index date (no follow-up)"] == 1
