"""Where the data stand behind a patient: thin support, beyond the data, band edges and the
ranking caveat, from a training profile and evidence record built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from stroke_risk.assessment.data_support import MIN_EVENTS, DataSupport
from stroke_risk.core.age_bands import AGE_BANDS
from stroke_risk.core.evidence import MIN_EVENTS_TO_JUDGE, AgeBandRanking, ReplyEvidence
from stroke_risk.core.schema import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, categories
from stroke_risk.scoring.profile import RARE_CATEGORY_COUNT, PeerGroup, TrainingProfile
from stroke_risk.validation import subgroups
from tests.conftest import EXAMPLE_PATIENT

THRESHOLDS = (0.05, 0.15)
RANGES = {"age": (18.0, 82.0), "avg_glucose_level": (55.12, 271.74), "bmi": (11.3, 92.0)}
# Strokes per (sex, band): the men aged 18-39 hold fewer than MIN_EVENTS, the rest enough.
FEW = MIN_EVENTS - 1
TYPICAL_60 = {**EXAMPLE_PATIENT, "age": 60.0, "gender": "Female", "work_type": "Private"}


def profile() -> TrainingProfile:
    peers = {}
    for _, _, band in AGE_BANDS[1:]:  # adults only, as training builds it
        for sex in ("Female", "Male"):
            strokes = FEW if (sex, band) == ("Male", "18-39") else 40
            peers[TrainingProfile.peer_key(sex, band)] = PeerGroup(
                patients=400, strokes=strokes, observed_rate=strokes / 400, mean_predicted=0.05
            )
        peers[TrainingProfile.peer_key("all", band)] = PeerGroup(
            patients=800, strokes=80, observed_rate=0.1, mean_predicted=0.05
        )
    counts = {name: dict.fromkeys(categories(name), 500) for name in CATEGORICAL_FEATURES}
    counts["gender"]["Other"] = 1
    counts["work_type"].update({"Never_worked": 5, "children": 0})
    return TrainingProfile(
        reference={"bmi": 29.2}, ranges=RANGES, category_counts=counts, peers=peers
    )


def columns_of(*patients: dict[str, object]) -> dict[str, np.ndarray]:
    return {
        name: np.array(
            [np.nan if p[name] is None else p[name] for p in patients],
            dtype=float if name in NUMERIC_FEATURES else object,
        )
        for name in FEATURES
    }


@pytest.fixture
def support() -> DataSupport:
    return DataSupport(profile(), ReplyEvidence(), THRESHOLDS)


def test_the_threshold_is_the_subgroup_tables_too_few_to_judge():
    assert MIN_EVENTS == MIN_EVENTS_TO_JUDGE == subgroups.MIN_EVENTS_TO_JUDGE


def test_a_typical_60_year_old_has_none_of_the_flags(support):
    assert support.one(TYPICAL_60) == ("adequate", None, False, [], None, None)


@pytest.mark.parametrize(
    ("update", "words"),
    [
        ({"gender": "Male", "age": 25.0}, f"{FEW} strokes among 400 men aged 18-39"),
        ({"gender": "Other"}, "0 strokes among 0 patients of sex Other aged 60-69"),
        ({"work_type": "Never_worked"}, "Work type 'Never_worked' is rare"),
    ],
)
def test_few_strokes_among_similar_patients_or_a_rare_category_is_thin(support, update, words):
    data_support, note, beyond, *_ = support.one({**TYPICAL_60, **update})
    assert data_support == "thin" and not beyond
    assert words.casefold() in note.casefold()


def test_a_category_seen_often_enough_is_not_thin():
    counts_profile = profile()
    counts_profile.category_counts["work_type"]["Never_worked"] = RARE_CATEGORY_COUNT
    support = DataSupport(counts_profile, ReplyEvidence(), THRESHOLDS)
    assert support.one({**TYPICAL_60, "work_type": "Never_worked"})[0] == "adequate"


def test_age_95_with_glucose_400_is_beyond_the_data_naming_fields_and_ranges(support):
    patient = {**TYPICAL_60, "age": 95.0, "avg_glucose_level": 400.0}
    _, _, beyond, fields, note, _ = support.one(patient)
    assert beyond and fields == ["age", "avg_glucose_level"]
    assert note.startswith("Beyond the data, extrapolated:")
    assert "age 95 years (the data cover 18 to 82 years)" in note
    assert "average glucose 400 mg/dL (the data cover 55.1 to 271.7 mg/dL)" in note


def test_a_blank_bmi_is_not_beyond_the_data(support):
    assert support.one({**TYPICAL_60, "bmi": None})[2] is False


def test_many_patients_get_what_each_gets_alone(support):
    patients = [
        TYPICAL_60,
        {**TYPICAL_60, "gender": "Male", "age": 30.0},
        {**TYPICAL_60, "age": 95.0, "avg_glucose_level": 400.0, "bmi": None},
        {**TYPICAL_60, "bmi": 95.0, "work_type": "Never_worked"},
        {**TYPICAL_60, "bmi": None},
    ]
    assert support.many(columns_of(*patients)) == [support.one(p) for p in patients]


@pytest.mark.parametrize(
    ("low", "high", "crosses"),
    [(0.01, 0.049, False), (0.04, 0.06, True), (0.05, 0.1499, False), (0.1, 0.2, True)],
)
def test_an_interval_crossing_a_band_edge_is_flagged(support, low, high, crosses):
    assert support.crosses_band_edge(low, high) is crosses


def ranking(band: str, auc: float, slope: float | None = None) -> AgeBandRanking:
    return AgeBandRanking(
        band=band,
        patients=186,
        strokes=40,
        roc_auc=auc,
        roc_auc_ci=(auc - 0.08, auc + 0.08),
        calibration_slope=slope,
        calibration_slope_ci=None if slope is None else (slope - 0.3, slope + 0.3),
    )


def test_the_ranking_caveat_quotes_the_validation_record_for_the_patients_band():
    evidence = ReplyEvidence(
        age_band_ranking=[ranking("80+", 0.563, 0.061), ranking("60-69", 0.75)],
        ranking_method="out-of-fold",
    )
    support = DataSupport(profile(), evidence, THRESHOLDS)
    caveat = support.one({**TYPICAL_60, "age": 85.0})[5]
    assert caveat.startswith("Within the 80+ age band the model barely ranks patients")
    assert "AUC 0.56 (95% CI 0.48 to 0.64)" in caveat
    assert "calibration slope 0.06 (95% CI -0.24 to 0.36)" in caveat
    assert support.one(TYPICAL_60)[5] is None  # 0.75: ranks acceptably


def test_without_a_validation_record_there_is_no_ranking_caveat(support):
    assert all(support.one({**TYPICAL_60, "age": age})[5] is None for age in (20.0, 60.0, 85.0))
