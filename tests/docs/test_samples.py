"""The replies the manual shows are the service's, and the README sends what they answer.

The committed samples (docs/samples/replies/) are written by `make docs-samples` from the
model in the developer's store; the test session serves its own quick model. So what the
model decides differs by design and is not compared: the numbers, the band and a card's
indicator, which factors drive the estimate and in which order. What is compared is what
the code decides: every field's name and nesting, and every line of wording (numbers,
bands and driver lines masked). A change to the reply's fields or words that is not
followed by `make docs-samples` fails here, naming the sample and the difference.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stroke_risk.core.config import MODEL_NAME, REPO_ROOT
from tests.script_modules import load_script

SCRIPT = REPO_ROOT / "scripts" / "docs" / "make_samples.py"
README = REPO_ROOT / "README.md"
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
MODEL_TAG = re.compile(rf"{MODEL_NAME}:\w+")
# A CDS card's uuid is new on every call (the specification asks for one per card).
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# The model decides which factors drive an estimate, their order, direction and how many are
# listed: in a text they are lines such as "- Age: raises risk (odds ×3.26)".
DRIVER_LINE = re.compile(r"^- [^:\n]+: (?:raises|lowers) risk\b.*$", re.MULTILINE)
MODEL_CHOSEN = {"contributing_factors"}
# The band and a card's indicator follow from the number.
BAND = re.compile(r"\b(?:low|moderate|high|info|warning|critical)\b", re.IGNORECASE)


make_samples = load_script(SCRIPT)


def field_names(value: object, where: str = "") -> set[str]:
    """Every field's path, list positions collapsed to ``[]``: the reply's shape."""
    if isinstance(value, dict):
        return {
            name
            for key, item in value.items()
            for name in {f"{where}.{key}"} | field_names(item, f"{where}.{key}")
        }
    if isinstance(value, list):
        return {name for item in value for name in field_names(item, f"{where}[]")}
    return set()


def masked(text: str) -> str:
    """``text`` without what belongs to the model rather than to the wording."""
    text = MODEL_TAG.sub("<model>", UUID.sub("<uuid>", text))
    text = DRIVER_LINE.sub("- <driver>", NUMBER.sub("#", text))
    return BAND.sub("<band>", text)


def wording(value: object) -> set[str]:
    """Every line of text in a reply, masked; texts without a space are identifiers or
    categories, not wording, and the drivers' own fields are the model's choice (their
    names are checked by field_names)."""
    if isinstance(value, dict):
        return {
            line for key, item in value.items() if key not in MODEL_CHOSEN for line in wording(item)
        }
    if isinstance(value, list):
        return {line for item in value for line in wording(item)}
    if isinstance(value, str) and " " in value:
        return {line for line in masked(value).splitlines() if line.strip()}
    return set()


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


def test_the_comparison_sees_fields_and_words_but_not_the_models_numbers() -> None:
    """The comparison below can fail: a renamed field or a reworded sentence is seen;
    another number, band, model, card uuid or choice of drivers is not."""
    reply = {
        "percent": 9.2,
        "risk_band": "moderate",
        "detail": "Risk 9.2%, moderate band.\n- Age: raises risk (odds ×3.26)\nSee the card.",
        "contributing_factors": [{"factor": "age"}],
        "model_tag": f"{MODEL_NAME}:abc1",
        "uuid": "3e456784-00f4-4e4c-a257-ca94974a350f",
    }
    other_model = {
        "percent": 3.1,
        "risk_band": "low",
        "detail": "Risk 3.1%, low band.\n- Age: raises risk (odds ×2)\n- BMI: lowers risk"
        " (odds ×0.9)\nSee the card.",
        "contributing_factors": [{"factor": "bmi"}, {"factor": "age"}],
        "model_tag": f"{MODEL_NAME}:zz9",
        "uuid": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
    }
    assert field_names(reply) == field_names(other_model)
    assert wording(reply) == wording(other_model)
    renamed = {**reply, "percentage": reply["percent"]}
    del renamed["percent"]
    assert field_names(renamed) != field_names(reply)
    reworded = {**reply, "detail": reply["detail"].replace("See the card.", "Read the card.")}
    assert wording(reworded) != wording(reply)


@pytest.mark.slow
def test_the_sample_replies_have_the_field_names_and_words_the_service_answers_with(
    service,
) -> None:
    answered = make_samples.send_samples(service.url)
    stale = {}
    for sample, reply in answered.items():
        path = make_samples.reply_file(sample)
        committed = json.loads(path.read_text())
        differences = [
            f"{what} only in the sample: {sorted(a - b)}; only in the reply: {sorted(b - a)}"
            for what, a, b in (
                ("fields", field_names(committed), field_names(reply)),
                ("wording", wording(committed), wording(reply)),
            )
            if a != b
        ]
        if differences:
            stale[str(path.relative_to(REPO_ROOT))] = "; ".join(differences)
    assert not stale, "run `make docs-samples`: the service now answers otherwise:\n" + "\n".join(
        f"{path}: {difference}" for path, difference in stale.items()
    )


def test_a_sample_is_written_as_the_docs_show_it(tmp_path: Path) -> None:
    """Indented, keys in the service's order (not sorted), one newline at the end."""
    text = make_samples.sample_text({"b": 1, "a": [0.5, "é"]})
    assert text == '{\n  "b": 1,\n  "a": [\n    0.5,\n    "é"\n  ]\n}\n'
