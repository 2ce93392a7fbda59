"""The FHIR -> patient mapping, rule by rule, on published R4 examples and small resources.

Every rule of the mapping (stroke_risk/fhir/mapping.py and the patient, observations and
conditions modules it puts together; docs/ehr/fhir-mapping.md) has a case
here; the clock is injected so ages and the 12-month windows are fixed.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from stroke_risk.fhir.mapping import (
    FhirInputError,
    map_bundle,
    parse_resource,
    plain,
    resources_of_bundle,
)
from tests.fhir.builders import (
    ICD10CM,
    US_CORE_LAB_EXTRAS,
    about,
    bundle,
    coded_observation,
    condition,
    example,
    field_observation,
    observation,
    patient,
)

TODAY = dt.date(2026, 11, 15)


def mapped_from(*resources):
    return map_bundle(bundle(*resources), TODAY)


# --- Patient ----------------------------------------------------------------------------


@pytest.mark.parametrize(("today", "age"), [("2026-11-16", 81.0), ("2026-11-17", 82.0)])
def test_age_is_completed_years_on_the_day_of_the_request(today: str, age: float) -> None:
    mapped = map_bundle(
        bundle(example("hl7-r4/patient-example-f001-pieter.json")), dt.date.fromisoformat(today)
    )
    assert mapped.values["age"] == age


def test_published_patient_maps_sex_and_marital_status_with_their_source() -> None:
    mapped = mapped_from(example("hl7-r4/patient-example-f001-pieter.json"))
    assert mapped.values["gender"] == "Male"
    assert mapped.values["ever_married"] == "Yes"
    sources = {s.field: s for s in mapped.sources}
    assert sources["age"].resource == "Patient/f001"
    assert sources["age"].date == "1944-11-17"


def test_marital_status_in_v3_is_found_beside_a_snomed_coding() -> None:
    mapped = mapped_from(example("hl7-r4/patient-example-f201-roel.json"))
    assert mapped.values["ever_married"] == "Yes"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("M", "Yes"),
        ("D", "Yes"),
        ("W", "Yes"),
        ("C", "Yes"),
        ("T", "Yes"),
        ("S", "No"),
        ("U", None),
        ("UNK", None),
        (None, None),
    ],
)
def test_marital_status_codes(code: str | None, expected: str | None) -> None:
    mapped = mapped_from(patient(marital=code))
    assert mapped.values.get("ever_married") == expected
    assert ("ever_married" in mapped.unrecorded) == (expected is None)


@pytest.mark.parametrize(
    ("gender", "expected"), [("female", "Female"), ("male", "Male"), ("other", "Other")]
)
def test_administrative_gender_maps_to_the_data_sets_sex(gender: str, expected: str) -> None:
    assert mapped_from(patient(gender=gender)).values["gender"] == expected


@pytest.mark.parametrize("gender", ["unknown", None])
def test_unknown_sex_is_not_enough_data_never_a_default(gender: str | None) -> None:
    mapped = mapped_from(patient(gender=gender))
    assert "gender" not in mapped.values
    assert "gender" in mapped.missing


def test_missing_birth_date_is_not_enough_data() -> None:
    mapped = mapped_from(patient(birth=None))
    assert "age" not in mapped.values
    assert "age" in mapped.missing


def test_a_deceased_patient_gets_no_estimate() -> None:
    dead = {**patient(), "deceasedDateTime": "2026-01-02"}
    assert "deceased on 2026-01-02" in mapped_from(dead).not_applicable


def test_a_living_published_patient_is_applicable() -> None:
    assert mapped_from(example("hl7-r4/patient-example.json")).not_applicable is None


# --- Conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("59621000", "http://snomed.info/sct"),
        ("I10", ICD10CM),
        ("I11.9", ICD10CM),
        ("I15.0", ICD10CM),
    ],
)
def test_hypertension_from_snomed_or_icd10_codes(code: str, system: str) -> None:
    mapped = mapped_from(patient(), condition(code, system))
    assert mapped.values["hypertension"] == 1
    assert mapped.values["heart_disease"] == 0


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("22298006", "http://snomed.info/sct"),
        ("49436004", "http://snomed.info/sct"),
        ("I48.91", ICD10CM),
        ("I50.9", ICD10CM),
        ("I25.10", ICD10CM),
    ],
)
def test_heart_disease_from_ischaemia_infarction_failure_or_fibrillation(
    code: str, system: str
) -> None:
    assert mapped_from(patient(), condition(code, system)).values["heart_disease"] == 1


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
def test_refuted_or_mistaken_conditions_are_ignored(verification: str) -> None:
    mapped = mapped_from(patient(), condition("I10", ICD10CM, verification=verification))
    assert mapped.values["hypertension"] == 0


def test_a_resolved_condition_still_counts_as_history() -> None:
    resolved = {**condition("I48.0", ICD10CM), "clinicalStatus": {"coding": [{"code": "resolved"}]}}
    assert mapped_from(patient(), resolved).values["heart_disease"] == 1


def test_a_published_heart_valve_disorder_is_not_on_the_heart_disease_list() -> None:
    person = patient()
    mapped = mapped_from(
        person,
        about(person, example("hl7-r4/condition-example-f001-heart.json")),
        about(person, example("hl7-r4/condition-example2.json")),
    )
    assert mapped.values["heart_disease"] == 0


def test_a_recorded_stroke_means_the_estimate_does_not_apply() -> None:
    person = patient()
    mapped = mapped_from(person, about(person, example("hl7-r4/condition-example-stroke.json")))
    assert "stroke or TIA recorded on 2010-07-18" in mapped.not_applicable
    assert "Condition/stroke" in mapped.not_applicable


@pytest.mark.parametrize("code", ["G45.9", "I69.30", "I63.9"])
def test_tia_and_stroke_sequelae_in_icd10_also_stop_the_estimate(code: str) -> None:
    assert mapped_from(patient(), condition(code, ICD10CM)).not_applicable is not None


# --- Glucose ---------------------------------------------------------------------------


def test_published_glucose_in_mmol_per_litre_is_converted_and_flagged_as_old() -> None:
    person = patient()
    mapped = mapped_from(
        person, about(person, example("hl7-r4/observation-example-f001-glucose.json"))
    )
    assert mapped.values["avg_glucose_level"] == pytest.approx(6.3 * 18.016, abs=0.01)
    source = next(s for s in mapped.sources if s.field == "avg_glucose_level")
    assert source.resource == "Observation/f001"
    assert "older than 12 months" in source.note
    assert any("glucose is old" in note for note in mapped.notes)


def test_glucose_is_the_mean_of_the_last_12_months_only() -> None:
    mapped = mapped_from(
        patient(),
        observation("2345-7", 100, "mg/dL", "2026-06-01"),
        observation("15074-8", 6.0, "mmol/L", "2026-09-01"),
        observation("2339-0", 300, "mg/dL", "2024-01-01"),
    )
    assert mapped.values["avg_glucose_level"] == pytest.approx((100 + 6.0 * 18.016) / 2, abs=0.01)
    assert len(mapped.basis) == 3  # the patient and both recent values, not the old one
    (line,) = [s for s in mapped.sources if s.field == "avg_glucose_level"]
    assert "mean of 2 values" in line.note and all(ref in line.note for ref in mapped.basis[1:])


def test_glucose_in_an_unknown_unit_is_refused_not_guessed() -> None:
    mapped = mapped_from(patient(), observation("2345-7", 5.5, "mmol/dL", "2026-09-01"))
    assert "avg_glucose_level" not in mapped.values
    assert any("mmol/dL" in note for note in mapped.notes)
    assert "avg_glucose_level" in mapped.missing


def test_entered_in_error_glucose_is_ignored() -> None:
    wrong = observation("2345-7", 400, "mg/dL", "2026-09-01", status="entered-in-error")
    mapped = mapped_from(patient(), wrong, observation("2345-7", 90, "mg/dL", "2026-08-01"))
    assert mapped.values["avg_glucose_level"] == 90


# --- BMI -------------------------------------------------------------------------------


def test_published_bmi_observation_is_used_as_is() -> None:
    person = patient()
    mapped = mapped_from(person, about(person, example("hl7-r4/observation-example-bmi.json")))
    assert mapped.values["bmi"] == 16.2
    assert any("BMI is old" in note for note in mapped.notes)


def test_published_weight_and_height_years_apart_give_no_bmi() -> None:
    person = patient()
    mapped = mapped_from(
        person,
        about(person, example("hl7-r4/observation-example.json")),
        about(person, example("hl7-r4/observation-example-body-height.json")),
    )
    assert mapped.values["bmi"] is None


def test_published_weight_in_pounds_with_a_height_in_the_same_year_gives_bmi() -> None:
    person = patient()
    mapped = mapped_from(
        person,
        about(person, example("hl7-r4/observation-example.json")),  # 185 [lb_av], 2016-03-28
        observation("8302-2", 180, "cm", "2016-01-10"),
    )
    assert mapped.values["bmi"] == round(185 * 0.45359237 / 1.8**2, 1)


@pytest.mark.parametrize(
    ("weight", "weight_unit", "height", "height_unit"),
    [(70, "kg", 1.75, "m"), (70000, "g", 175, "cm"), (154.32, "[lb_av]", 68.9, "[in_i]")],
)
def test_bmi_from_weight_and_height_in_every_accepted_unit(
    weight, weight_unit, height, height_unit
) -> None:
    mapped = mapped_from(
        patient(),
        observation("29463-7", weight, weight_unit, "2026-05-01"),
        observation("8302-2", height, height_unit, "2025-11-01"),
    )
    assert mapped.values["bmi"] == pytest.approx(22.9, abs=0.1)


def test_weight_in_stones_is_refused() -> None:
    mapped = mapped_from(
        patient(),
        observation("29463-7", 11, "[stone_av]", "2026-05-01"),
        observation("8302-2", 175, "cm", "2026-05-01"),
    )
    assert mapped.values["bmi"] is None
    assert any(plain("[stone_av]") in note for note in mapped.notes)  # escaped for markdown


# --- Smoking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("266919005", "never smoked"),
        ("8517006", "formerly smoked"),
        ("77176002", "smokes"),
        ("449868002", "smokes"),
        ("428041000124106", "smokes"),
        ("266927001", "Unknown"),
        ("123456", "Unknown"),
    ],
)
def test_smoking_status_codes(code: str, expected: str) -> None:
    mapped = mapped_from(patient(), coded_observation("72166-2", code, "2026-01-01"))
    assert mapped.values["smoking_status"] == expected


def test_no_smoking_record_is_the_data_sets_unknown() -> None:
    assert mapped_from(patient()).values["smoking_status"] == "Unknown"


# --- Non-clinical fields ---------------------------------------------------------------


def test_work_type_and_residence_come_from_the_documented_observation() -> None:
    mapped = mapped_from(
        patient(),
        field_observation("work_type", "Govt_job"),
        field_observation("residence_type", "Rural"),
    )
    assert mapped.values["work_type"] == "Govt_job"
    assert mapped.values["residence_type"] == "Rural"
    assert mapped.unrecorded == []


def test_unrecorded_non_clinical_fields_are_listed_for_a_range_never_defaulted() -> None:
    mapped = mapped_from(patient(marital=None))
    assert mapped.unrecorded == ["ever_married", "work_type", "residence_type"]
    assert not {"ever_married", "work_type", "residence_type"} & set(mapped.values)


# --- A whole patient -------------------------------------------------------------------


def test_synthea_style_bundle_maps_every_field_with_its_source() -> None:
    mapped = map_bundle(example("synthea-style-bundle.json"), TODAY)
    values = mapped.values
    assert values["gender"] == "Female" and values["age"] == 68.0
    assert values["ever_married"] == "Yes"  # widowed
    assert values["hypertension"] == 1 and values["heart_disease"] == 0
    assert values["avg_glucose_level"] == pytest.approx((97.3 + 86.5) / 2, abs=0.01)
    assert values["bmi"] == round(79.8 / 1.624**2, 1)
    assert values["smoking_status"] == "formerly smoked"  # the latest of two
    assert mapped.missing == {} and mapped.not_applicable is None
    for name in ("age", "hypertension", "avg_glucose_level", "bmi", "smoking_status"):
        assert any(s.field == name and s.resource for s in mapped.sources), name
    assert all(ref.split("/")[0] in ("Patient", "Observation", "Condition") for ref in mapped.basis)


# --- Refusals ------------------------------------------------------------------------------


def test_a_bundle_without_a_patient_is_refused_with_422() -> None:
    with pytest.raises(FhirInputError) as refused:
        mapped_from(observation("2345-7", 90, "mg/dL", "2026-01-01"))
    assert refused.value.status == 422 and "Patient" in refused.value.message


def test_an_invalid_resource_is_refused_naming_the_entry_and_element() -> None:
    broken = observation("2345-7", 90, "mg/dL", "2026-01-01")
    broken["valueQuantity"]["value"] = "ninety"
    with pytest.raises(FhirInputError) as refused:
        mapped_from(patient(), broken)
    assert refused.value.location == "Bundle.entry[1].resource (Observation).valueQuantity.value"


@pytest.mark.parametrize(
    "body", [{"resourceType": "Patient"}, [], {"resourceType": "Bundle", "type": "history"}]
)
def test_anything_but_a_collection_bundle_is_refused(body) -> None:
    with pytest.raises(FhirInputError):
        map_bundle(body, TODAY)


def test_resources_of_other_types_are_ignored() -> None:
    mapped = mapped_from(patient(), {"resourceType": "Encounter", "id": "e1", "status": "finished"})
    assert mapped.patient_reference.startswith("Patient/")


def test_observations_no_rule_reads_are_skipped_even_when_invalid() -> None:
    heart_rate = observation("8867-4", 72, "/min", "2026-09-01")
    heart_rate["valueQuantity"]["value"] = "not a number"  # would be refused if validated
    mapped = mapped_from(patient(), heart_rate, observation("2345-7", 95, "mg/dL", "2026-09-01"))
    assert mapped.values["avg_glucose_level"] == 95
    assert not any(ref.endswith(heart_rate["id"]) for ref in mapped.basis)


def test_a_blank_bmi_is_described_as_not_recorded() -> None:
    (source,) = [s for s in mapped_from(patient()).sources if s.field == "bmi"]
    assert source.describe("BMI").startswith("BMI not recorded")


def test_conditions_on_no_list_are_skipped_even_when_invalid() -> None:
    asthma = condition("195967001")
    asthma["onsetDateTime"] = "last spring"  # would be refused if validated
    mapped = mapped_from(patient(), asthma, condition("I10", ICD10CM))
    assert mapped.values["hypertension"] == 1


def test_a_transaction_bundle_as_synthea_writes_it_is_read() -> None:
    transaction = {**bundle(patient()), "type": "transaction"}
    assert mapped_from_bundle(transaction).values["gender"] == "Female"


def mapped_from_bundle(body):
    return map_bundle(body, TODAY)


def test_a_synthea_generated_patient_maps_and_its_other_conditions_count_for_nothing() -> None:
    mapped = map_bundle(example("synthea-excerpt.json"), TODAY)  # a transaction bundle
    assert mapped.patient_reference == "Patient/d5582579-7193-4866-5560-a01e723b6552"
    assert (mapped.values["gender"], mapped.values["age"]) == ("Male", 76.0)
    assert mapped.values["ever_married"] == "Yes"
    assert (
        mapped.values["hypertension"] == mapped.values["heart_disease"] == 0
    )  # prediabetes, anaemia
    assert "avg_glucose_level" in mapped.missing  # this excerpt has no glucose


def test_an_observation_with_everything_an_ehr_adds_maps_as_a_minimal_one() -> None:
    minimal = observation("2345-7", 95, "mg/dL", "2026-09-01")
    person = patient()
    rich = about(person, {**minimal, **US_CORE_LAB_EXTRAS})
    assert mapped_from(person, rich).sources == mapped_from(person, minimal).sources


def test_elements_no_rule_reads_are_not_validated() -> None:
    """Like Observations no rule reads: an unrelated element does not refuse the chart."""
    person = patient()
    glucose = about(
        person, {**observation("2345-7", 95, "mg/dL", "2026-09-01"), **US_CORE_LAB_EXTRAS}
    )
    glucose["interpretation"] = "high"  # should be a list of CodeableConcepts
    glucose["performer"] = [{"reference": 42}]
    assert mapped_from(person, glucose).values["avg_glucose_level"] == 95


def test_issued_is_read_and_validated_only_without_an_effective_date() -> None:
    """observation_date reads ``issued`` only when effective[x] gives no date: beside an
    effective date or instant it is set aside like any element no rule reads."""
    person = patient()
    dated = about(person, observation("2345-7", 95, "mg/dL", "2026-09-01", issued="not a time"))
    assert mapped_from(person, dated).values["avg_glucose_level"] == 95
    undated = about(person, observation("2345-7", 95, "mg/dL", "2026-09-01"))
    del undated["effectiveDateTime"]
    mapped = mapped_from(person, {**undated, "issued": "2026-10-02T08:00:00Z"})
    (source,) = [s for s in mapped.sources if s.field == "avg_glucose_level"]
    assert source.date == "2026-10-02"
    with pytest.raises(FhirInputError) as refused:
        mapped_from(person, {**undated, "issued": "not a time"})
    assert refused.value.location.endswith("(Observation).issued")
    # A period with no dates gives observation_date nothing, so issued is still read.
    period = {**undated, "effectivePeriod": {}, "issued": "2026-10-02T08:00:00Z"}
    (source,) = [s for s in mapped_from(person, period).sources if s.field == "avg_glucose_level"]
    assert source.date == "2026-10-02"


@pytest.mark.parametrize(
    "when", ["2026", "2026-09", "2026-09-01", "2026-09-01T10:00:00Z", "2016-12-31T23:59:60Z"]
)
def test_every_valid_effective_date_time_gives_a_date(when: str) -> None:
    """What makes setting ``issued`` aside safe: a valid effectiveDateTime always dates
    the Observation."""
    glucose = observation("2345-7", 95, "mg/dL", when)
    (source,) = [
        s for s in mapped_from(patient(), glucose).sources if s.field == "avg_glucose_level"
    ]
    assert source.date is not None and source.date[:4] in ("2026", "2016")


def test_two_values_still_make_an_observation_invalid() -> None:
    glucose = {**observation("2345-7", 95, "mg/dL", "2026-09-01"), "valueBoolean": True}
    with pytest.raises(FhirInputError) as refused:
        mapped_from(patient(), glucose)
    assert "Observation" in refused.value.location


# --- values FHIR says must not be read as they stand ------------------------------------


def _glucose(**extra):
    return observation("2345-7", 600, "mg/dL", "2026-09-01", **extra)


@pytest.mark.parametrize(
    ("glucose", "said"),
    [
        (
            {**_glucose(), "valueQuantity": {**_glucose()["valueQuantity"], "comparator": ">"}},
            "not a measured value",
        ),
        (_glucose(dataAbsentReason={"text": "instrument failure"}), "dataAbsentReason"),
        (
            _glucose(
                modifierExtension=[{"url": "http://example.org/not-fasting", "valueBoolean": True}]
            ),
            "modifier extension",
        ),
        (observation("2345-7", 600, "mg/dL", "2099-01-01"), "in the future"),
    ],
    ids=["comparator", "dataAbsentReason", "modifierExtension", "future date"],
)
def test_a_value_fhir_marks_as_not_what_it_seems_is_never_read(glucose, said: str) -> None:
    mapped = mapped_from(patient(), glucose, observation("2345-7", 90, "mg/dL", "2026-08-01"))
    assert mapped.values["avg_glucose_level"] == 90
    assert any(said in note and glucose["id"] in note for note in mapped.notes)


def test_another_patients_observation_is_ignored_and_named() -> None:
    person = patient()
    theirs = {
        **observation("2345-7", 400, "mg/dL", "2026-09-01"),
        "subject": {"reference": "Patient/OTHER-99"},
    }
    mapped = mapped_from(person, theirs, observation("2345-7", 90, "mg/dL", "2026-08-01"))
    assert mapped.values["avg_glucose_level"] == 90
    assert any(theirs["id"] in note and "another patient" in note for note in mapped.notes)


@pytest.mark.parametrize(
    "reference",
    ["Patient/{id}", "https://ehr.example.org/fhir/Patient/{id}", "Patient/{id}/_history/3"],
)
def test_a_subject_naming_the_patient_in_any_form_is_read(reference: str) -> None:
    person = patient()
    glucose = {
        **observation("2345-7", 95, "mg/dL", "2026-09-01"),
        "subject": {"reference": reference.format(id=person["id"])},
    }
    assert mapped_from(person, glucose).values["avg_glucose_level"] == 95


def test_another_patients_condition_is_not_this_patients_diagnosis() -> None:
    theirs = {**condition("I10", ICD10CM), "subject": {"reference": "Patient/OTHER-99"}}
    assert mapped_from(patient(), theirs).values["hypertension"] == 0


def test_a_patient_without_an_id_is_never_referred_to_as_a_bare_patient() -> None:
    person = {k: v for k, v in patient().items() if k != "id"}
    mapped = map_bundle(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": "urn:uuid:0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60", "resource": person},
                {
                    "resource": {
                        **observation("2345-7", 95, "mg/dL", "2026-09-01"),
                        "subject": {"reference": "urn:uuid:0b6f9a1e-2c57-4a6b-9e7f-3c1d2b4a5e60"},
                    }
                },
            ],
        },
        TODAY,
    )
    assert mapped.patient_reference is None and "Patient" not in mapped.basis
    assert mapped.values["avg_glucose_level"] == 95


def nested_extension(depth: int) -> list:
    extension = [{"url": "http://example.org/leaf", "valueString": "x"}]
    for _ in range(depth):
        extension = [{"url": "http://example.org/nested", "extension": extension}]
    return extension


@pytest.mark.parametrize("element", ["extension", "modifierExtension"])
def test_a_resource_nested_130_deep_is_refused_quickly_not_a_recursion_error(element) -> None:
    person = patient()
    if element == "extension":
        resources = [{**person, "extension": nested_extension(130)}]
    else:
        resources = [person, _glucose(modifierExtension=nested_extension(130))]
    mapped_from(patient(), _glucose())  # the model classes are built on first use
    started = time.monotonic()
    with pytest.raises(FhirInputError) as refused:
        mapped_from(*resources)
    assert "nested more than" in refused.value.message
    assert time.monotonic() - started < 0.2


# --- Repeated elements validated once per bundle -------------------------------------


def test_observations_sharing_a_code_and_subject_parse_as_they_do_one_by_one() -> None:
    """A bundle validates each distinct code and subject once and hands the models on; the
    resources are those each Observation gives validated on its own."""
    person = patient()
    readings = [
        about(
            person, {**observation("2345-7", 90.0 + k, "mg/dL", "2026-10-01"), **US_CORE_LAB_EXTRAS}
        )
        for k in range(5)
    ]
    shared = resources_of_bundle(bundle(person, *readings))
    alone = [parse_resource(entry["resource"]) for entry in bundle(person, *readings)["entry"]]
    assert [r.model_dump() for r in shared] == [r.model_dump() for r in alone if r is not None]
    codes = [r.code for r in shared if r.get_resource_type() == "Observation"]
    assert all(code is codes[0] for code in codes)  # one validated model, handed on


@pytest.mark.parametrize("which", [0, 1])
def test_an_invalid_repeated_code_is_refused_in_the_same_words_as_alone(which: int) -> None:
    """A code that fails validation is left to the Observation's own validation: the same
    message and place, for the first Observation holding it and for a later one."""
    person = patient()
    bad_code = {
        "coding": [{"system": "http://loinc.org", "code": "2345-7", "userSelected": "often"}]
    }
    good = observation("2345-7", 99.0, "mg/dL", "2026-10-01")
    readings = [about(person, good), about(person, good)]
    readings[which] = {**readings[which], "id": "bad", "code": bad_code}
    with pytest.raises(FhirInputError) as shared:
        resources_of_bundle(bundle(person, *readings))
    with pytest.raises(FhirInputError) as alone:
        parse_resource(readings[which], which + 1)
    assert (str(shared.value), shared.value.location) == (str(alone.value), alone.value.location)
