"""Who may call the CDS Hooks routes: a CDS client's JWT (CDS Hooks 2.0 "Trusting CDS
Clients"), or, when no issuers are configured, the service's API keys.

The JWT checks, all with PyJWT and ``cryptography``: signed with ES384 or RS384 by a key
from a trusted issuer's JWKS (so ``alg: none`` and HS256-with-the-public-key are refused
by construction); ``aud`` is the URL called; ``exp`` is in the future and at most five
minutes away; ``jti`` has not been seen before from that issuer. Seen ``jti``s are kept
in memory until they expire, per worker process: a replay to another worker of a
multi-worker deployment is not detected (README, "Connecting an EHR").
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jwt

from stroke_risk.core.api_keys import KeyRing, given_key

ALGORITHMS = ["ES384", "RS384"]
MAX_LIFETIME_SECONDS = 300
LEEWAY_SECONDS = 5


class Refused(Exception):
    """A call that is not authorised; the message says why (never echoes the token)."""


def api_key_is_valid(authorization: str, x_api_key: str, api_keys: Iterable[str]) -> bool:
    """The API-key rule of the prediction routes (``Bearer <key>`` or ``X-API-Key``),
    compared as they compare it: in constant time, over every key."""
    ring = api_keys if isinstance(api_keys, KeyRing) else KeyRing(api_keys)
    return bool(len(ring)) and ring.accepts(given_key(authorization.encode(), x_api_key.encode()))


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

    def key_for(self, token: str, kid: str | None) -> Any:
        try:
            if self.client is not None:
                return self.client.get_signing_key_from_jwt(token).key
            assert self.keys is not None  # nosec B101  # invariant of __init__; fails closed under -O
            for key in self.keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
        except jwt.PyJWKClientError as error:
            raise Refused(f"the issuer's keys could not be read: {error}") from None
        raise Refused(f"no key with kid '{kid}' in the issuer's JWKS")


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
        """The token's claims, or :class:`Refused` saying which rule it broke."""
        if authorization[:7].lower() != "bearer ":
            raise Refused("missing bearer JWT: send 'Authorization: Bearer <jwt>'")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused("the bearer token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise Refused(f"JWT algorithm '{header.get('alg')}' refused: use ES384 or RS384")
        issuer = unverified.get("iss")
        source = self.sources.get(issuer) if isinstance(issuer, str) else None
        if source is None:
            raise Refused("the JWT's issuer is not trusted (STROKE_CDS_TRUSTED_ISSUERS)")
        key = source.key_for(token, header.get("kid"))
        accepted = {audience, audience.rstrip("/"), audience.rstrip("/") + "/"}
        now = self.clock()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=list(accepted),
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "jti"], "verify_iat": False},
            )
        except jwt.InvalidAudienceError:
            raise Refused(f"the JWT's aud must be this endpoint's URL, {audience}") from None
        except jwt.ExpiredSignatureError:
            raise Refused("the JWT has expired") from None
        except jwt.PyJWTError as error:
            raise Refused(f"the JWT was refused: {error}") from None
        if claims["exp"] > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
            raise Refused("the JWT's exp is more than 5 minutes away")
        self._remember(issuer, str(claims["jti"]), float(claims["exp"]), now)
        return claims

    def _remember(self, issuer: str, jti: str, expires: float, now: float) -> None:
        with self._lock:
            for key in [k for k, exp in self._seen.items() if exp + LEEWAY_SECONDS < now]:
                del self._seen[key]
            if (issuer, jti) in self._seen:
                raise Refused("the JWT's jti was already used (replay refused)")
            self._seen[(issuer, jti)] = expires
