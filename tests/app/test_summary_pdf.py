"""The printable patient summary: what it says (text read back with pypdf), its size, that
nothing touches the disk, the batch zip, and a page rendered for the README."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader

from stroke_risk.app.batch import high_risk_summaries, score_patients_csv
from stroke_risk.app.client import StrokeRiskClient
from stroke_risk.app.summary_pdf import (
    ADVICE_HEADING,
    DEFAULT_TITLE,
    handout_sections,
    summaries_zip,
    summary_pdf,
)
from stroke_risk.app.views import percent_text
from tests.app.conftest import (
    example_assessment,
    fill_patient_form,
    sample_upload,
    submit,
)
from tests.conftest import EXAMPLE_PATIENT
from tests.environment import skip_or_fail
from tests.readability import flesch_kincaid_grade
from tests.wording import INCIDENT_5_YEARS, future_risk_claims, reply_outcome

MAX_PDF_BYTES = 200_000
PATIENT = {**EXAMPLE_PATIENT, "age": 67.0, "avg_glucose_level": 228.7, "smoking_status": "smokes"}


def handout_body(assessment) -> str:
    """The handout's body text (what a patient reads), as sentences, without list marks."""
    return " ".join(
        paragraph.removeprefix("- ")
        for section in handout_sections(assessment)
        for paragraph in section.paragraphs
    )


def pdf_text(pdf: bytes) -> str:
    """All the text on every page, with line breaks folded into spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_summary_states_the_number_what_moves_it_the_advice_and_the_disclaimer():
    assessment = example_assessment()
    text = pdf_text(
        summary_pdf(
            assessment,
            title="Riverside Surgery",
            reference="Mr B",
            on=date(2026, 3, 2),
            model_card_url="http://127.0.0.1:3000/model-card",
        )
    )
    assert "Riverside Surgery" in text
    assert "For: Mr B" in text and "Date: 2026-03-02" in text
    assert "Your number is 22.6%." in text
    assert "Of 100 people like you in the records, about 23 had already had a stroke." in text
    assert "This does not tell you if you will have a stroke in the future." in text
    assert "This puts you in the high group (15% and above)." in text
    assert "anywhere from 18.1% to 27.9%" in text  # the interval, in plain words
    average = percent_text(assessment.comparison.average_risk)
    assert f"For people of your sex and age, the average is {average}." in text  # the peers
    assert "Your age (67 years) raises your number." in text  # the drivers, no odds
    # Context factors apart, never as something to change.
    assert "like your residence (Rural). These are not things you need to change." in text
    assert "If your blood sugar came down to 99 mg/dL" in text  # the what-if
    assert "would be 18.0%, not 22.6%" in text
    assert "Stopping smoking helps prevent strokes" in text  # the guidance
    assert "What we agreed" in text and "Review date:" in text
    assert assessment.disclaimer in text
    assert "Model stroke_risk_model:test" in text
    assert "Model card: http://127.0.0.1:3000/model-card" in text


def test_the_advice_heading_says_it_is_advice_to_discuss_not_a_plan_the_model_supports():
    text = pdf_text(summary_pdf(example_assessment()))
    assert ADVICE_HEADING in text
    assert "advice to talk over" in ADVICE_HEADING.lower() and "not a plan" in ADVICE_HEADING
    assert "a plan to agree together" not in text


def test_the_handout_never_calls_the_history_number_a_stroke_risk():
    text = pdf_text(summary_pdf(example_assessment(), title=""))
    assert not future_risk_claims(text)
    assert not future_risk_claims(DEFAULT_TITLE)


def test_an_incident_models_handout_names_its_horizon():
    assessment = example_assessment(outcome=reply_outcome(INCIDENT_5_YEARS))
    text = pdf_text(summary_pdf(assessment))
    assert "Of 100 people like you, about 23 have a stroke within 5 years." in text
    assert "5-year risk of stroke" in text  # the doctor's line


@pytest.mark.parametrize("with_what_if", [True, False], ids=["what-if", "no-what-if"])
def test_the_handout_body_reads_at_grade_8_or_below(with_what_if):
    assessment = example_assessment() if with_what_if else example_assessment(what_if=[])
    body = handout_body(assessment)
    grade = flesch_kincaid_grade(body)
    assert grade <= 8, f"Flesch-Kincaid grade {grade}: {body}"


def test_the_handout_body_speaks_to_the_patient_without_odds_or_jargon():
    body = handout_body(example_assessment()).lower()
    assert body.count("your ") >= 5 and "this patient" not in body
    for word in ("odds", "log scale", "training data", "reference patient", "logit"):
        assert word not in body, word
    text = pdf_text(summary_pdf(example_assessment()))
    for paragraph in (p for s in handout_sections(example_assessment()) for p in s.paragraphs):
        assert " ".join(paragraph.split()) in text  # the measured text is what is printed


def test_the_summary_speaks_the_chosen_glucose_unit():
    text = pdf_text(summary_pdf(example_assessment(), glucose_unit="mmol/L"))
    assert "If your blood sugar came down to 5.5 mmol/L" in text
    assert "mg/dL" not in text


def test_a_summary_without_a_title_or_what_ifs_still_reads_well():
    text = pdf_text(summary_pdf(example_assessment(what_if=[]), title=""))
    assert DEFAULT_TITLE in text
    assert "blood sugar" not in text  # no what-if: nothing said about a change
    assert "Stopping smoking helps prevent strokes" in text


def test_the_summary_is_small_and_built_without_touching_the_disk(
    tmp_path, monkeypatch, record_property
):
    monkeypatch.chdir(tmp_path)
    assessment = example_assessment()
    summary_pdf(assessment)  # fpdf2's first call loads its font metrics
    started = time.perf_counter()
    pdf = summary_pdf(assessment, reference="Mr B")
    seconds = time.perf_counter() - started
    # Timed for the report (pytest --junitxml or -rA), not asserted: the bar is 1 s.
    record_property("summary_pdf_seconds", round(seconds, 4))
    record_property("summary_pdf_bytes", len(pdf))
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) <= MAX_PDF_BYTES
    assert list(tmp_path.iterdir()) == []  # nothing written where the app runs


def test_the_batch_zip_holds_one_named_pdf_per_patient():
    patients = [("id 9046", example_assessment()), ("id 51676", example_assessment())]
    archive = zipfile.ZipFile(io.BytesIO(summaries_zip(patients)))
    assert archive.namelist() == ["001-id-9046.pdf", "002-id-51676.pdf"]
    assert "For: id 51676" in pdf_text(archive.read("002-id-51676.pdf"))


@pytest.mark.slow
def test_the_result_offers_the_summary_for_download(app, service_url):
    at = submit(fill_patient_form(app(service_url), PATIENT))
    assert not at.exception and not at.error
    buttons = {button.label for button in at.get("download_button")}
    assert "Download the patient summary (PDF)" in buttons


@pytest.mark.slow
def test_the_batch_tab_offers_a_zip_of_the_high_risk_summaries(app, service_url, data_path):
    at = app(service_url)
    upload = sample_upload(data_path, rows=40).to_csv(index=False).encode()
    at.file_uploader(key="batch.file").set_value(("clinic.csv", upload, "text/csv")).run()
    assert not at.exception and not at.error
    at.button(key="batch.prepare_summaries").click().run()
    assert not at.exception
    labels = [button.label for button in at.get("download_button")]
    assert "Download the high-risk summaries (zip)" in labels


@pytest.mark.slow
def test_high_risk_patients_of_an_upload_get_a_summary_each(service_url, data_path):
    upload = sample_upload(data_path, rows=40)
    scored = score_patients_csv(
        io.StringIO(upload.to_csv(index=False)), StrokeRiskClient(service_url)
    )
    high = high_risk_summaries(scored)
    expected = scored.results[scored.results["risk_band"] == "high"]
    assert len(high) == len(expected) >= 1
    assert [name for name, _ in high] == [f"id {i}" for i in expected["id"]]  # highest first
    assert all(assessment.risk_band == "high" for _, assessment in high)
    archive = zipfile.ZipFile(io.BytesIO(summaries_zip(high)))
    assert len(archive.namelist()) == len(high)


@pytest.mark.slow
def test_a_real_summary_page_renders_for_the_readme(service_url, artifacts, record_property):
    """pdftoppm (Debian's poppler-utils) renders page 1 (`make screenshots` makes the
    documentation's copy)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        skip_or_fail("pdftoppm is missing: run `make system-deps` (poppler-utils)")
    assessment = StrokeRiskClient(service_url).assess(PATIENT)
    started = time.perf_counter()
    pdf = summary_pdf(assessment, title="Riverside Surgery", reference="Mr B")
    record_property("summary_pdf_seconds_real_reply", round(time.perf_counter() - started, 4))
    assert len(pdf) <= MAX_PDF_BYTES
    assert f"Model {assessment.model_tag}" in pdf_text(pdf)
    rendered = subprocess.run(
        [pdftoppm, "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", "-"],  # to stdout
        input=pdf,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    assert rendered.startswith(b"\x89PNG")
    path = artifacts / "summary-pdf.png"
    with Image.open(io.BytesIO(rendered)) as image:  # a palette PNG, small enough for git
        image.convert("RGB").quantize(colors=64).save(path, optimize=True)
