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

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.testclient import TestClient

from stroke_risk.core.config import Settings
from stroke_risk.fhir.routes import build_app

ISSUER = "https://ehr.example.org"
SERVICE = "http://testserver/cds-services/stroke-risk"
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
    settings = Settings(cds_trusted_issuers={ISSUER: str(path)})
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
    assert "algorithm 'none' refused" in refusal(
        client, _unsigned({"alg": "none", "kid": "ec-1"}, _claims())
    )


def test_hs256_signed_with_the_public_key_as_secret_is_refused(client) -> None:
    public_pem = EC_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": "ec-1"}
    unsigned = _unsigned(header, _claims()).rsplit(".", 1)[0]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    assert "HS256" in refusal(client, unsigned + "." + _b64(signature))


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
        settings = Settings(cds_trusted_issuers={ISSUER: url})
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
        build_app(lambda: assessor, Settings(cds_trusted_issuers={ISSUER: str(keys)}))
    warnings = [r for r in caplog.records if "open to anyone" in r.getMessage()]
    assert len(warnings) == 1


def test_trusted_issuers_are_read_from_the_environment_as_json(monkeypatch) -> None:
    monkeypatch.setenv(
        "STROKE_CDS_TRUSTED_ISSUERS", '{"https://ehr.example.org": "/keys/ehr.json"}'
    )
    monkeypatch.setenv("STROKE_CDS_ALLOWED_ORIGINS", "https://a.example.org, https://b.example.org")
    settings = Settings()
    assert settings.cds_trusted_issuers == {"https://ehr.example.org": "/keys/ehr.json"}
    assert settings.cds_allowed_origins == ["https://a.example.org", "https://b.example.org"]


def test_a_caller_with_a_trusted_jwt_may_name_any_fhir_server(client) -> None:
    from tests.fhir.fhir_server import FhirServerState, fhir_server
    from tests.fhir.test_cds_fetching import TOKEN, hook_without_prefetch, record

    state = FhirServerState(record(), TOKEN)
    with fhir_server(state) as url:
        reply = client.post(
            "/cds-services/stroke-risk",
            json=hook_without_prefetch(url),
            headers={"Authorization": f"Bearer {token()}"},
        )
    assert reply.status_code == 200 and "%" in reply.json()["cards"][0]["summary"]
    assert state.requests
