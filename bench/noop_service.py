"""The framework's ceiling: a BentoML service that validates the same patient and returns a
constant. The real service is measured as a ratio against this, in the same run."""

from __future__ import annotations

import bentoml
from pydantic import BaseModel
from starlette.responses import Response

from stroke_risk.config import get_settings
from stroke_risk.schema import Patient

CONSTANT = b'{"probability": 0.05, "risk_band": "moderate"}'


class Constant(BaseModel):
    probability: float
    risk_band: str


# The same traffic settings as the service: the baseline must differ only in the work done.
@bentoml.service(name="noop", workers=1, traffic={"timeout": get_settings().request_timeout})
class Noop:
    @bentoml.api(route="/predict", output_spec=Constant)
    async def predict(self, patient: Patient, /) -> Response:
        return Response(CONSTANT, media_type="application/json")
