"""The model card the service serves: the loaded model's own, keyed like the docs."""

from __future__ import annotations

import requests

from stroke_risk.core.model_card import HTI1_HEADINGS
from tests.conftest import API_KEYS
from tests.wording import future_risk_claims


def test_the_card_json_names_the_loaded_tag_and_every_hti1_heading(service_url, stored_model):
    reply = requests.get(f"{service_url}/model-card.json", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    card = reply.json()
    assert card["model_tag"] == stored_model.tag
    headings = [section["heading"] for section in card["source_attributes"].values()]
    assert headings == list(HTI1_HEADINGS.values())
    assert card["outcome"]["kind"] == "history" and card["outcome"]["horizon_years"] is None
    output = card["source_attributes"]["details_and_output"]["output"]
    assert output == card["outcome"]["label"] and not future_risk_claims(output)
    # Filled from the training record, not left as headings.
    development = card["source_attributes"]["development_details_and_input_features"]
    assert development["rows"] == stored_model.metadata["n_development"]
    assert development["demographics"]["patients"] > 0
    assert set(development["demographics"]["gender"]) >= {"Female", "Male"}
    performance = card["source_attributes"]["quantitative_performance"]
    assert performance["held_out_test_split"]["metrics"] == stored_model.metadata["test_metrics"]


def test_the_card_page_is_html_a_person_reads(service_url, stored_model):
    reply = requests.get(f"{service_url}/model-card", timeout=30)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html")
    page = reply.text
    assert f"Model card: {stored_model.tag}" in page
    for heading in HTI1_HEADINGS.values():
        assert f"<h2>{heading}</h2>" in page
    assert "<script" not in page
    assert not future_risk_claims(page)


def test_the_card_needs_a_key_where_the_docs_do(keyed_service):
    for path in ("/model-card", "/model-card.json"):
        assert requests.get(f"{keyed_service.url}{path}", timeout=30).status_code == 401
        keyed = requests.get(
            f"{keyed_service.url}{path}",
            headers={"Authorization": f"Bearer {API_KEYS[0]}"},
            timeout=30,
        )
        assert keyed.status_code == 200


def test_the_card_is_read_not_written(service_url):
    reply = requests.post(f"{service_url}/model-card.json", json={}, timeout=30)
    assert reply.status_code == 405
