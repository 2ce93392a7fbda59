"""Observations -> glucose, BMI, smoking status and the non-clinical fields.

Each rule names its code list in ``code_lists.json``. A value FHIR marks as not what it
seems (a comparator, a dataAbsentReason, a modifier extension, a date in the future) is
never read: the card says why (:func:`unusable_because`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from statistics import fmean
from typing import Any, Literal, NamedTuple

from stroke_risk.fhir.codes import code_lists, first_code, system
from stroke_risk.fhir.provenance import MappedPatient, Source, as_date, plain, reference_of

NON_CLINICAL_FIELDS = ("ever_married", "work_type", "residence_type")
# A date a day ahead is still "today" somewhere: the record may be kept in another zone.
FUTURE_TOLERANCE = dt.timedelta(days=1)


def observation_date(observation: Any) -> dt.date | None:
    """When an Observation applies: effective[x] (end of a period), else issued."""
    period = observation.effectivePeriod
    return (
        as_date(observation.effectiveDateTime)
        or as_date(observation.effectiveInstant)
        or (as_date(period.end) or as_date(period.start) if period else None)
        or as_date(observation.issued)
    )


class _Measure(NamedTuple):
    resource: str
    code: str
    date: dt.date | None
    value: float


def _loinc(observation: Any, codes: set[str]) -> str | None:
    return first_code(observation.code, "loinc", codes)


def _quantity(
    observation: Any, units: dict[str, Decimal], what: str, notes: list[str]
) -> float | None:
    """The value in the target unit, by UCUM code; an unknown unit is refused, not guessed.
    ``units``: each allowed unit's factor to the target unit."""
    quantity = observation.valueQuantity
    if quantity is None or quantity.value is None:
        return None
    if quantity.comparator is not None:  # ">600" is not 600: the true value is unknown
        notes.append(
            f"{what} from {reference_of(observation)} ignored: its value is "
            f"'{plain(quantity.comparator)}{quantity.value}', not a measured value"
        )
        return None
    unit = quantity.code if quantity.code else quantity.unit
    if quantity.code and quantity.system not in (None, *system("ucum")):
        unit = None
    if unit not in units:
        given = quantity.code or quantity.unit
        notes.append(
            f"{what} from {reference_of(observation)} ignored: unit '{plain(given)}'"
            f" is not one of {', '.join(units)} (UCUM)"
        )
        return None
    return float(Decimal(quantity.value) * units[unit])


def _usable(observation: Any) -> bool:
    return observation.status not in code_lists()["observation_ignored_status"]


def unusable_because(
    observation: Any, today: dt.date, when: dt.date | None | Literal[False] = False
) -> str | None:
    """Why an Observation's value must not be read, by FHIR's own rules; None if it may.

    - a ``modifierExtension`` changes the meaning of the resource, and this service knows
      none, so it cannot know what the value means;
    - ``dataAbsentReason`` says the value is missing (or not to be trusted) even when one
      is present;
    - a date after today is an error in the record, not a recent measurement.

    ``when``: the Observation's date when the caller has it already.
    """
    if observation.modifierExtension:
        return "it has a modifier extension this service does not understand"
    if observation.dataAbsentReason is not None:
        return "it records a dataAbsentReason"
    if when is False:
        when = observation_date(observation)
    if when is not None and when > today + FUTURE_TOLERANCE:
        return f"it is dated {when}, in the future"
    return None


def _checked(observations: list[Any], what: str, today: dt.date, notes: list[str]) -> list[Any]:
    """The Observations whose values may be read; a note for each one that may not."""
    kept = []
    for observation in observations:
        reason = unusable_because(observation, today)
        if reason is None:
            kept.append(observation)
        else:
            notes.append(f"{what} from {reference_of(observation)} ignored: {reason}")
    return kept


def _measures(
    observations: list[Any],
    codes: list[str],
    units: dict[str, float],
    what: str,
    notes: list[str],
    today: dt.date,
) -> list[_Measure]:
    """The values of the usable Observations coded ``codes``, oldest first. Notes: first
    each Observation that may not be read, then each value that cannot (in that order).

    One pass (each date and unit factor worked out once, and each code once per distinct
    ``code`` element: a bundle's Observations share the model of a repeated code, see
    mapping._validated_once): a chart's 200 glucose readings are read here on every CDS
    Hooks call, and by the BMI rule three times."""
    found = []
    wanted = set(codes)
    factors = {unit: Decimal(str(factor)) for unit, factor in units.items()}
    refused: list[str] = []
    unreadable: list[str] = []
    code_of: dict[int, str | None] = {}  # by the code element's identity, for this call
    for observation in observations:
        concept = id(observation.code)
        if concept in code_of:
            code = code_of[concept]
        else:
            code = code_of[concept] = _loinc(observation, wanted)
        if code is None or not _usable(observation):
            continue
        when = observation_date(observation)
        reason = unusable_because(observation, today, when)
        if reason is not None:
            refused.append(f"{what} from {reference_of(observation)} ignored: {reason}")
            continue
        value = _quantity(observation, factors, what, unreadable)
        if value is not None:
            found.append(_Measure(reference_of(observation), f"loinc|{code}", when, value))
    notes += refused
    notes += unreadable
    return sorted(found, key=lambda m: m.date or dt.date.min)


def map_glucose(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    rule = code_lists()["glucose"]
    measures = _measures(
        observations, rule["loinc"], rule["units_to_mg_per_dl"], "glucose", mapped.notes, today
    )
    if not measures:
        mapped.missing["avg_glucose_level"] = (
            "glucose (no glucose Observation with a usable unit): measure it"
        )
        return
    since = today - dt.timedelta(days=rule["window_days"])
    recent = [m for m in measures if m.date is not None and m.date >= since]
    if recent:
        value = round(fmean(m.value for m in recent), 2)
        note = f"mean of {len(recent)} value{'s' if len(recent) > 1 else ''} in the last 12 months"
        if len(recent) > 1:
            note += ": " + ", ".join(f"{m.value:.1f} ({m.resource}, {m.date})" for m in recent)
        # Each averaged value is in the basis; the reply's line for glucose lists them.
        for m in recent[:-1]:
            mapped.sources.append(
                Source("glucose_value", round(m.value, 2), m.resource, m.code, str(m.date))
            )
        last = recent[-1]
        mapped.set(
            Source("avg_glucose_level", value, last.resource, last.code, str(last.date), note)
        )
    else:
        last = measures[-1]
        note = "latest value, older than 12 months"
        mapped.notes.append(f"glucose is old: {last.date or 'undated'}; consider measuring it")
        mapped.set(
            Source(
                "avg_glucose_level",
                round(last.value, 2),
                last.resource,
                last.code,
                str(last.date),
                note,
            )
        )


def map_bmi(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    rule = code_lists()["bmi"]
    notes = mapped.notes
    bmis = _measures(observations, rule["loinc"], rule["units"], "BMI", notes, today)
    source: Source | None = None
    if bmis:
        last = bmis[-1]
        source = Source("bmi", round(last.value, 1), last.resource, last.code, str(last.date))
    else:
        weights = _measures(
            observations, rule["weight_loinc"], rule["weight_units_to_kg"], "weight", notes, today
        )
        heights = _measures(
            observations, rule["height_loinc"], rule["height_units_to_m"], "height", notes, today
        )
        window = dt.timedelta(days=rule["pair_within_days"])
        for weight in reversed(weights):
            paired = [
                h
                for h in heights
                if h.date and weight.date and abs(h.date - weight.date) <= window and h.value > 0
            ]
            if paired:
                height = min(paired, key=lambda h: abs(h.date - weight.date))
                value = round(weight.value / height.value**2, 1)
                mapped.sources.append(
                    Source(
                        "bmi_height",
                        round(height.value, 3),
                        height.resource,
                        height.code,
                        str(height.date),
                        "height in m",
                    )
                )
                source = Source(
                    "bmi",
                    value,
                    weight.resource,
                    weight.code,
                    str(weight.date),
                    f"weight {weight.value:.1f} kg / (height {height.value:.2f} m from "
                    f"{height.resource}, {height.date}) squared",
                )
                break
    if source is None:
        mapped.set(Source("bmi", None, None, note="no BMI, or weight and height within a year"))
        return
    if source.date and dt.date.fromisoformat(source.date) < today - dt.timedelta(
        days=rule["old_after_days"]
    ):
        notes.append(f"BMI is old: {source.date}")
    mapped.set(source)


def map_smoking(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    rule = code_lists()["smoking"]
    wanted = set(rule["loinc"])
    coded = [o for o in observations if _loinc(o, wanted) and _usable(o)]
    statuses = [
        o for o in _checked(coded, "smoking status", today, mapped.notes) if o.valueCodeableConcept
    ]
    if not statuses:
        mapped.set(Source("smoking_status", "Unknown", None, note="no smoking status recorded"))
        return
    latest = max(statuses, key=lambda o: observation_date(o) or dt.date.min)
    code = first_code(latest.valueCodeableConcept, "snomed", rule["snomed_to_status"])
    when = observation_date(latest)
    if code is None:
        mapped.set(
            Source(
                "smoking_status",
                "Unknown",
                reference_of(latest),
                None,
                str(when) if when else None,
                "code not on the list",
            )
        )
        return
    mapped.set(
        Source(
            "smoking_status",
            rule["snomed_to_status"][code],
            reference_of(latest),
            f"snomed|{code}",
            str(when) if when else None,
        )
    )


def map_non_clinical(observations: list[Any], mapped: MappedPatient, today: dt.date) -> None:
    """work_type and residence_type (and ever_married) from an Observation in our code system."""
    rule = code_lists()["non_clinical"]
    ours = [
        o
        for o in observations
        if any(c.system == rule["system"] and c.code in rule["codes"] for c in o.code.coding or [])
    ]
    usable = _checked(ours, "a non-clinical field", today, mapped.notes)
    for observation in sorted(usable, key=lambda o: observation_date(o) or dt.date.min):
        for coding in observation.code.coding or []:
            if (
                coding.system == rule["system"]
                and coding.code in rule["codes"]
                and _usable(observation)
            ):
                value = observation.valueString or (
                    observation.valueCodeableConcept.coding[0].code
                    if observation.valueCodeableConcept and observation.valueCodeableConcept.coding
                    else None
                )
                if value is not None:
                    when = observation_date(observation)
                    mapped.set(
                        Source(
                            coding.code,
                            value,
                            reference_of(observation),
                            f"{rule['system']}|{coding.code}",
                            str(when) if when else None,
                        )
                    )
    for name in NON_CLINICAL_FIELDS:
        if name not in mapped.values:
            mapped.unrecorded.append(name)
