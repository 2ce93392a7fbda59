"""The comparison with peers and the warnings, from a training profile built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.assessment.patient_warnings import PatientWarnings
from stroke_risk.assessment.peers import MIN_PEERS, PeerGroups
from stroke_risk.core.age_bands import AGE_BANDS
from stroke_risk.core.schema import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, categories
from stroke_risk.scoring.profile import RARE_CATEGORY_COUNT, PeerGroup, TrainingProfile
from tests.conftest import EXAMPLE_PATIENT

BAND = "60-69"  # the adult patients below are 65
BMI_FILL = 27.4  # the model's fill for a blank BMI; the hand-built profile's median is 28


def profile(
    patients: dict[str, int] | None = None, counts: dict[str, dict[str, int]] | None = None
) -> TrainingProfile:
    """100 training patients per sex and age band (``patients`` overrides a sex's count in
    BAND), each category seen 500 times (``counts`` overrides a feature's)."""
    patients = patients or {}
    peers = {}
    for _, _, band in AGE_BANDS:
        for sex in categories("gender"):
            n = patients.get(sex, 100) if band == BAND else 100
            peers[TrainingProfile.peer_key(sex, band)] = PeerGroup(
                patients=n, strokes=n // 10, observed_rate=0.1, mean_predicted=0.1
            )
        peers[TrainingProfile.peer_key("all", band)] = PeerGroup(
            patients=900, strokes=45, observed_rate=0.05, mean_predicted=0.05
        )
    category_counts = {name: dict.fromkeys(categories(name), 500) for name in CATEGORICAL_FEATURES}
    category_counts.update(counts or {})
    return TrainingProfile(
        reference={"bmi": 28.0},
        ranges=dict.fromkeys(NUMERIC_FEATURES, (0.0, 300.0)),
        category_counts=category_counts,
        peers=peers,
    )


@pytest.mark.parametrize(
    ("male_patients", "group", "average"),
    [
        (MIN_PEERS - 1, f"all sexes, {BAND}", 0.05),
        (MIN_PEERS, f"Male, {BAND}", 0.1),
        (0, f"all sexes, {BAND}", 0.05),
    ],
)
def test_a_sex_and_age_group_under_min_peers_is_compared_with_both_sexes(
    male_patients, group, average
):
    peers = PeerGroups(profile({"Male": male_patients}))
    one = peers.compare_one("Male", 65.0, 0.2)
    (many,) = peers.compare_many(np.array(["Male"]), np.array([65.0]), np.array([0.2]))
    assert one == many
    assert one["group"] == group
    assert one["average_risk"] == average
    assert one["relative_risk"] == pytest.approx(0.2 / average)


def test_a_group_missing_from_training_is_compared_with_both_sexes():
    built = profile()
    del built.peers[TrainingProfile.peer_key("Other", BAND)]
    assert PeerGroups(built).compare_one("Other", 65.0, 0.1)["group"] == f"all sexes, {BAND}"


def columns_of(patient: dict[str, object]) -> dict[str, np.ndarray]:
    return {
        name: np.array([np.nan if patient[name] is None else patient[name]])
        if name in NUMERIC_FEATURES
        else np.array([patient[name]])
        for name in FEATURES
    }


ADULT = {**EXAMPLE_PATIENT, "age": 65.0, "work_type": "Never_worked"}


@pytest.mark.parametrize("seen", [0, 1, RARE_CATEGORY_COUNT - 1])
def test_a_category_rare_in_training_is_warned_about_naming_its_count(seen):
    counts = {"work_type": {"Private": 3000, "Never_worked": seen}}
    warnings = PatientWarnings(profile(counts=counts), BMI_FILL)
    assert warnings.may_warn(ADULT)
    assert warnings.many(columns_of(ADULT)) == {
        0: [
            f"work_type 'Never_worked' is rare in the training data ({seen} patients): "
            "the estimate rests on the other factors."
        ]
    }


def test_a_category_seen_often_enough_gets_no_warning():
    counts = {"work_type": {"Private": 3000, "Never_worked": RARE_CATEGORY_COUNT}}
    warnings = PatientWarnings(profile(counts=counts), BMI_FILL)
    assert not warnings.may_warn(ADULT)
    assert warnings.many(columns_of(ADULT)) == {}


def test_the_blank_bmi_warning_names_the_value_the_model_filled_in_not_the_profiles():
    """The imputer's median (all development rows) is what the estimate used; the adults'
    median in the profile (the reference patient's BMI) is another number."""
    warnings = PatientWarnings(profile(), BMI_FILL)
    blank = {**EXAMPLE_PATIENT, "age": 65.0, "bmi": None}
    assert warnings.may_warn(blank)
    assert warnings.many(columns_of(blank)) == {
        0: [f"BMI not measured: a typical BMI ({BMI_FILL:g}) was assumed."]
    }


@pytest.mark.parametrize(
    ("changes", "count"),
    [
        ({}, 1),  # ADULT's work type is rare in this profile
        ({"bmi": None}, 2),
        ({"age": 301.0}, 2),
        ({"avg_glucose_level": 301.0, "bmi": None, "work_type": "children"}, 3),
        ({"gender": "Other", "bmi": 350.0}, 3),
        ({"age": 400.0, "avg_glucose_level": 500.0, "bmi": 400.0}, 4),
    ],
)
def test_one_patients_warnings_are_the_batchs_sentences_in_the_same_order(changes, count):
    """The single-patient path writes the warnings in plain Python; they must be the
    batch's, word for word and in order (each kind of warning, and several at once)."""
    counts = {"work_type": {"Private": 3000, "Never_worked": 3}, "gender": {"Other": 1}}
    warnings = PatientWarnings(profile(counts=counts), BMI_FILL)
    patient = {**ADULT, **changes}
    assert warnings.one(patient) == warnings.many(columns_of(patient)).get(0, [])
    assert len(warnings.one(patient)) == count
