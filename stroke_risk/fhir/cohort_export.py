"""A cohort file from a FHIR Bulk Data export, through the service's own FHIR mapping.

For each Patient in the export's NDJSON files (``Patient``, ``Observation``,
``Condition``): the ten fields as of the **index date**, mapped by exactly the rules
that score a patient (:func:`stroke_risk.fhir.mapping.map_resources`, given only the
resources dated on or before the index date, with the index date as "today"); then the
outcome after it: the first stroke Condition (the mapping's own stroke code list) whose
onset is after the index date ends follow-up with ``stroke = 1``; otherwise follow-up
ends at the death date (``death = 1``) or at the patient's last dated record.

Patients are left out, each with the reason counted, when the record cannot give an
honest row: a stroke on or before the index date (not a first stroke), a missing clinical
field (age, sex, glucose), a work type, residence or marital status not recorded (the
model needs them and nothing here guesses them: add them as the mapping's non-clinical
Observations), a stroke Condition or death without a date, or no record after the index
date (no follow-up).

``python -m stroke_risk.fhir.cohort_export --input EXPORT_DIR --index-date 2018-01-01
--output cohort.csv`` (``make cohort-from-fhir``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from stroke_risk.core.schema import FEATURES
from stroke_risk.fhir.codes import on_condition_list
from stroke_risk.fhir.conditions import condition_date
from stroke_risk.fhir.mapping import FhirInputError, map_resources, parse_resource
from stroke_risk.fhir.observations import observation_date
from stroke_risk.fhir.provenance import as_date

COHORT_COLUMNS = ("id", *FEATURES, "followup_years", "stroke", "death", "index_date")
_PATIENT_REFERENCE = re.compile(r"^(?:.*/)?Patient/|^urn:uuid:")
DAYS_PER_YEAR = 365.25


def _patient_key(raw: dict[str, Any]) -> str | None:
    if raw.get("resourceType") == "Patient":
        return raw.get("id")
    reference = (raw.get("subject") or {}).get("reference")
    return _PATIENT_REFERENCE.sub("", reference) if isinstance(reference, str) else None


def read_export(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Each patient's raw resources from the export's ``*.ndjson`` files."""
    by_patient: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(directory.glob("*.ndjson")):
        with path.open() as lines:
            for line in lines:
                if line.strip():
                    raw = json.loads(line)
                    key = _patient_key(raw)
                    if key is not None:
                        by_patient[key].append(raw)
    return by_patient


def _date_of(resource: Any) -> dt.date | None:
    kind = resource.get_resource_type()
    if kind == "Observation":
        return observation_date(resource)
    if kind == "Condition":
        return condition_date(resource)
    return None


def cohort_row(
    raw_resources: list[dict[str, Any]], index_date: dt.date
) -> tuple[dict[str, Any] | None, str | None]:
    """One patient's cohort row, or None and the reason they are left out."""
    try:
        resources = [r for r in (parse_resource(raw) for raw in raw_resources) if r is not None]
    except FhirInputError as error:
        return None, f"invalid resource ({error.message})"
    patients = [r for r in resources if r.get_resource_type() == "Patient"]
    if len(patients) != 1:
        return None, "not exactly one Patient resource"
    patient = patients[0]
    death_date = as_date(patient.deceasedDateTime)
    if patient.deceasedBoolean and death_date is None:
        return None, "deceased without a date"
    if death_date is not None and death_date <= index_date:
        return None, "died on or before the index date"
    strokes_after: list[dt.date] = []
    before: list[Any] = []
    last_record: dt.date | None = None
    for resource in resources:
        if resource is patient:
            continue
        when = _date_of(resource)
        is_stroke = resource.get_resource_type() == "Condition" and (
            on_condition_list(resource.code, "stroke") is not None
        )
        if when is None:
            if is_stroke:
                return None, "a stroke Condition without a date"
            before.append(resource)  # undated: read as already on record, as the mapping does
            continue
        if when <= index_date:
            before.append(resource)
        else:
            last_record = max(last_record or when, when)
            if is_stroke:
                strokes_after.append(when)
    # Alive at the index date for the mapping: a later death is the outcome, not a refusal.
    alive = patient.model_copy(update={"deceasedBoolean": None, "deceasedDateTime": None})
    mapped = map_resources([alive, *before], today=index_date)
    if mapped.not_applicable:
        return None, "stroke on record by the index date"
    if mapped.missing:
        return None, f"{sorted(mapped.missing)[0]} not recorded by the index date"
    if mapped.unrecorded:
        return None, f"{mapped.unrecorded[0]} not recorded"
    ends = [(d, "stroke") for d in strokes_after] + (
        [(death_date, "death")] if death_date is not None else []
    )
    if ends:
        end, how = min(ends)
    elif last_record is not None:
        end, how = last_record, "censored"
    else:
        return None, "no record after the index date (no follow-up)"
    row = {name: mapped.values.get(name) for name in FEATURES}
    row.update(
        id=patient.id,
        followup_years=round((end - index_date).days / DAYS_PER_YEAR, 4),
        stroke=int(how == "stroke"),
        death=int(how == "death"),
        index_date=index_date.isoformat(),
    )
    return row, None


def export_to_cohort(directory: Path, index_date: dt.date, output: Path) -> Counter[str]:
    """Write the cohort CSV; return how many patients were written and why others were not."""
    counts: Counter[str] = Counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COHORT_COLUMNS)
        writer.writeheader()
        for _key, raw in sorted(read_export(directory).items()):
            row, reason = cohort_row(raw, index_date)
            if row is None:
                counts[f"left out: {reason}"] += 1
                continue
            writer.writerow({k: "" if row[k] is None else row[k] for k in COHORT_COLUMNS})
            counts["written"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A cohort CSV from a FHIR Bulk Data export.")
    parser.add_argument("--input", type=Path, required=True, help="the export's directory")
    parser.add_argument("--index-date", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    counts = export_to_cohort(args.input, args.index_date, args.output)
    for what, n in sorted(counts.items()):
        print(f"{n:>8,}  {what}")  # noqa: T201 - the command's answer
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
