"""Accessibility in real Chromium: axe-core on every screen, and the form by keyboard alone.

axe-core (npm, installed by `make node-deps` from package-lock.json) is injected into the
page and run on both tabs, before and after a result. The bar: no `serious` or `critical`
violations. The keyboard test never touches the mouse: it moves with Tab, answers with
typing, arrows and Space, and submits with Enter.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from stroke_risk.core.config import REPO_ROOT
from stroke_risk.core.responses import Assessment
from tests.app.chromium import PATIENT, TIMEOUT_MS, VIEWPORT, fill_in_the_form, settle
from tests.app.conftest import sample_upload
from tests.environment import skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script; skipped locally (failed on CI) when `make node-deps` has not run."""
    if not AXE.is_file():
        skip_or_fail(f"{AXE.relative_to(REPO_ROOT)} is missing: run `make node-deps` (npm ci)")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page, axe_source: str) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.x A and AA rules and best practices) on the page as it is."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    return page.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ['violations']});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' ' +
                    JSON.stringify((n.any[0] || {}).data || {}).slice(0, 200)),
                nodes: v.nodes.length}));
        }"""
    )


def blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def test_every_screen_has_no_serious_or_critical_axe_violations(
    browser, app_url, service_url, axe_source, data_path, tmp_path, record_property
):
    expected = requests.post(f"{service_url}/predict", json=PATIENT, timeout=30).json()
    page = browser.new_page(viewport=VIEWPORT)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        page.goto(app_url)
        page.locator(".st-key-patient-smoking_status input").wait_for(timeout=TIMEOUT_MS)
        settle(page)
        # .streamlit/config.toml: toolbarMode = "minimal" hides the developer toolbar.
        assert page.get_by_role("button", name="Deploy").count() == 0
        assert page.get_by_test_id("stMainMenu").count() == 0
        found["one patient, empty form"] = axe_violations(page, axe_source)

        fill_in_the_form(page)
        page.get_by_role("button", name="Estimate risk").click()
        page.get_by_text(frequency(expected)).wait_for(timeout=TIMEOUT_MS)
        page.get_by_test_id("stVegaLiteChart").wait_for(timeout=TIMEOUT_MS)
        settle(page)
        found["one patient, result"] = axe_violations(page, axe_source)

        page.get_by_role("tab", name="Many patients (CSV upload)").click()
        settle(page)
        found["many patients, before upload"] = axe_violations(page, axe_source)

        csv_path = tmp_path / "practice-list.csv"
        sample_upload(data_path, rows=12).to_csv(csv_path, index=False)
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(csv_path)
        page.get_by_text(re.compile(r"Scored 12 patients\. Ranked by")).wait_for(timeout=TIMEOUT_MS)
        settle(page)
        found["many patients, scored"] = axe_violations(page, axe_source)
    finally:
        page.close()

    for screen, violations in found.items():
        listed = "; ".join(f"{v['id']}:{v['impact']} at {v['targets']}" for v in violations)
        record_property(
            f"axe {screen}",
            f"{len(blocking(violations))} serious/critical, {len(violations)} rules in all"
            + (f" ({listed})" if listed else ""),
        )
    assert {screen: blocking(v) for screen, v in found.items()} == {s: [] for s in found}


def focused(page) -> dict[str, Any]:
    """What has the keyboard focus, by its accessible name, as a screen reader announces it."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el) return {};
            const group = el.closest('[role=radiogroup]');
            const labelled = el.getAttribute('aria-labelledby');
            const label = el.getAttribute('aria-label')
                || (el.labels && el.labels.length ? el.labels[0].innerText : '')
                || (labelled ? document.getElementById(labelled)?.innerText : '')
                || el.innerText || '';
            return {tag: el.tagName, type: el.type || '', role: el.getAttribute('role') || '',
                    label: label.trim(), group: group ? group.getAttribute('aria-label') : null,
                    checked: !!el.checked};
        }"""
    )


def test_the_form_can_be_filled_and_sent_with_the_keyboard_alone(
    browser, app_url, service_url, record_property
):
    expected = requests.post(f"{service_url}/predict", json=PATIENT, timeout=30).json()
    typed = {"Age (years)": "67", "Average glucose (mg/dL)": "228.7", "BMI (kg/m²)": "36.6"}
    typed["Patient reference (optional)"] = "Keyboard only"
    radios = {
        "Sex": "Male",
        "Hypertension": "Yes",
        "Heart disease": "No",
        "Ever married": "Yes",
        "Residence": "Urban",
    }
    chosen = {"Work type": "Private", "Smoking": "Smokes"}
    page = browser.new_page(viewport=VIEWPORT)
    visited: list[str] = []
    try:
        page.goto(app_url)
        page.locator(".st-key-patient-smoking_status input").wait_for(timeout=TIMEOUT_MS)
        settle(page)
        page.locator("body").focus()
        answered: set[str] = set()
        for _ in range(120):
            page.keyboard.press("Tab")
            now = focused(page)
            name = now.get("group") or now.get("label", "")
            visited.append(f"{now.get('tag')}:{now.get('role') or now.get('type')}:{name}")
            if name in typed and name not in answered:
                page.keyboard.type(typed[name])
                answered.add(name)
            elif now.get("group") in radios and name not in answered:
                for _ in range(8):  # arrows move the choice within the group
                    if focused(page)["label"] == radios[name]:
                        break
                    page.keyboard.press("ArrowDown")
                page.keyboard.press("Space")
                answered.add(name)
            elif now.get("role") == "combobox" and name in chosen and name not in answered:
                page.keyboard.type(chosen[name])
                page.keyboard.press("Enter")
                answered.add(name)
            elif now.get("label") == "Estimate risk":
                break
        missing = set(typed) | set(radios) | set(chosen)
        assert answered == missing, f"not reached by Tab: {missing - answered}; {visited}"
        page.keyboard.press("Enter")
        page.get_by_text(frequency(expected)).wait_for(timeout=TIMEOUT_MS)
        assert page.get_by_text("Result for Keyboard only").is_visible()
    finally:
        record_property("keyboard tab stops to the button", len(visited))
        page.close()


def frequency(reply: dict) -> str:
    """The natural-frequency sentence the result shows for ``reply`` (from its outcome)."""
    return Assessment.model_validate(reply).outcome.natural_frequency(reply["probability"])
