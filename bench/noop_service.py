"""The framework's ceiling: a BentoML service that validates the same patient and returns a
constant. The real service is measured as a ratio against this, in the same run.

Its `/predict_batch` validates the same batch and answers with one typical result (3.45 KB,
the service's average over the data set's adults) per patient: what BentoML and
the transfer of the reply cost, without the scoring and explanations."""

from __future__ import annotations

import json
from pathlib import Path

import bentoml
import msgspec
from pydantic import BaseModel
from starlette.responses import Response

from stroke_risk.core.config import get_settings
from stroke_risk.core.schema import Patient, PatientBatch
from stroke_risk.serving.request_timeout import install as install_request_timeout

CONSTANT = b'{"probability": 0.05, "risk_band": "moderate"}'
# The service's reply for the adult whose reply is nearest the data set's adults' average
# size (3.45 KB: a 61-year-old woman, glucose 202, BMI not measured), as the service
# encodes it.
TYPICAL_RESULT = msgspec.json.encode(
    json.loads((Path(__file__).with_name("typical_result.json")).read_text())
)


class Constant(BaseModel):
    probability: float
    risk_band: str


class Constants(BaseModel):
    results: list[Constant]


# The same traffic settings as the service: the baseline must differ only in the work done.
settings = get_settings()
install_request_timeout()  # as the service does: the two must differ only in the work done


@bentoml.service(
    name="noop", workers=settings.workers, traffic={"timeout": settings.request_timeout}
)
class Noop:
    @bentoml.api(route="/predict", output_spec=Constant)
    async def predict(self, patient: Patient, /) -> Response:
        return Response(CONSTANT, media_type="application/json")

    @bentoml.api(route="/predict_batch", output_spec=Constants)
    async def predict_batch(self, batch: PatientBatch, /) -> Response:
        body = b'{"results":[' + b",".join([TYPICAL_RESULT] * len(batch.patients)) + b"]}"
        return Response(body, media_type="application/json")
