"""Conditions -> hypertension and heart disease, and a recorded stroke (no estimate).

No Condition on a list means "no such diagnosis" (0), as a GP record is read; refuted and
entered-in-error Conditions, and those with a modifier extension, are not read.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from stroke_risk.fhir.codes import code_lists, codings, on_condition_list
from stroke_risk.fhir.provenance import MappedPatient, Source, as_date, reference_of


def condition_date(condition: Any) -> dt.date | None:
    period = condition.onsetPeriod
    return (
        as_date(condition.onsetDateTime)
        or (as_date(period.start) if period else None)
        or as_date(condition.recordedDate)
    )


def map_conditions(conditions: list[Any], mapped: MappedPatient) -> None:
    ignored = code_lists()["condition_ignored_verification"]
    found: dict[str, tuple[str, Any]] = {}
    for condition in conditions:
        verification = {coding.code for coding in codings(condition.verificationStatus)}
        if verification & set(ignored):
            continue
        if condition.modifierExtension:
            mapped.notes.append(
                f"{reference_of(condition)} ignored: it has a modifier extension this service "
                "does not understand"
            )
            continue
        for list_name in ("stroke", "hypertension", "heart_disease"):
            code = on_condition_list(condition.code, list_name)
            if code is not None and list_name not in found:
                found[list_name] = (code, condition)
    if "stroke" in found:
        code, condition = found["stroke"]
        when = condition_date(condition)
        mapped.not_applicable = (
            f"stroke or TIA recorded{f' on {when}' if when else ''} ({reference_of(condition)}): "
            "the estimate is for patients without a known stroke; see secondary-prevention guidance"
        )
        mapped.sources.append(
            Source("stroke", 1, reference_of(condition), code, str(when) if when else None)
        )
    for name in ("hypertension", "heart_disease"):
        if name in found:
            code, condition = found[name]
            when = condition_date(condition)
            mapped.set(Source(name, 1, reference_of(condition), code, str(when) if when else None))
        else:
            mapped.set(Source(name, 0, None, note="no Condition on the code list"))
