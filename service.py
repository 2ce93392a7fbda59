"""The stroke-risk HTTP API: validated patients in, calibrated and explained risk out.

    bentoml serve service.py --port 3000      (or `make serve`)

The patient model, the scoring and the explanations live in the `stroke_risk` package;
this file only wires them to BentoML.
"""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

import anyio.to_thread
import bentoml
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.responses import Response

from stroke_risk.assessment.model_loading import assessor_from_stored, load_assessor
from stroke_risk.assessment.results import encode_batch_pieces, encode_json
from stroke_risk.core.api_keys import serving, startup_refusal, startup_summary
from stroke_risk.core.config import get_settings
from stroke_risk.core.responses import Assessment, BatchResults
from stroke_risk.core.schema import Patient, PatientBatch
from stroke_risk.scoring.store import load_lean, model_exists
from stroke_risk.serving import connection_intake, graceful_shutdown
from stroke_risk.serving.api_guard import ApiGuard, RequestIdInAccessLog, body_limits
from stroke_risk.serving.batch_admission import BatchAdmission
from stroke_risk.serving.header_limit import install as limit_request_headers
from stroke_risk.serving.large_body_parsing import install as parse_large_bodies_in_a_thread
from stroke_risk.serving.model_card_routes import ServedModelCard
from stroke_risk.serving.openapi import OpenApiDocument
from stroke_risk.serving.pieces_response import PiecesResponse
from stroke_risk.serving.process_memory import map_large_blocks_separately
from stroke_risk.serving.request_timeout import install as install_request_timeout
from stroke_risk.serving.worker_respawn import respawn_crashed_workers

logger = logging.getLogger("stroke_risk.service")
GIL_SWITCH_SECONDS = 0.0005
settings = get_settings()


class _QuietValidationErrors(logging.Filter):
    """Log a refused request in one line: a validation traceback is noise, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ValidationError):
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("bentoml._internal.server.http_app").addFilter(_QuietValidationErrors())
logging.getLogger("bentoml.access").addFilter(RequestIdInAccessLog())


def _worker_count() -> int:
    """How many workers share the listening socket, counted as BentoML's allocator does."""
    if settings.workers != "cpu_count":
        return settings.workers
    from bentoml._internal.resource import system_resources

    return int(system_resources()["cpu"]) or 1


install_request_timeout()  # BentoML's own holds every request until its timeout expires
parse_large_bodies_in_a_thread()  # a batch's 2.3 MB of JSON would block health checks
graceful_shutdown.install(settings.shutdown_grace)  # SIGTERM: drain, then stop without resets
# Health checks accepted at once while batch bodies pour in (libuv takes one per loop turn).
connection_intake.install(settings.receive_buffer_bytes, workers=_worker_count())
respawn_crashed_workers()  # also inside the container, where BentoML would not
# A request's headers are counted as they arrive: 431 beyond STROKE_MAX_HEADER_BYTES.
limit_request_headers(settings.max_header_bytes)

# Keys, or anonymous access asked for by name (stroke_risk/core/api_keys.py).
if serving() and (refusal := startup_refusal(settings)) is not None:
    sys.stderr.write(f"error: {refusal}\n")
    raise SystemExit(2)

if not model_exists(settings.model_tag):
    # One line a person can act on, rather than a traceback from deep inside BentoML.
    sys.stderr.write(
        f"error: no model '{settings.model_tag}' in the BentoML model store: run `make train`\n"
    )
    raise SystemExit(2)


@bentoml.service(
    name="stroke_risk",
    workers=settings.workers,
    traffic={"timeout": settings.request_timeout},
    http={"cors": {"enabled": False}},
)
class StrokeRisk:
    """The loaded model's estimate as decision support, not a diagnosis: what the number
    is (a stroke history, or a risk within a horizon) is the model's own record, named in
    every reply's ``outcome`` and in the served model card (/model-card)."""

    model_ref = bentoml.models.BentoModel(settings.model_tag)

    def __init__(self) -> None:
        map_large_blocks_separately()  # a batch's big buffers go back to the system after it
        # Only the lean numpy model is loaded: its equality with the trained pipeline was
        # proven at training time and is checked again here from the stored evidence.
        stored = load_lean(self.model_ref)
        self.assessor = assessor_from_stored(stored, settings)
        self.model_card = stored.model_card  # served at /model-card(.json)
        logger.info("Loaded %s", self.assessor.model_tag)
        # Straight to stderr: the service's own INFO lines are not in BentoML's log setup.
        sys.stderr.write(f"{startup_summary(settings)}\n")
        # Everything loaded so far lives as long as the process: take it out of the cyclic
        # garbage collector's full passes, which otherwise rescan it and pause requests.
        # Collect first, so that start-up garbage is freed rather than frozen for good.
        gc.collect()
        gc.freeze()
        # A batch is scored in a thread while the event loop reads and answers the other
        # requests. Each of the loop's reads and writes gives up the GIL and then waits for
        # the scoring thread to hand it back, by default up to 5 ms each time; a shorter
        # interval keeps health checks and refusals fast while a batch runs (bench/README.md).
        sys.setswitchinterval(GIL_SWITCH_SECONDS)

    async def __is_ready__(self) -> bool:
        """Ready until told to stop: a draining worker sends the load balancer away."""
        return not graceful_shutdown.is_draining()

    @bentoml.api(route="/predict", output_spec=Assessment)
    async def predict(self, patient: Patient, /) -> Response:
        """One adult patient's estimate (what it is: the reply's ``outcome``), with its
        drivers and what-ifs."""
        # Inline: under a millisecond of work, less than a hop to a thread would cost.
        (result,) = self.assessor.assess([patient])
        return Response(encode_json(result), media_type="application/json")

    @bentoml.api(route="/predict_batch", output_spec=BatchResults)
    async def predict_batch(self, batch: PatientBatch, /) -> Response:
        """Many patients' estimates, in the order given (each names its ``outcome``)."""
        # In a thread, so the event loop answers health checks and single patients
        # meanwhile; BatchAdmission keeps the number of such threads small.
        results, pieces = await anyio.to_thread.run_sync(self._score_batch, batch.patients)
        # Sent piece by piece, with its length known: never joined into one 34 MB buffer
        # (encode_batch_pieces); the last piece ends the reply (pieces_response). Freeing a
        # 10,000-patient result's ~100,000 small objects takes about 20 ms: done once the
        # reply has been sent rather than before.
        return PiecesResponse(
            pieces, media_type="application/json", background=BackgroundTask(results.clear)
        )

    def _score_batch(self, patients: list[Patient]) -> tuple[list, list[memoryview]]:
        results = self.assessor.assess(patients)
        return results, encode_batch_pieces(results)


StrokeRisk.add_asgi_middleware(
    ApiGuard,
    api_keys=settings.api_keys,
    body_limits=body_limits(settings),
    docs=settings.docs,
    metrics=settings.metrics,
    model_version=lambda: bentoml.get_current_service().assessor.model_tag,
)
# Inside the guard (a caller without a key gets 401, not 503), before anything reads the body.
StrokeRisk.add_asgi_middleware(
    BatchAdmission,
    limit=settings.max_concurrent_batches,
    retry_after=settings.busy_retry_after,
)
# The loaded model's card, inside the guard (keyed like the docs).
StrokeRisk.add_asgi_middleware(
    ServedModelCard, card=lambda: bentoml.get_current_service().model_card
)

# --- EHR integration: FHIR R4 and CDS Hooks (stroke_risk/fhir; docs/ehr/) ---
# A mounted Starlette app: it reaches the service's assessor through BentoML's current
# service, speaks application/fhir+json and OperationOutcome, and sets CORS per route. It
# is built on its first request, so a deployment no EHR calls never imports FHIR's models.
from stroke_risk.fhir.lazy_app import LazyApp, warn_if_open  # noqa: E402

_cds_feedback = bentoml.metrics.Counter(
    name="cds_feedback",
    documentation="CDS Hooks card feedback received, by outcome (no patient data)",
    labelnames=["outcome"],
)


def _ehr_app() -> Any:
    from stroke_risk.fhir.mapping import build_model_classes
    from stroke_risk.fhir.routes import build_app

    app = build_app(
        lambda: bentoml.get_current_service().assessor,
        get_settings(),
        settings.api_keys,
        count_feedback=lambda outcome: _cds_feedback.labels(outcome=outcome).inc(),
        warn_when_open=False,
    )
    # What the first EHR request loads (FHIR's models, fhirpy, PyJWT) lives as long as the
    # process, like the model: built now and taken out of the cyclic collector's full
    # passes, as at start-up. Otherwise every fifteenth or so CDS call rescanned it (about
    # 5 ms; bench/README.md).
    build_model_classes()
    gc.collect()
    gc.freeze()
    return app


def _add_ehr_routes(document: dict) -> dict:
    from stroke_risk.fhir.openapi import merge_into

    return merge_into(document)


# `python service.py --openapi` (make clients) only writes the document: nothing is served,
# so nothing is open and there is nothing to warn about.
WRITING_OPENAPI = __name__ == "__main__" and sys.argv[1:] == ["--openapi"]
if not WRITING_OPENAPI:
    warn_if_open(settings.cds_trusted_issuers, settings.api_keys)
StrokeRisk.mount_asgi_app(LazyApp(_ehr_app), path="/", name="ehr-integration")
# --- end of EHR integration ---

# The OpenAPI document as a valid contract (stroke_risk/serving/openapi.py): our models'
# names, the errors, examples scored by the live model, and the EHR routes, which BentoML
# does not document itself.
StrokeRisk.add_asgi_middleware(
    OpenApiDocument,
    assess=lambda: bentoml.get_current_service().assessor.assess,
    additions=(_add_ehr_routes,),
    outcome=lambda: bentoml.get_current_service().assessor.outcome,
)

if WRITING_OPENAPI:
    # `python service.py --openapi`: the document /docs.json serves, without a server, for
    # the client generators (`make clients`).
    import json

    from stroke_risk.serving.openapi import contract

    document = json.loads(json.dumps(StrokeRisk.openapi_spec.asdict()))
    assessor = load_assessor(bentoml.models.get(settings.model_tag), settings)
    json.dump(
        contract(document, assessor.assess, (_add_ehr_routes,), assessor.outcome),
        sys.stdout,
        indent=1,
    )
