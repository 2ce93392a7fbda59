"""End to end in a real browser: `streamlit run` + the real service + Debian's Chromium.

A nurse fills in the form and reads the risk; a practice manager uploads a CSV with a bad
row and downloads the ranked result; a clinic in mmol/L uploads its own file. Screenshots
go to test-artifacts/ (the documentation's images come from `make screenshots`, which uses
a full `make train` model).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
import requests

from stroke_risk.app.batch import score_patients_csv
from stroke_risk.app.client import StrokeRiskClient
from stroke_risk.core.responses import Assessment
from tests.app.chromium import (
    PATIENT,
    TIMEOUT_MS,
    VIEWPORT,
    fill_in_the_form,
    full_page_screenshot,
)
from tests.app.conftest import sample_upload

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# The labels whose text is wider than the box that shows it (cut, with an ellipsis).
CUT_LABELS = """labels => labels
    .filter(label => [label, ...label.querySelectorAll("*")]
        .some(e => e.scrollWidth > e.clientWidth + 1))
    .map(label => label.textContent)"""


def shows(locator) -> None:
    """Assert the element is visible, retrying while Streamlit re-renders (is_visible() alone
    answers at once, and fails whenever the check lands mid-render)."""
    from playwright.sync_api import expect

    expect(locator).to_be_visible(timeout=TIMEOUT_MS)


def test_a_nurse_scores_a_patient_and_a_manager_ranks_a_list(
    browser, app_url, service_url, artifacts, data_path, tmp_path
):
    from playwright.sync_api import expect

    expected = requests.post(f"{service_url}/predict", json=PATIENT, timeout=30).json()
    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    try:
        page.goto(app_url)
        fill_in_the_form(page)
        page.get_by_role("button", name="Estimate risk").click()
        frequency = Assessment.model_validate(expected).outcome.natural_frequency(
            expected["probability"]
        )
        page.get_by_text(frequency).wait_for(timeout=TIMEOUT_MS)
        # The headline metric by its label (the what-if cards are metrics too), and with
        # Playwright's retrying assertion, since Streamlit may still be re-rendering.
        outcome = Assessment.model_validate(expected).outcome
        headline = page.get_by_test_id("stMetric").filter(has_text=outcome.short_label)
        expect(headline.get_by_test_id("stMetricValue")).to_have_text(
            f"{100 * expected['probability']:.1f}%", timeout=TIMEOUT_MS
        )
        # What the number is, whole on screen ("(not a future risk)" included), and no
        # metric's label cut to its box's width with an ellipsis.
        shows(page.get_by_text(outcome.headline, exact=True))
        assert page.get_by_test_id("stMetricLabel").evaluate_all(CUT_LABELS) == []
        shows(page.get_by_text("Result for Mr B, 10:40"))
        shows(page.get_by_text(f"{expected['risk_band'].capitalize()} band ("))
        page.get_by_test_id("stVegaLiteChart").wait_for(timeout=TIMEOUT_MS)  # the drivers
        shows(page.get_by_text(expected["disclaimer"], exact=True))
        shows(page.get_by_text(f"Model {expected['model_tag']}", exact=True))
        full_page_screenshot(page, artifacts / "app-single.png")

        upload = sample_upload(data_path, rows=12)
        upload.loc[3, "age"] = "abc"  # line 5 of the file
        csv_path = tmp_path / "practice-list.csv"
        upload.to_csv(csv_path, index=False)
        page.get_by_role("tab", name="Many patients (CSV upload)").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(csv_path)
        page.get_by_text(
            re.compile(r"Scored 11 patients\. Ranked by how common a stroke history")
        ).wait_for(timeout=TIMEOUT_MS)
        shows(page.get_by_text(re.compile(r"line 5 \(id \d+\), column 'age'")))
        page.get_by_role("button", name="Download the scored CSV").wait_for(timeout=TIMEOUT_MS)
        full_page_screenshot(page, artifacts / "app-batch.png")

        with page.expect_download(timeout=TIMEOUT_MS) as download_info:
            page.get_by_role("button", name="Download the scored CSV").click()
        download = download_info.value
        assert download.suggested_filename == "practice-list-scored.csv"
        scored = pd.read_csv(io.BytesIO(Path(download.path()).read_bytes()))
        assert len(scored) == 11
        assert scored["probability"].is_monotonic_decreasing
    finally:
        page.close()


def test_a_mmol_per_l_file_with_mmol_per_l_chosen_scores_every_row_as_mg_per_dl_would(
    browser, app_url, service_url, data_path, tmp_path
):
    from tests.app.test_upload_units import as_mg_dl_of, in_mmol

    mmol = in_mmol(sample_upload(data_path, rows=12))
    csv_path = tmp_path / "practice-list-mmol.csv"
    mmol.to_csv(csv_path, index=False)
    # The same patients typed in mg/dL (the values the mmol/L file converts to), scored.
    mg_dl = as_mg_dl_of(mmol).to_csv(index=False)
    by_mg_dl = score_patients_csv(io.StringIO(mg_dl), StrokeRiskClient(service_url)).results
    expected = dict(zip(by_mg_dl["id"].astype(str), by_mg_dl["probability"], strict=True))

    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    try:
        page.goto(app_url)
        page.get_by_role("radiogroup", name="Glucose unit").get_by_text(
            "mmol/L", exact=True
        ).click()
        page.get_by_role("tab", name="Many patients (CSV upload)").click()
        shows(page.get_by_text("Glucose is read in mmol/L"))
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(csv_path)
        page.get_by_text(re.compile(r"Scored 12 patients\. Ranked by")).wait_for(timeout=TIMEOUT_MS)
        assert page.get_by_text("could not be scored").count() == 0
        with page.expect_download(timeout=TIMEOUT_MS) as download_info:
            page.get_by_role("button", name="Download the scored CSV").click()
        scored = pd.read_csv(download_info.value.path(), dtype={"id": str})
    finally:
        page.close()
    assert len(scored) == 12
    for _, row in scored.iterrows():
        assert row["probability"] == expected[row["id"]]
