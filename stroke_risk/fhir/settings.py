"""Settings of the EHR integration, read from the environment (prefix ``STROKE_``).

Kept beside the FHIR code rather than in ``core.config`` so that a deployment without an
EHR never sees them; the names follow the same ``STROKE_<FIELD>`` rule.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class FhirSettings(BaseSettings):
    """How the FHIR and CDS Hooks routes authenticate, link and fetch."""

    model_config = SettingsConfigDict(env_prefix="STROKE_", extra="ignore")

    cds_trusted_issuers: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object: JWT issuer -> its JWKS URL or a JWKS file. When set, every "
        "CDS Hooks call needs a bearer JWT from one of them; unset, the API keys apply.",
    )
    cds_base_url: str | None = Field(
        default=None,
        description="This service's public base URL (e.g. https://risk.example.org), which "
        "JWTs must name in 'aud'. Unset: the URL the request arrived at.",
    )
    cds_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default=["*"], description="Browser origins allowed to call the CDS Hooks routes."
    )
    fhir_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call /fhir/risk-assessment (none by default).",
    )
    # No defaults: a card must not link to a guessed address. Unset, the card has no link.
    model_card_url: str | None = Field(
        default=None, description="Where a card's source links to: the published model card."
    )
    app_url: str | None = Field(default=None, description="The clinic app, linked from each card.")
    cds_fhir_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Base URLs (prefixes) of the FHIR servers the service may read missing "
        "prefetch data from. Unset: any server, but only for callers with a trusted JWT.",
    )
    fhir_fetch_timeout: float = Field(
        default=5.0, description="Seconds to fetch missing prefetch data from the EHR's server."
    )
    jwks_timeout: float = Field(default=5.0, description="Seconds to fetch an issuer's JWKS.")

    @field_validator(
        "cds_allowed_origins", "fhir_allowed_origins", "cds_fhir_servers", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)


@lru_cache
def get_fhir_settings() -> FhirSettings:
    return FhirSettings()
