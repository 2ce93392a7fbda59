"""Who may call the CDS Hooks routes: a CDS client's JWT (CDS Hooks 2.0 "Trusting CDS
Clients"), or, when no issuers are configured, the service's API keys.

The JWT checks, all with PyJWT and ``cryptography``: signed with ES384 or RS384 by a key
from a trusted issuer's JWKS (so ``alg: none`` and HS256-with-the-public-key are refused
by construction); ``aud`` is the URL called; ``exp`` is in the future and at most five
minutes away; ``jti`` has not been seen before from that issuer. Seen ``jti``s are kept
in memory until they expire, per worker process: a replay to another worker of a
multi-worker deployment is not detected (docs/ehr/cds-hooks.md, docs/ehr/security.md).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jwt

from stroke_risk.core.api_keys import KeyRing, given_key

ALGORITHMS = ["ES384", "RS384"]
# The JWK key type each accepted algorithm needs: a token may name the kid of a key of
# another type (RS384 with the EC key's kid), which PyJWT would try to use anyway.
KEY_TYPE = {"ES384": "EC", "RS384": "RSA"}
MAX_LIFETIME_SECONDS = 300
LEEWAY_SECONDS = 5
# A CDS client's JWT is a few hundred bytes; anything far longer is not one.
MAX_TOKEN_CHARS = 8192

logger = logging.getLogger("stroke_risk.fhir")

# What a refused caller is told: one fixed sentence per rule, never the token, a claim,
# a library's exception text or anything else the caller sent (CDS Hooks 2.0 asks for a
# 401; an unauthenticated caller learns which rule failed, nothing more).
MISSING = "missing bearer JWT: send 'Authorization: Bearer <jwt>'"
NOT_A_JWT = "the bearer token is not a JWT"
BAD_ALGORITHM = "JWT algorithm refused: use ES384 or RS384"
UNTRUSTED = "the JWT's issuer is not trusted (STROKE_CDS_TRUSTED_ISSUERS)"
KEYS_UNREADABLE = "the issuer's keys could not be read"
NO_KEY = "no key of the issuer's JWKS matches the JWT's kid and algorithm"
BAD_CLAIMS = "the JWT's iss, aud, exp and jti must be present: exp a number, jti a string"
WRONG_AUDIENCE = "the JWT's aud must be this endpoint's URL (STROKE_CDS_BASE_URL and the path)"
EXPIRED = "the JWT has expired"
TOO_LONG = "the JWT's exp is more than 5 minutes away"
BAD_SIGNATURE = "the JWT was refused: its signature or claims do not verify"
REPLAYED = "the JWT's jti was already used (replay refused)"


class Refused(Exception):
    """A call that is not authorised; the message is one of the fixed sentences above."""


def api_key_is_valid(authorization: str, x_api_key: str, api_keys: Iterable[str]) -> bool:
    """The API-key rule of the prediction routes (``Bearer <key>`` or ``X-API-Key``),
    compared as they compare it: in constant time, over every key."""
    ring = api_keys if isinstance(api_keys, KeyRing) else KeyRing(api_keys)
    return bool(len(ring)) and ring.accepts(given_key(authorization.encode(), x_api_key.encode()))


def _matching(key: jwt.PyJWK, kid: Any, alg: str) -> bool:
    """Whether ``key`` may check a token with this header: the same kid (when the token
    names one) and the key type the algorithm needs."""
    return (kid is None or key.key_id == kid) and key.key_type == KEY_TYPE[alg]


class JwksSource:
    """An issuer's keys: a JWKS URL (fetched and cached by PyJWT) or a JWKS file."""

    def __init__(self, location: str, timeout: float) -> None:
        self.location = location
        if location.startswith(("https://", "http://")):
            self.client: jwt.PyJWKClient | None = jwt.PyJWKClient(
                location, timeout=int(timeout) or 1
            )
            self.keys: jwt.PyJWKSet | None = None
        else:
            self.client = None
            self.keys = jwt.PyJWKSet.from_dict(json.loads(Path(location).read_text()))

    def key_for(self, token: str, kid: Any, alg: str) -> Any:
        """The issuer's key for this token, or :class:`Refused`."""
        try:
            if self.client is not None:
                candidates = [self.client.get_signing_key_from_jwt(token)]
            else:
                assert self.keys is not None  # nosec B101  # invariant of __init__
                candidates = list(self.keys.keys)
        except jwt.PyJWKClientError as error:
            if "matches" in str(error):  # PyJWT: no key with that kid in the fetched set
                raise Refused(NO_KEY) from None
            logger.warning("JWKS %s could not be read: %s", self.location, type(error).__name__)
            raise Refused(KEYS_UNREADABLE) from None
        except Exception as error:  # a malformed JWKS or token header: never a 500
            logger.warning("JWKS %s could not be used: %s", self.location, type(error).__name__)
            raise Refused(KEYS_UNREADABLE) from None
        for key in candidates:
            if _matching(key, kid, alg):
                return key.key
        raise Refused(NO_KEY)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class JwtVerifier:
    """Verifies CDS clients' bearer JWTs against the trusted issuers."""

    def __init__(
        self,
        issuers: dict[str, str],
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = {
            issuer: JwksSource(location, timeout) for issuer, location in issuers.items()
        }
        self.clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def verify(self, authorization: str, audience: str) -> dict[str, Any]:
        """The token's claims, or :class:`Refused` (and nothing else) saying which rule it
        broke: tests/fhir/test_cds_security.py feeds it malformed tokens of every kind."""
        if authorization[:7].lower() != "bearer ":
            raise Refused(MISSING)
        token = authorization[7:].strip()
        if len(token) > MAX_TOKEN_CHARS:
            raise Refused(NOT_A_JWT)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except Exception:  # PyJWT's errors, and json's for digits or bytes it refuses
            raise Refused(NOT_A_JWT) from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise Refused(BAD_ALGORITHM)
        issuer = unverified.get("iss")
        source = self.sources.get(issuer) if isinstance(issuer, str) else None
        if source is None:
            raise Refused(UNTRUSTED)
        if not _is_number(unverified.get("exp")) or not isinstance(unverified.get("jti"), str):
            raise Refused(BAD_CLAIMS)
        key = source.key_for(token, header.get("kid"), alg)
        accepted = {audience, audience.rstrip("/"), audience.rstrip("/") + "/"}
        now = self.clock()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=list(accepted),
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "jti"], "verify_iat": False},
            )
        except jwt.InvalidAudienceError:
            raise Refused(WRONG_AUDIENCE) from None
        except jwt.ExpiredSignatureError:
            raise Refused(EXPIRED) from None
        except jwt.MissingRequiredClaimError:
            raise Refused(BAD_CLAIMS) from None
        except Exception:  # PyJWT's other refusals, and a key it cannot use: never a 500
            raise Refused(BAD_SIGNATURE) from None
        if claims["exp"] > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
            raise Refused(TOO_LONG)
        self._remember(issuer, claims["jti"], float(claims["exp"]), now)
        return claims

    def _remember(self, issuer: str, jti: str, expires: float, now: float) -> None:
        with self._lock:
            for key in [k for k, exp in self._seen.items() if exp + LEEWAY_SECONDS < now]:
                del self._seen[key]
            if (issuer, jti) in self._seen:
                raise Refused(REPLAYED)
            self._seen[(issuer, jti)] = expires
