"""A patient-view call without (complete) prefetch: the service reads the record from the
EHR's FHIR server (fhirpy), with the EHR's access token and within a timeout."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stroke_risk.core.config import Settings
from stroke_risk.fhir.fetching import FAILURES
from stroke_risk.fhir.routes import build_app
from stroke_risk.fhir.texts import NOT_ESTIMATED
from tests.fhir.builders import example
from tests.fhir.fhir_server import FhirServerState, fhir_server
from tests.fhir.test_cds_hooks import hook_request, prefetch_of

PATIENT_ID = "7c1b5d2e-0d59-4b4c-9f0e-1c2f8a6c9b01"
TOKEN = "ehr-access-token"


def record() -> list[dict]:
    """The Synthea-style patient, plus another patient's glucose the search must not return."""
    resources = [entry["resource"] for entry in example("synthea-style-bundle.json")["entry"]]
    other = {
        **resources[3],
        "id": "someone-else",
        "subject": {"reference": "Patient/other"},
        "valueQuantity": {**resources[3]["valueQuantity"], "value": 400},
    }
    return [*resources, other]


@pytest.fixture(scope="module")
def reader(assessor):
    """The routes allowed to read from one FHIR server (its scheme, host and port)."""

    def allowed_to_read(url: str) -> TestClient:
        allowed = Settings(fhir_fetch_timeout=2.0, cds_fhir_servers=[url])
        return TestClient(build_app(lambda: assessor, allowed))

    return allowed_to_read


def hook_without_prefetch(url: str, token: str = TOKEN, prefetch=None) -> dict:
    body = hook_request(
        prefetch,
        fhirServer=url,
        fhirAuthorization={
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-service",
        },
    )
    body["context"]["patientId"] = PATIENT_ID
    return body


def summary(client: TestClient, body: dict) -> str:
    reply = client.post("/cds-services/stroke-risk", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()["cards"][0]["summary"]


def test_without_prefetch_the_record_is_fetched_and_scored_as_with_prefetch(reader) -> None:
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        fetched = summary(reader(url), hook_without_prefetch(url))
    prefetched = summary(
        reader(url), hook_request(prefetch_of(example("synthea-style-bundle.json")))
    )
    assert fetched == prefetched and "%" in fetched
    assert any(path.startswith(f"/Patient/{PATIENT_ID}") for path in state.requests)
    assert any(path.startswith("/Observation?") and "patient=" in path for path in state.requests)


def test_only_the_missing_prefetch_keys_are_fetched(reader) -> None:
    prefetch = prefetch_of(example("synthea-style-bundle.json"))
    del prefetch["conditions"]
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        assert "%" in summary(reader(url), hook_without_prefetch(url, prefetch=prefetch))
    assert [p.split("?")[0] for p in state.requests] == ["/Condition"]


def test_a_refused_access_token_gives_an_info_card(reader) -> None:
    with fhir_server(FhirServerState(record(), TOKEN)) as url:
        text = summary(reader(url), hook_without_prefetch(url, token="wrong"))
    assert text.endswith(FAILURES["refused"]) and "%" not in text


def test_a_server_slower_than_the_timeout_gives_an_info_card(reader) -> None:
    with fhir_server(FhirServerState(record(), TOKEN, delay=3.0)) as url:
        text = summary(reader(url), hook_without_prefetch(url))
    assert "did not answer within 2 s" in text


def test_an_unreachable_server_gives_an_info_card(reader) -> None:
    with fhir_server(FhirServerState([], TOKEN)) as url:
        pass  # stopped: nothing listens there any more
    assert summary(reader(url), hook_without_prefetch(url)).endswith(FAILURES["unreachable"])


# --- the fetch budget: a card, not a 504 -----------------------------------------------


def test_a_server_that_sleeps_8_s_gets_an_info_card_within_the_5_s_request(assessor) -> None:
    """Default settings: the fetch's budget (3 s) leaves time for the card inside the
    request's own timeout (5 s); before, both were 5 s and the caller got a 504."""
    with fhir_server(FhirServerState(record(), TOKEN, delay=8.0)) as url:
        defaults = Settings(cds_fhir_servers=[url])
        assert defaults.fhir_fetch_budget <= defaults.request_timeout - 1
        started = time.monotonic()
        text = summary(
            TestClient(build_app(lambda: assessor, defaults)), hook_without_prefetch(url)
        )
        elapsed = time.monotonic() - started
    assert "did not answer within 3 s" in text
    assert elapsed < defaults.request_timeout - 0.5


# --- SSRF: the token goes only where the allow list says ---------------------------------


def _guarded_client(assessor, allowed: str) -> TestClient:
    settings = Settings(cds_fhir_servers=[allowed], fhir_fetch_timeout=2.0)
    return TestClient(build_app(lambda: assessor, settings))


def test_a_longer_port_is_not_the_allowed_port(assessor) -> None:
    """The allow list was a string prefix: ``:3931`` let ``:39310`` through."""
    victim = FhirServerState(record(), TOKEN)
    with fhir_server(victim) as url:
        port = url.rsplit(":", 1)[1]
        client = _guarded_client(assessor, f"http://127.0.0.1:{port[:-1]}")
        text = summary(client, hook_without_prefetch(url + "/fhir"))
    assert "may not read from that fhirServer" in text and victim.requests == []


def test_user_information_naming_the_allowed_server_is_refused(assessor) -> None:
    allowed, victim = FhirServerState(record(), TOKEN), FhirServerState(record(), TOKEN)
    with fhir_server(allowed) as allowed_url, fhir_server(victim) as victim_url:
        client = _guarded_client(assessor, allowed_url)
        host = victim_url.removeprefix("http://")
        tricky = f"{allowed_url}@{host}/fhir"
        text = summary(client, hook_without_prefetch(tricky))
    assert "may not read from that fhirServer" in text
    assert victim.requests == [] and allowed.requests == []


def test_a_redirect_from_the_allowed_server_is_not_followed(assessor) -> None:
    victim = FhirServerState(record(), TOKEN)
    with fhir_server(victim) as victim_url:
        allowed = FhirServerState(record(), TOKEN, redirect_to=f"{victim_url}/Patient/x")
        with fhir_server(allowed) as allowed_url:
            client = _guarded_client(assessor, allowed_url)
            text = summary(client, hook_without_prefetch(allowed_url))
    assert text.endswith(FAILURES["refused"]) and allowed.requests
    assert victim.requests == []


def test_a_next_link_to_another_server_is_never_fetched_with_the_token(assessor) -> None:
    """fhirpy checked only that the base URL appears somewhere in the link."""
    victim = FhirServerState(record(), TOKEN)
    with fhir_server(victim) as victim_url:
        allowed = FhirServerState(record(), TOKEN)
        with fhir_server(allowed) as allowed_url:
            allowed.next_link = f"{victim_url}/steal?u={allowed_url}/Observation"
            client = _guarded_client(assessor, allowed_url)
            text = summary(client, hook_without_prefetch(allowed_url))
    assert text.endswith(FAILURES["unusable"])
    assert victim.requests == []


def test_endless_next_links_stop_at_the_page_cap(assessor) -> None:
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        state.next_link = f"{url}/Observation?patient={PATIENT_ID}&page=again"
        client = _guarded_client(assessor, url)
        started = time.monotonic()
        text = summary(client, hook_without_prefetch(url))
        elapsed = time.monotonic() - started
    assert text.endswith(FAILURES["too_large"])
    assert len(state.requests) <= Settings().fhir_fetch_max_pages
    assert elapsed < 1.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_400_mb_reply_is_refused_early_and_cheaply(assessor, declare_length: bool) -> None:
    """Before, a 400 MB reply took a worker from 142 to 923 MB: now reading stops at the
    byte cap (4 MiB), whether or not the reply declares its length."""
    state = FhirServerState(
        record(), TOKEN, padding_bytes=400 * 1024 * 1024, declare_length=declare_length
    )
    with fhir_server(state) as url:
        client = _guarded_client(assessor, url)
        before = _rss_mb()
        started = time.monotonic()
        text = summary(client, hook_without_prefetch(url))
        elapsed = time.monotonic() - started
        grown = _rss_mb() - before
    assert text.endswith(FAILURES["too_large"])
    assert elapsed < 1.0 and grown < 50, (elapsed, grown)


def test_closed_and_silent_addresses_read_the_same_no_port_scan_oracle(assessor) -> None:
    """The card named the exception type, which differed by what listened there."""
    with socket.socket() as listener:  # accepts, then closes at once without answering
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        closes = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with fhir_server(FhirServerState([], TOKEN)) as closed:
            pass
        stop = threading.Event()

        def close_each() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                    connection.close()
                except OSError:
                    continue

        thread = threading.Thread(target=close_each, daemon=True)
        thread.start()
        try:
            texts = {
                summary(_guarded_client(assessor, u), hook_without_prefetch(u))
                for u in (closes, closed)
            }
        finally:
            stop.set()
            thread.join(timeout=2)
    assert texts == {f"{NOT_ESTIMATED}: {FAILURES['unreachable']}"}


def test_an_unlisted_server_is_never_called_for_an_unauthenticated_caller(assessor) -> None:
    """No allow-list and no JWT issuers: the service must not fetch any URL it is given."""
    unlisted = TestClient(build_app(lambda: assessor, Settings()))
    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        text = summary(unlisted, hook_without_prefetch(url))
    assert "may not read from that fhirServer" in text and state.requests == []
