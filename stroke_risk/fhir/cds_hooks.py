"""CDS Hooks 2.0: the discovery document, the patient-view request, its card, feedback.

Shapes follow the specification (cds-hooks.hl7.org/2.0) and its reference sandbox: a
card's summary is at most 140 characters and links to more (the served model card among
them). The indicator is ``info`` unless the model's outcome record allows alerting (an
incident outcome, externally validated: OutcomeSummary.cds_indicator); only then does it
follow the band. A stroke-history number is never a ``warning`` or ``critical`` alert.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stroke_risk.fhir.codes import code_lists
from stroke_risk.fhir.estimate import Estimate
from stroke_risk.fhir.mapping import FhirInputError, parse_resource, resources_of_bundle
from stroke_risk.fhir.texts import details, outcome_of, summary

SERVICE_ID = "stroke-risk"


def observation_codes() -> list[str]:
    """Every LOINC code the mapping reads, for the prefetch query and the FHIR search."""
    lists = code_lists()
    bmi = lists["bmi"]
    codes = [
        *lists["glucose"]["loinc"],
        *bmi["loinc"],
        *bmi["weight_loinc"],
        *bmi["height_loinc"],
        *lists["smoking"]["loinc"],
    ]
    return [f"http://loinc.org|{code}" for code in codes]


def prefetch_templates() -> dict[str, str]:
    return {
        "patient": "Patient/{{context.patientId}}",
        "observations": "Observation?patient={{context.patientId}}&code="
        + ",".join(observation_codes()),
        "fieldObservations": "Observation?patient={{context.patientId}}&code="
        + ",".join(
            f"{code_lists()['non_clinical']['system']}|{c}"
            for c in ("work_type", "residence_type", "ever_married")
        ),
        "conditions": "Condition?patient={{context.patientId}}",
    }


def discovery() -> dict[str, Any]:
    return {
        "services": [
            {
                "hook": "patient-view",
                "id": SERVICE_ID,
                "title": "Stroke-risk model",
                "description": "The loaded model's calibrated estimate (the card says what it "
                "is: a stroke history among similar adults, or a risk within a horizon), with "
                "its drivers and what-ifs, from the patient's record. Decision support, not a "
                "diagnosis.",
                "prefetch": prefetch_templates(),
                "usageRequirements": "Needs Patient (birthDate, gender), glucose, BMI or weight "
                "and height, smoking status Observations, and Conditions.",
            }
        ]
    }


# FHIR's id type (R4 datatypes.html#id): the patient id goes into the FHIR server's URL.
FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"
# Feedback items per request: one per card shown, and this service shows one card.
MAX_FEEDBACK_ITEMS = 20


class CdsContext(BaseModel):
    model_config = ConfigDict(extra="allow")
    patientId: str = Field(pattern=FHIR_ID)
    userId: str | None = None
    encounterId: str | None = None


class FhirAuthorization(BaseModel):
    model_config = ConfigDict(extra="allow")
    access_token: str
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None


class CdsRequest(BaseModel):
    """The standard hook request; prefetch keys are those of :func:`prefetch_templates`."""

    model_config = ConfigDict(extra="allow")
    hook: Literal["patient-view"]
    hookInstance: str = Field(min_length=1)
    context: CdsContext
    fhirServer: str | None = None
    fhirAuthorization: FhirAuthorization | None = None
    prefetch: dict[str, Any] | None = None


class FeedbackOutcome(BaseModel):
    model_config = ConfigDict(extra="allow")
    card: uuid.UUID  # the uuid of a card this service returned
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: dt.datetime
    acceptedSuggestions: list[dict[str, Any]] | None = None
    overrideReason: dict[str, Any] | None = None


class Feedback(BaseModel):
    model_config = ConfigDict(extra="allow")
    feedback: list[FeedbackOutcome] = Field(min_length=1, max_length=MAX_FEEDBACK_ITEMS)


def resources_from_prefetch(prefetch: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """Parsed resources from the prefetch, and which prefetch keys were missing or null."""
    resources: list[Any] = []
    missing = []
    for key in prefetch_templates():
        value = prefetch.get(key)
        if value is None:
            missing.append(key)
            continue
        if not isinstance(value, dict):
            raise FhirInputError(
                f"prefetch.{key} must be a FHIR resource or null", f"prefetch.{key}"
            )
        if value.get("resourceType") == "Bundle":
            try:
                resources += resources_of_bundle(value)
            except FhirInputError as error:
                raise FhirInputError(error.message, f"prefetch.{key}: {error.location}") from None
        else:
            try:
                resource = parse_resource(value)
            except FhirInputError as error:
                raise FhirInputError(error.message, f"prefetch.{key}: {error.location}") from None
            if resource is not None:
                resources.append(resource)
    return resources, missing


def source(model_card_url: str | None) -> dict[str, str]:
    """A card's source: the model, linking to its model card when one is known."""
    label = {"label": "Stroke-risk model (see its model card)"}
    return {**label, "url": model_card_url} if model_card_url else label


def card(
    estimate: Estimate,
    model_card_url: str | None,
    app_url: str | None,
    published_card_url: str | None = None,
) -> dict[str, Any]:
    """The one card of a patient-view answer. ``model_card_url`` is the served card of the
    model that answered; ``published_card_url`` an optional page about the project."""
    band = (estimate.result or {}).get("risk_band") if estimate.outcome == "scored" else None
    body: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": summary(estimate),
        "indicator": outcome_of(estimate).cds_indicator(band),
        "detail": details(estimate),
        "source": source(model_card_url),
    }
    links = []
    if model_card_url:
        links.append(
            {
                "label": "Model card: what this number is and how it was validated",
                "url": model_card_url,
                "type": "absolute",
            }
        )
    if published_card_url and published_card_url != model_card_url:
        links.append(
            {
                "label": "Published model documentation",
                "url": published_card_url,
                "type": "absolute",
            }
        )
    if app_url:
        links.append({"label": "Open the stroke-risk app", "url": app_url, "type": "absolute"})
    if links:
        body["links"] = links
    return body
