"""Driving the app in Debian's Chromium through Playwright, as a person would: the browser
tests (tests/app) and the documentation's screenshots (scripts/screenshots.py) share it, so
the pictures show the same nurse's form the tests fill in.

Playwright is imported by whoever launches the browser (it may be missing: the tests then
skip with a reason); nothing here imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from stroke_risk.app.views import option_label

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 30_000
# A high-risk man, as in the manual's examples: every part of the result shows.
PATIENT = {
    "gender": "Male",
    "age": 67.0,
    "hypertension": 1,
    "heart_disease": 0,
    "ever_married": "Yes",
    "work_type": "Private",
    "residence_type": "Urban",
    "avg_glucose_level": 228.7,
    "bmi": 36.6,
    "smoking_status": "smokes",
}
RADIO_QUESTIONS = [
    ("Sex", "gender"),
    ("Hypertension", "hypertension"),
    ("Heart disease", "heart_disease"),
    ("Ever married", "ever_married"),
    ("Residence", "residence_type"),
]
DROPDOWN_QUESTIONS = [("Work type", "work_type"), ("Smoking", "smoking_status")]


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless (Playwright's own browser download is not used)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def fill_in_the_form(
    page: Any,
    patient: dict[str, object] | None = None,
    glucose_unit: str = "mg/dL",
    timeout_ms: float = TIMEOUT_MS,
) -> None:
    """Answer the questions by their visible labels, as a person would (glucose already in
    ``glucose_unit``, which must be the unit chosen on the page)."""
    patient = PATIENT if patient is None else patient
    page.locator(".st-key-patient-smoking_status input").wait_for(timeout=timeout_ms)
    page.get_by_label("Patient reference (optional)", exact=True).fill("Mr B, 10:40")
    for group, name in RADIO_QUESTIONS:
        option = option_label(name, patient[name])
        page.get_by_role("radiogroup", name=group).get_by_text(option, exact=True).click()
    page.get_by_label("Age (years)", exact=True).fill(f"{patient['age']:g}")
    page.get_by_label(f"Average glucose ({glucose_unit})", exact=True).fill(
        f"{patient['avg_glucose_level']:g}"
    )
    page.get_by_label("BMI (kg/m²)", exact=True).fill(f"{patient['bmi']:g}")
    for box, name in DROPDOWN_QUESTIONS:
        page.get_by_role("combobox", name=box).click()
        option = option_label(name, patient[name])
        page.get_by_role("option", name=option, exact=True).click()


def settle(page: Any, timeout_ms: float = TIMEOUT_MS, pause_ms: float = 500) -> None:
    """Wait until Streamlit has finished running the script (no 'Running...' status), then
    ``pause_ms`` for what it draws after."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout_ms
    )
    page.wait_for_timeout(pause_ms)


def palette_png(path: Path) -> Path:
    """Rewrite the PNG with a 128-colour palette: a tenth of the size, small enough for git."""
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


def full_page_screenshot(page: Any, path: Path) -> Path:
    """All of the app's content, as a palette PNG small enough for git.

    Streamlit scrolls inside its own container, which clips anything below the window, so
    the window is made as tall as the content first; the toolbar is hidden.
    """
    content = page.get_by_test_id("stMainBlockContainer")
    page.add_style_tag(content="[data-testid='stHeader'] { display: none; }")
    height = content.evaluate("element => element.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(height, 600) + 40})
    page.wait_for_timeout(1500)  # charts and tables redraw after the resize
    content.screenshot(path=path, animations="disabled")
    page.set_viewport_size(VIEWPORT)
    return palette_png(path)
