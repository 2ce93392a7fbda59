"""The reply says only what the data support: drivers, what-ifs, unrecorded fields and the
flags, for models fitted on the data set (every family) and the evidence it gives."""

from __future__ import annotations

import pytest

from stroke_risk.assessment.assessor import RiskAssessor, patients_to_columns
from stroke_risk.core.config import Settings
from stroke_risk.core.evidence import ReplyEvidence
from stroke_risk.core.responses import CONTEXT_FACTORS, INTERVAL_NAME
from stroke_risk.core.schema import Patient, categories
from stroke_risk.validation.reply_evidence import reply_evidence
from stroke_risk.validation.what_if_evidence import glucose_within_ranges
from tests.model.replies import adult_patients, assess, effect_within

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def evidence(stroke_data):
    """The record training saves with a model that was not validated: the glucose effects
    within each range, as `make validate` writes them to reports/metrics.json."""
    return reply_evidence(stroke_data, None)


@pytest.fixture(scope="module")
def all_adults(stroke_data) -> list[Patient]:
    return adult_patients(stroke_data)


def test_smoking_not_recorded_is_never_a_driver(assessor, all_adults):
    unknown = [p for p in all_adults if p.smoking_status == "Unknown"]
    assert len(unknown) > 800
    for result in assess(assessor, unknown):
        factors = result["contributing_factors"] + result["context_factors"]
        assert "smoking_status" not in {f["factor"] for f in factors}


def test_smoking_not_recorded_is_scored_as_a_known_status_with_the_range_over_all(
    assessor, all_adults
):
    """No learned "not recorded" effect: the estimate is that of the commonest known
    status, and the range spans the estimates for every known status."""
    unknown = [p for p in all_adults if p.smoking_status == "Unknown"][:60]
    known = [s for s in categories("smoking_status") if s != "Unknown"]
    assumed = assessor.not_recorded.assumed_smoking
    assert assumed in known
    as_status = {
        status: assess(assessor, [p.model_copy(update={"smoking_status": status}) for p in unknown])
        for status in known
    }
    for i, result in enumerate(assess(assessor, unknown)):
        assert result["probability"] == as_status[assumed][i]["probability"]
        (smoking,) = [n for n in result["not_recorded"] if n["factor"] == "smoking_status"]
        assert smoking["assumed_value"] == assumed
        scored = [as_status[s][i]["probability"] for s in known]
        assert smoking["probability_range"] == [min(scored), max(scored)]


def test_no_reply_shows_smoking_as_a_driver_and_says_smoking_is_not_estimated(assessor, all_adults):
    """The guidance no longer says "not estimated by this model" beside a smoking driver."""
    smokers = [p for p in all_adults if p.smoking_status == "smokes"][:200]
    for result in assess(assessor, smokers):
        for guidance in result["guidance"]:
            assert "not estimated" not in guidance["why_not_from_model"].casefold()


def test_context_factors_are_never_listed_as_clinical(assessor, patients):
    for result in assess(assessor, patients):
        assert all(f["kind"] == "clinical" for f in result["contributing_factors"])
        assert not {f["factor"] for f in result["contributing_factors"]} & set(CONTEXT_FACTORS)
        assert [f["factor"] for f in result["context_factors"]] == list(CONTEXT_FACTORS)
        assert all(f["kind"] == "context" for f in result["context_factors"])


def test_the_evidence_table_shows_no_glucose_effect_within_either_range(stroke_data):
    """What the data set says (the reason for the gating): the overall slope is the gap
    between the ranges; within each, the interval includes 1."""
    table = glucose_within_ranges(stroke_data)
    assert [r["excludes_no_effect"] for r in table["ranges"]] == [False, False]
    assert table["between_ranges"]["ci"][0] > 1


def test_no_glucose_what_if_where_the_within_range_ci_includes_1(assessor, evidence, all_adults):
    gated = RiskAssessor(assessor.lean, assessor.profile, Settings(), "t", evidence=evidence)
    supported = {r.label: r.excludes_no_effect for r in evidence.glucose_ranges}
    for patient, result in zip(all_adults, assess(gated, all_adults), strict=True):
        own = evidence.glucose_range(patient.avg_glucose_level)
        shown = any(w["factor"] == "avg_glucose_level" for w in result["what_if"])
        assert not shown or supported[own.label]
    assert not any(supported.values())  # so here: never


def test_a_glucose_what_if_appears_only_in_the_range_whose_effect_excludes_1(assessor, all_adults):
    evidence_rows = [
        effect_within(0.0, 140.0, ci=(0.7, 1.8)),
        effect_within(140.0, None, ci=(1.05, 1.6)),
    ]
    gated = RiskAssessor(
        assessor.lean,
        assessor.profile,
        Settings(),
        "t",
        evidence=ReplyEvidence(glucose_ranges=evidence_rows),
    )
    results = assess(gated, all_adults[:600])
    shown = [
        (p.avg_glucose_level, w)
        for p, r in zip(all_adults, results, strict=False)
        for w in r["what_if"]
    ]
    assert shown and all(glucose > 140 for glucose, _ in shown)
    assert all(w["target_value"] == 140.0 for _, w in shown)


def test_glucose_of_140_or_more_gets_diabetes_assessment_advice_citing_a_guideline(
    assessor, all_adults
):
    high = [p for p in all_adults if p.avg_glucose_level >= 140][:50]
    normal = [p for p in all_adults if p.avg_glucose_level < 140][:50]
    for result in assess(assessor, high):
        (advice,) = [g for g in result["guidance"] if g["factor"] == "avg_glucose_level"]
        assert "HbA1c" in advice["advice"]
        assert "Standards of Care in Diabetes" in advice["source"]
    for result in assess(assessor, normal):
        assert "avg_glucose_level" not in {g["factor"] for g in result["guidance"]}


def test_the_blank_bmi_sentence_names_the_value_filled_in(assessor, all_adults):
    blank = next(p for p in all_adults if p.bmi is None)
    (result,) = assess(assessor, [blank])
    used = float(assessor.lean.encoder.medians[1 + 1])  # age, glucose, bmi
    filled = blank.model_copy(update={"bmi": round(used, 1)})
    assert assess(assessor, [filled])[0]["probability"] == pytest.approx(
        result["probability"], abs=2e-4
    )
    assert f"a typical BMI ({round(used, 1):g}) was assumed" in " ".join(result["warnings"])
    (bmi,) = [n for n in result["not_recorded"] if n["factor"] == "bmi"]
    assert bmi["assumed_value"] == round(used, 1)


def test_every_reply_names_its_interval(with_intervals, patients):
    assert {r["interval_name"] for r in assess(with_intervals, patients[:20])} == {INTERVAL_NAME}
    assert "model instability" in INTERVAL_NAME and "not the uncertainty" in INTERVAL_NAME


def test_an_81_year_old_near_a_band_edge_has_an_interval_crossing_it(with_intervals):
    """The 81-year-olds whose estimate is nearest the 15% edge have intervals on both
    sides of it, and their replies say so; every reply's flag matches its interval."""
    base = {
        "age": 81.0,
        "ever_married": "Yes",
        "work_type": "Private",
        "residence_type": "Urban",
        "smoking_status": "never smoked",
    }
    candidates = [
        Patient.model_validate(
            {**base, "gender": sex, "hypertension": h, "heart_disease": d}
            | {"avg_glucose_level": g, "bmi": bmi}
        )
        for sex in ("Female", "Male")
        for h in (0, 1)
        for d in (0, 1)
        for g in (60.0, 80.0, 100.0, 150.0, 220.0)
        for bmi in (22.0, 30.0)
    ]
    results = assess(with_intervals, candidates)
    edge = with_intervals.thresholds[1]
    nearest = min(results, key=lambda r: abs(r["probability"] - edge))
    assert abs(nearest["probability"] - edge) < 0.03
    low, high = nearest["probability_interval"]
    assert low < edge <= high
    assert nearest["interval_crosses_band_edge"] is True
    for result in results:
        low, high = result["probability_interval"]
        crosses = with_intervals.risk_band(low) != with_intervals.risk_band(high)
        assert result["interval_crosses_band_edge"] is crosses
    assert not all(r["interval_crosses_band_edge"] for r in results)


def test_the_typical_adult_has_none_of_the_flags(with_intervals):
    reference = with_intervals.drivers.reference["values"]
    (result,) = assess(with_intervals, [Patient.model_validate(reference)])
    assert result["interval_crosses_band_edge"] is False
    assert result["data_support"] == "adequate" and result["data_support_note"] is None
    assert result["beyond_data"] is False and result["extrapolated_fields"] == []
    assert result["beyond_data_note"] is None
    assert result["not_recorded"] == []


def test_a_typical_60_year_old_is_well_supported_and_within_the_data(with_intervals):
    """Thin support and beyond-the-data are off; the band-edge flag is what the interval
    says (a typical 60-year-old sits near the 5% edge: 4.9% here, its interval on both
    sides of it)."""
    reference = with_intervals.drivers.reference["values"]
    (result,) = assess(with_intervals, [Patient.model_validate({**reference, "age": 60.0})])
    assert result["data_support"] == "adequate" and result["data_support_note"] is None
    assert result["beyond_data"] is False and result["extrapolated_fields"] == []
    low, high = result["probability_interval"]
    edge = with_intervals.thresholds[0]
    assert result["interval_crosses_band_edge"] is (low < edge <= high)


def test_age_95_with_glucose_400_is_scored_but_marked_beyond_the_data(with_intervals):
    reference = with_intervals.drivers.reference["values"]
    patient = Patient.model_validate({**reference, "age": 95.0, "avg_glucose_level": 400.0})
    (result,) = assess(with_intervals, [patient])
    assert result["beyond_data"] is True
    assert result["extrapolated_fields"] == ["age", "avg_glucose_level"]
    assert "extrapolated" in result["beyond_data_note"]


def test_a_young_man_is_flagged_as_thin_data_support(with_intervals):
    reference = with_intervals.drivers.reference["values"]
    young = Patient.model_validate({**reference, "age": 25.0, "gender": "Male"})
    (result,) = assess(with_intervals, [young])
    assert result["data_support"] == "thin"
    assert "aged 18-39" in result["data_support_note"]


def test_one_at_a_time_equals_the_batch_with_every_flag(with_intervals, all_adults):
    """Single == batch over patients who raise each flag (a reply's every field)."""
    chosen = all_adults[:150] + [
        p.model_copy(update={"age": 95.0, "avg_glucose_level": 400.0}) for p in all_adults[:5]
    ]
    batch = assess(with_intervals, chosen)
    singles = [assess(with_intervals, [p])[0] for p in chosen]
    assert singles == batch
    assert any(r["data_support"] == "thin" for r in batch)
    assert any(r["interval_crosses_band_edge"] for r in batch)
    assert any(r["not_recorded"] for r in batch)


def test_the_columns_are_not_changed_by_scoring(assessor, patients):
    columns = patients_to_columns(patients)
    before = columns["smoking_status"].copy()
    assessor.scores(columns)
    assert (columns["smoking_status"] == before).all()
