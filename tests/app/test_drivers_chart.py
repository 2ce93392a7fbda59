"""The drivers chart as a person sees it: one visible bar per factor, in the factor's colour.

The chart is drawn by Vega in the browser, so the spec alone proves nothing (a log axis
with bars from 0 draws no bar at all and still makes a valid spec). These tests look at
the pixels: in a screenshot of the rendered chart, every block of a direction's colour as
tall as a bar is one drawn bar; their count must match the service's factors, per colour,
for a low, a moderate and a high patient, with glucose in mg/dL and in mmol/L.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image
from scipy import ndimage

from stroke_risk.app.views import DIRECTION_COLOURS, factor_bars, factors_frame
from stroke_risk.core.responses import Assessment
from stroke_risk.core.units import glucose_from_mg_dl
from tests.app.chromium import PATIENT, TIMEOUT_MS, VIEWPORT, fill_in_the_form
from tests.app.conftest import example_assessment

# Low, moderate and high by the service's bands (each test checks its patient's band first).
PATIENTS = {
    "low": {
        "gender": "Female",
        "age": 32.0,
        "hypertension": 0,
        "heart_disease": 0,
        "ever_married": "No",
        "work_type": "Private",
        "residence_type": "Urban",
        "avg_glucose_level": 85.0,
        "bmi": 23.4,
        "smoking_status": "never smoked",
    },
    "moderate": {
        "gender": "Male",
        "age": 64.0,
        "hypertension": 0,
        "heart_disease": 0,
        "ever_married": "Yes",
        "work_type": "Self-employed",
        "residence_type": "Rural",
        "avg_glucose_level": 110.0,
        "bmi": 29.0,
        "smoking_status": "formerly smoked",
    },
    # The main browser test's patient, older and with heart disease.
    "high": {**PATIENT, "age": 79.0, "heart_disease": 1},
}
COLOUR_TOLERANCE = 12  # per channel: anti-aliased edges are left out, bar interiors kept
MIN_BAR_HEIGHT_PX = 16  # a bar is about 28 px tall (32 px per row); legend symbols are ~10
# The shortest bar is several px wide; the line at 1 (its anti-aliased edge can be grey)
# is at most 2.
MIN_BAR_WIDTH_PX = 3
ROW_PX = 32  # one factor's row: its bar and the padding between bars
LINE_GAP_PX = 4  # the reference line, anti-aliased, across a bar


def rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])


def drawn_bars(png: bytes) -> dict[str, int]:
    """How many bars of each direction's colour the picture shows: connected blocks of the
    colour at least a bar's height tall and wider than the reference line."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    counts = {}
    for direction, colour in DIRECTION_COLOURS.items():
        mask = (np.abs(pixels - rgb(colour)) <= COLOUR_TOLERANCE).all(axis=2)
        # The reference line at 1 shows through a bar of no effect, which is centred on it:
        # the two halves of one bar, a line's width apart, are one bar.
        mask = ndimage.binary_closing(mask, structure=np.ones((1, LINE_GAP_PX + 1)))
        labels, _ = ndimage.label(mask)
        blocks = ndimage.find_objects(labels)
        # Thin bars of no effect in neighbouring rows can touch: a block as tall as n rows
        # is n bars.
        counts[direction] = sum(
            max(1, round((rows.stop - rows.start) / ROW_PX))
            for rows, columns in blocks
            if rows.stop - rows.start >= MIN_BAR_HEIGHT_PX
            and columns.stop - columns.start >= MIN_BAR_WIDTH_PX
        )
    return counts


def expected_bars(assessment: Assessment) -> dict[str, int]:
    directions = [factor.direction for factor in assessment.contributing_factors]
    return {direction: directions.count(direction) for direction in DIRECTION_COLOURS}


def test_every_bar_starts_at_1_and_has_a_visible_length():
    frame = factors_frame(example_assessment())
    bars, (low, high) = factor_bars(frame)
    assert list(bars["bar_from"].clip(upper=1.0)) == list(bars["bar_from"])
    assert low < 1 < high and low * high == pytest.approx(1.0)  # 1 in the middle
    for start, end in zip(bars["bar_from"], bars["bar_to"], strict=True):
        assert 0 < start < end  # drawable on a log axis, and never of no width
    age, bmi = bars.itertuples()
    assert (age.bar_from, age.bar_to) == (1.0, pytest.approx(3.21))
    assert bmi.bar_from < 1 < bmi.bar_to  # odds ratio 1 (no effect): a thin bar on 1


def fill_in(page, patient: dict[str, object], glucose_unit: str) -> None:
    """Answer the form by its visible labels, glucose in the chosen unit."""
    page.get_by_role("radiogroup", name="Glucose unit").get_by_text(
        glucose_unit, exact=True
    ).click()
    page.get_by_label(f"Average glucose ({glucose_unit})", exact=True).wait_for(timeout=TIMEOUT_MS)
    fill_in_the_form(page, patient, glucose_unit)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("band", list(PATIENTS))
def test_the_drivers_chart_draws_one_bar_per_factor_in_both_glucose_units(
    band, browser, app_url, service_url, artifacts
):
    from playwright.sync_api import expect

    patient = PATIENTS[band]
    reply = requests.post(f"{service_url}/predict", json=patient, timeout=30).json()
    assert reply["risk_band"] == band, "the example patient is no longer in its band"
    expected = expected_bars(Assessment.model_validate(reply))
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(app_url)
        for glucose_unit in ("mg/dL", "mmol/L"):
            typed = dict(patient)
            if glucose_unit == "mmol/L":
                typed["avg_glucose_level"] = round(
                    glucose_from_mg_dl(float(patient["avg_glucose_level"]), glucose_unit), 1
                )
            fill_in(page, typed, glucose_unit)
            page.get_by_role("button", name="Estimate risk").click()
            headline = page.get_by_test_id("stMetric").filter(has_text="Stroke history")
            expect(headline).to_be_visible(timeout=TIMEOUT_MS)
            chart = page.get_by_test_id("stVegaLiteChart")
            expect(chart).to_be_visible(timeout=TIMEOUT_MS)
            chart.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)  # Vega draws after the element appears
            picture = chart.screenshot(animations="disabled")
            name = f"drivers-{band}-{glucose_unit.replace('/', '-per-')}.png"
            (artifacts / name).write_bytes(picture)
            assert drawn_bars(picture) == expected, f"{band}, {glucose_unit}: see {name}"
    finally:
        page.close()
