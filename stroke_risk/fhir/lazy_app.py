"""The EHR routes, built on their first request, and the start-up warning about them.

Importing the routes pulls in fhir.resources' R4 models, fhirpy and PyJWT: about 29 MB in
every service process (bench/README.md), paid by deployments no EHR ever calls. The
service mounts :class:`LazyApp` instead, which imports and builds them when the first
request for them arrives; nothing here imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

logger = logging.getLogger("stroke_risk.fhir")

OPEN_WARNING = (
    "The CDS Hooks routes are open to anyone: set STROKE_CDS_TRUSTED_ISSUERS "
    "(or STROKE_API_KEYS) before connecting an EHR"
)

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

# The EHR routes' paths (stroke_risk/fhir/routes.py builds them; a test keeps the two in
# step). BentoML's mount matches a Starlette app by its routes, so the lazy app must know
# them: a mount that matched every path would hide BentoML's own, /docs.json among them.
EHR_PATHS: tuple[str, ...] = (
    "/fhir/risk-assessment",
    "/cds-services",
    "/cds-services/stroke-risk",
    "/cds-services/stroke-risk/feedback",
)


def warn_if_open(trusted_issuers: dict[str, str], api_keys: list[str] | tuple[str, ...]) -> None:
    """One warning at start when neither JWT issuers nor API keys protect the CDS routes."""
    if not trusted_issuers and not api_keys:
        logger.warning(OPEN_WARNING)


class _BuiltOnFirstCall:
    """An ASGI app that builds the real one on its first request."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)


class LazyApp(Starlette):
    """The EHR routes' paths, each handing its requests (any method, CORS preflights too)
    to the app ``build`` returns, built on the first of them."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        inner = _BuiltOnFirstCall(build)
        super().__init__(routes=[Route(path, endpoint=inner) for path in EHR_PATHS])
