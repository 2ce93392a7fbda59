"""The printable patient summary: what it says (text read back with pypdf), its size, that
nothing touches the disk, the batch zip, and a page rendered for the README."""

from __future__ import annotations

import io
import os
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
from stroke_risk.app.summary_pdf import DEFAULT_TITLE, summaries_zip, summary_pdf
from stroke_risk.app.views import people_like_this
from tests.app.conftest import (
    example_assessment,
    fill_patient_form,
    publish_screenshot,
    sample_upload,
    submit,
)
from tests.conftest import EXAMPLE_PATIENT

MAX_PDF_BYTES = 200_000
PATIENT = {**EXAMPLE_PATIENT, "age": 67.0, "avg_glucose_level": 228.7, "smoking_status": "smokes"}


def pdf_text(pdf: bytes) -> str:
    """All the text on every page, with line breaks folded into spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_summary_states_the_risk_the_drivers_the_plan_and_the_disclaimer():
    assessment = example_assessment()
    text = pdf_text(
        summary_pdf(assessment, title="Riverside Surgery", reference="Mr B", on=date(2026, 3, 2))
    )
    assert "Riverside Surgery" in text
    assert "For: Mr B" in text and "Date: 2026-03-02" in text
    assert "22.6% (18.1% to 27.9%) - High risk (15% and above)" in text
    assert f"{people_like_this(assessment.probability)} have had a stroke" in text
    assert "The average estimate for Male, 60-69 (222 patients" in text  # the peers
    assert "Compared with a reference patient: a 50.5-year-old woman" in text
    assert "Age: 67 years" in text and "x 3.21 (raises)" in text  # the drivers, with numbers
    assert "Bring average glucose to 99 mg/dL" in text  # the what-if
    assert "228.7 mg/dL -> 99 mg/dL: 22.6% -> 18.0%, 4.6 percentage points lower" in text
    assert "Stopping smoking lowers the risk of stroke" in text  # the guidance
    assert "Actions we agreed" in text and "Review date:" in text
    assert assessment.disclaimer in text
    assert "Model stroke_risk_model:test" in text


def test_the_summary_speaks_the_chosen_glucose_unit():
    text = pdf_text(summary_pdf(example_assessment(), glucose_unit="mmol/L"))
    assert "Bring average glucose to 5.5 mmol/L" in text
    assert "12.7 mmol/L -> 5.5 mmol/L" in text
    assert "mg/dL" not in text


def test_a_summary_without_a_title_or_what_ifs_still_reads_well():
    text = pdf_text(summary_pdf(example_assessment(what_if=[]), title=""))
    assert DEFAULT_TITLE in text
    assert "Glucose is already at or below its healthy target." in text


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
    """pdftoppm (Debian's poppler-utils) renders page 1; PUBLISH_SCREENSHOTS=1 refreshes
    docs/images/summary-pdf.png."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        message = "pdftoppm is missing: run `make system-deps` (poppler-utils)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)
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
    if os.environ.get("PUBLISH_SCREENSHOTS") == "1":
        publish_screenshot(path, "summary-pdf.png")
