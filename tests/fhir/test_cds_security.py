"""Who may call the CDS Hooks routes when STROKE_CDS_TRUSTED_ISSUERS is set: the accept
and refuse cases of CDS Hooks 2.0 "Trusting CDS Clients", with PyJWT and cryptography."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hypothesis
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from stroke_risk.core.config import Settings
from stroke_risk.fhir import security
from stroke_risk.fhir.routes import build_app
from stroke_risk.fhir.security import JwtVerifier, Refused

REFUSALS = {
    value for name, value in vars(security).items() if name.isupper() and isinstance(value, str)
}

ISSUER = "https://ehr.example.org"
BASE_URL = "http://testserver"
SERVICE = f"{BASE_URL}/cds-services/stroke-risk"
EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
STRANGER_KEY = ec.generate_private_key(ec.SECP384R1())


def jwks() -> dict:
    keys = []
    for kid, key, alg in (("ec-1", EC_KEY, "ES384"), ("rsa-1", RSA_KEY, "RS384")):
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
    return {"keys": keys}


def token(
    key=EC_KEY,
    alg: str = "ES384",
    kid: str = "ec-1",
    iss: str = ISSUER,
    aud: str = SERVICE,
    lifetime: float = 60,
    jti: str | None = None,
) -> str:
    now = time.time()
    claims = {
        "iss": iss,
        "aud": aud,
        "iat": int(now),
        "exp": int(now + lifetime),
        "jti": jti or str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def call(client: TestClient, bearer: str | None, path: str = "/cds-services/stroke-risk"):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    if path.endswith("stroke-risk"):
        return client.post(path, json={"hook": "patient-view"}, headers=headers)
    return client.get(path, headers=headers)


@pytest.fixture(scope="module")
def client(assessor, tmp_path_factory) -> TestClient:
    path = tmp_path_factory.mktemp("jwks") / "ehr.jwks.json"
    path.write_text(json.dumps(jwks()))
    settings = Settings(cds_trusted_issuers={ISSUER: str(path)}, cds_base_url=BASE_URL)
    return TestClient(build_app(lambda: assessor, settings))


def accepted(reply) -> bool:
    """Past the JWT check: the (deliberately incomplete) hook body is then refused with 400."""
    return reply.status_code == 400


@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(EC_KEY, "ES384", "ec-1"), (RSA_KEY, "RS384", "rsa-1")]
)
def test_a_jwt_from_a_trusted_issuer_is_accepted(client, key, alg, kid) -> None:
    assert accepted(call(client, token(key, alg, kid)))


def test_discovery_needs_a_jwt_for_its_own_url(client) -> None:
    assert call(client, None, "/cds-services").status_code == 401
    good = token(aud="http://testserver/cds-services")
    assert call(client, good, "/cds-services").status_code == 200


def refusal(client, bearer) -> str:
    reply = call(client, bearer)
    assert reply.status_code == 401, reply.text
    return reply.json()["error"]


def test_no_token_is_refused(client) -> None:
    assert "missing bearer JWT" in refusal(client, None)


def test_a_wrong_issuer_is_refused(client) -> None:
    assert "not trusted" in refusal(
        client, token(STRANGER_KEY, iss="https://elsewhere.example.org")
    )


def test_a_trusted_issuer_name_signed_with_another_key_is_refused(client) -> None:
    assert "refused" in refusal(client, token(STRANGER_KEY))


def test_a_wrong_audience_is_refused(client) -> None:
    assert "aud must be" in refusal(
        client, token(aud="https://other.example.org/cds-services/stroke-risk")
    )


def test_an_expired_token_is_refused(client) -> None:
    assert "expired" in refusal(client, token(lifetime=-60))


def test_a_token_living_longer_than_five_minutes_is_refused(client) -> None:
    assert "5 minutes" in refusal(client, token(lifetime=3600))


def test_a_replayed_jti_is_refused(client) -> None:
    once = token(jti="the-same-jti")
    assert accepted(call(client, once))
    assert "replay" in refusal(client, once)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    return head + "." + _b64(signature)


def _claims() -> dict:
    now = int(time.time())
    return {"iss": ISSUER, "aud": SERVICE, "exp": now + 60, "jti": str(uuid.uuid4())}


def test_alg_none_is_refused(client) -> None:
    assert "algorithm refused" in refusal(
        client, _unsigned({"alg": "none", "kid": "ec-1"}, _claims())
    )


def test_hs256_signed_with_the_public_key_as_secret_is_refused(client) -> None:
    public_pem = EC_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "ec-1"}
    unsigned = _unsigned(header, _claims()).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    assert "algorithm refused" in refusal(client, unsigned + "." + _b64(signature))


def test_a_token_that_is_not_a_jwt_is_refused(client) -> None:
    assert "not a JWT" in refusal(client, "an-api-key")


def test_an_issuers_jwks_url_is_fetched(assessor) -> None:
    body = json.dumps(jwks()).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
        settings = Settings(cds_trusted_issuers={ISSUER: url}, cds_base_url=BASE_URL)
        client = TestClient(build_app(lambda: assessor, settings))
        assert accepted(call(client, token()))
    finally:
        server.shutdown()
        server.server_close()


def test_only_an_open_service_warns_at_start(assessor, caplog, tmp_path) -> None:
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks()))
    with caplog.at_level(logging.WARNING, logger="stroke_risk.fhir"):
        build_app(lambda: assessor, Settings())
        build_app(lambda: assessor, Settings(), api_keys=["k1"])
        build_app(
            lambda: assessor,
            Settings(cds_trusted_issuers={ISSUER: str(keys)}, cds_base_url=BASE_URL),
        )
    warnings = [r for r in caplog.records if "open to anyone" in r.getMessage()]
    assert len(warnings) == 1


def test_trusted_issuers_are_read_from_the_environment_as_json(monkeypatch) -> None:
    monkeypatch.setenv(
        "STROKE_CDS_TRUSTED_ISSUERS", '{"https://ehr.example.org": "/keys/ehr.json"}'
    )
    monkeypatch.setenv("STROKE_CDS_ALLOWED_ORIGINS", "https://a.example.org, https://b.example.org")
    monkeypatch.setenv("STROKE_CDS_BASE_URL", "https://risk.example.org")
    settings = Settings()
    assert settings.cds_trusted_issuers == {"https://ehr.example.org": "/keys/ehr.json"}
    assert settings.cds_allowed_origins == ["https://a.example.org", "https://b.example.org"]


def _app_trusting(assessor, tmp_path, issuer: str, **settings):
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks()))
    trusted = Settings(cds_trusted_issuers={issuer: str(keys)}, cds_base_url=BASE_URL, **settings)
    return TestClient(build_app(lambda: assessor, trusted))


def test_without_an_allow_list_a_trusted_caller_may_name_only_its_issuers_own_server(
    assessor, tmp_path
) -> None:
    from tests.fhir.fhir_server import FhirServerState, fhir_server
    from tests.fhir.test_cds_fetching import TOKEN, hook_without_prefetch, record

    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        own = _app_trusting(assessor, tmp_path, url)
        stranger = _app_trusting(assessor, tmp_path, ISSUER)
        headers = {"Authorization": f"Bearer {token(iss=url)}"}
        read = own.post(
            "/cds-services/stroke-risk", json=hook_without_prefetch(url), headers=headers
        )
        assert read.status_code == 200 and "%" in read.json()["cards"][0]["summary"]
        seen = len(state.requests)
        assert seen
        headers = {"Authorization": f"Bearer {token()}"}
        other = stranger.post(
            "/cds-services/stroke-risk", json=hook_without_prefetch(url), headers=headers
        )
    assert "may not read from that fhirServer" in other.json()["cards"][0]["summary"]
    assert len(state.requests) == seen


# --- no input reaches a 5xx, and no refusal says more than its rule ---------------------


def test_rs384_naming_the_ec_keys_kid_is_a_401_on_every_cds_route(client) -> None:
    """PyJWT raised TypeError ('Expecting a PEM-formatted key') here: a 500 to anyone."""
    forged = _unsigned({"alg": "RS384", "kid": "ec-1"}, {"iss": ISSUER}, b"\x00\x00\x00")
    complete = _unsigned({"alg": "RS384", "kid": "ec-1"}, _claims(), b"\x00\x00\x00")
    for bearer in (forged, complete):
        for path in ("/cds-services", "/cds-services/stroke-risk"):
            reply = call(client, bearer, path)
            assert reply.status_code == 401 and len(reply.content) < 200, reply.text


def test_a_validly_signed_token_whose_exp_is_a_string_is_a_401(client) -> None:
    claims = {**_claims(), "exp": str(int(time.time()) + 60)}
    signed = jwt.encode(claims, EC_KEY, algorithm="ES384", headers={"kid": "ec-1"})
    assert "exp a number" in refusal(client, signed)


@pytest.mark.parametrize(
    ("body", "internal"),
    [
        (b'{"hook": "patient-view", "n": ' + b"9" * 5000 + b"}", "digits"),
        (b'{"hook": "patient-view\xff"}', "codec"),
    ],
    ids=["5000 digits", "not UTF-8"],
)
@pytest.mark.parametrize(
    "path", ["/cds-services/stroke-risk", "/cds-services/stroke-risk/feedback"]
)
def test_python_internals_are_never_echoed_to_an_unauthenticated_caller(
    assessor, path: str, body: bytes, internal: str
) -> None:
    """An open service (no issuers, no keys) repeated the JSON parser's own words: "Exceeds
    the limit (4300 digits)", "'utf-8' codec can't decode byte 0xff"."""
    open_app = TestClient(build_app(lambda: assessor, Settings(), warn_when_open=False))
    reply = open_app.post(path, content=body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert internal not in reply.text and "the body is not JSON" in reply.text


def test_a_jwks_url_that_fails_is_a_fixed_401_naming_neither_url_nor_error(assessor) -> None:
    settings = Settings(
        cds_trusted_issuers={ISSUER: "http://127.0.0.1:9/jwks.json"}, cds_base_url=BASE_URL
    )
    client = TestClient(build_app(lambda: assessor, settings))
    text = refusal(client, token())
    assert text == "the issuer's keys could not be read"


# The JWKS's own key types (EC P-384, RSA), the accepted algorithms and their neighbours,
# and claims of every JSON type: whatever the header, claims and signature, the verifier
# answers with its claims or a Refused, never another exception.
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["ES384", "RS384", "ES256", "RS256", "HS256", "none", "PS384"])},
    optional={
        "kid": st.sampled_from(["ec-1", "rsa-1", "nope"]) | _json_values,
        "typ": _json_values,
        "jku": st.just("http://127.0.0.1:9/keys"),
    },
)
_claims_strategy = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.just(ISSUER) | _json_values,
        "aud": st.just(SERVICE) | _json_values,
        "exp": st.integers(min_value=0, max_value=2**40) | _json_values,
        "jti": st.uuids().map(str) | _json_values,
        "iat": _json_values,
        "nbf": _json_values,
    },
)


@st.composite
def malformed_tokens(draw) -> str:
    header, claims = draw(_headers), draw(_claims_strategy)
    how = draw(st.sampled_from(["unsigned", "ec", "rsa", "text"]))
    if how == "text":
        return draw(st.text(alphabet="abcXYZ09-_.=", max_size=300))
    if how == "unsigned":
        return _unsigned(header, claims, draw(st.binary(max_size=600)))
    key, alg = (EC_KEY, "ES384") if how == "ec" else (RSA_KEY, "RS384")
    extra = {k: v for k, v in header.items() if k != "alg"}
    try:
        return jwt.encode(claims, key, algorithm=alg, headers=extra)
    except (TypeError, ValueError, jwt.PyJWTError):  # what PyJWT cannot even encode
        return _unsigned(header, claims, b"sig")


@pytest.fixture(scope="module")
def verifier(tmp_path_factory) -> JwtVerifier:
    path = tmp_path_factory.mktemp("jwks-property") / "ehr.jwks.json"
    path.write_text(json.dumps(jwks()))
    return JwtVerifier({ISSUER: str(path)})


@hypothesis.settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bearer=malformed_tokens())
def test_no_token_makes_the_verifier_raise_anything_but_a_refusal(verifier, bearer) -> None:
    try:
        verifier.verify(f"Bearer {bearer}", SERVICE)
    except Refused as error:
        assert str(error) in REFUSALS


@hypothesis.settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bearer=malformed_tokens())
def test_no_token_gets_a_cds_route_to_answer_anything_but_a_short_401(client, bearer) -> None:
    reply = call(client, bearer, "/cds-services")
    assert reply.status_code in (200, 401), reply.text
    if reply.status_code == 401:
        assert reply.json()["error"] in REFUSALS


# --- aud never comes from the request --------------------------------------------------


def test_aud_is_never_taken_from_the_requests_host_header(assessor, tmp_path) -> None:
    """A token minted for another CDS service the same EHR talks to must not be replayable
    here by naming that service's host."""
    client = _app_trusting(assessor, tmp_path, ISSUER)
    other = "http://other-cds.example/cds-services/stroke-risk"
    for headers in (
        {"Host": "other-cds.example"},
        {"Host": "other-cds.example", "X-Forwarded-Proto": "https"},
    ):
        for aud in (other, other.replace("http:", "https:")):
            reply = client.post(
                "/cds-services/stroke-risk",
                json={"hook": "patient-view"},
                headers={**headers, "Authorization": f"Bearer {token(aud=aud)}"},
            )
            assert reply.status_code == 401 and "aud" in reply.json()["error"]


def test_trusted_issuers_without_a_base_url_refuse_to_start(monkeypatch, refused_settings) -> None:
    monkeypatch.setenv("STROKE_CDS_TRUSTED_ISSUERS", json.dumps({ISSUER: "/keys/ehr.json"}))
    monkeypatch.delenv("STROKE_CDS_BASE_URL", raising=False)
    assert "STROKE_CDS_BASE_URL must be set" in refused_settings()
