"""The replies the manual shows are the service's, and the README sends what they answer.

The committed samples (docs/samples/replies/) are written by `make docs-samples` from the
model in the developer's store; the test session serves its own quick model, so the
numbers differ by design and are not compared. What is compared is everything a reader
takes from a sample besides its numbers: the field names, their nesting and order, how
many entries each list holds, the categories (band, direction, card indicator) and every
sentence with its numbers masked. A change to the reply's fields or wording that is not
followed by `make docs-samples` fails here, naming the sample.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from stroke_risk.core.config import MODEL_NAME, REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "docs" / "make_samples.py"
README = REPO_ROOT / "README.md"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MODEL_TAG = re.compile(rf"{MODEL_NAME}:\w+")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


make_samples = _load_script()


def without_numbers(value: object) -> object:
    """``value`` with every number masked (JSON numbers and the digits inside texts) and
    model tags masked; names, order, list lengths, categories and words kept."""
    if isinstance(value, dict):
        return {key: without_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_numbers(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return "<number>"
    return NUMBER.sub("#", MODEL_TAG.sub("<model>", str(value)))


def readme_request_body(route: str) -> str:
    """The body of the README's curl example for ``route`` (as the container test reads it)."""
    pattern = rf"curl -s http://127\.0\.0\.1:3000{re.escape(route)} .*?-d '(.*?)'\n```"
    match = re.search(pattern, README.read_text(), flags=re.DOTALL)
    assert match, f"no curl example for {route} in README.md"
    return match.group(1)


@pytest.mark.parametrize(
    ("route", "name"), [("/predict", "predict"), ("/cds-services/stroke-risk", "cds-patient-view")]
)
def test_the_readmes_curl_examples_send_the_sample_requests(route: str, name: str) -> None:
    request = (make_samples.REQUESTS_DIR / f"{name}.json").read_text()
    assert readme_request_body(route) == request.rstrip("\n")


def test_every_sample_request_has_its_reply_and_nothing_else_is_there() -> None:
    sent = make_samples.SAMPLES_SENT
    assert {s.request_file for s in sent} == set(make_samples.REQUESTS_DIR.glob("*.json"))
    assert {make_samples.reply_file(s) for s in sent} == set(
        make_samples.REPLIES_DIR.glob("*.json")
    )


def test_masking_keeps_names_categories_and_words_and_drops_numbers() -> None:
    """The comparison below can fail: a renamed field, another band or a reworded sentence
    differ after masking; another number or model does not."""
    reply = {"percent": 9.2, "risk_band": "moderate", "summary": "Risk 9.2% (moderate)"}
    same_words = {"percent": 14.1, "risk_band": "moderate", "summary": "Risk 14.1% (moderate)"}
    assert without_numbers(reply) == without_numbers(same_words)
    assert without_numbers({"model_tag": f"{MODEL_NAME}:abc1"}) == without_numbers(
        {"model_tag": f"{MODEL_NAME}:zz9"}
    )
    for changed in (
        {"percentage": 9.2, "risk_band": "moderate", "summary": "Risk 9.2% (moderate)"},
        {"percent": 9.2, "risk_band": "high", "summary": "Risk 9.2% (moderate)"},
        {"percent": 9.2, "risk_band": "moderate", "summary": "History 9.2% (moderate)"},
    ):
        assert without_numbers(changed) != without_numbers(reply)


@pytest.mark.slow
def test_the_sample_replies_have_the_field_names_and_words_the_service_answers_with(
    service,
) -> None:
    answered = make_samples.send_samples(service.url)
    stale = []
    for sample, reply in answered.items():
        path = make_samples.reply_file(sample)
        committed = json.loads(path.read_text())
        if without_numbers(committed) != without_numbers(reply):
            stale.append(path.relative_to(REPO_ROOT))
    assert stale == [], f"run `make docs-samples`: the service now answers otherwise: {stale}"


def test_a_sample_is_written_as_the_docs_show_it(tmp_path: Path) -> None:
    """Indented, keys in the service's order (not sorted), one newline at the end."""
    text = make_samples.sample_text({"b": 1, "a": [0.5, "é"]})
    assert text == '{\n  "b": 1,\n  "a": [\n    0.5,\n    "é"\n  ]\n}\n'
