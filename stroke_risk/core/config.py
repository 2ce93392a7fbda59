"""Every setting in one place, read from the environment (prefix ``STROKE_``).

Why one class: training, the service, the app and the deployment scripts must agree on
names such as the model's tag and the risk-band thresholds, and an operator should be
able to change them without touching code.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stroke_risk.core.allowed_urls import allowed_bases

REPO_ROOT = Path(__file__).resolve().parents[2]

DATA_FILE_NAME = "healthcare-dataset-stroke-data.csv"
DATA_URL = (
    "https://raw.githubusercontent.com/Nakulbajaj101/mlbookzoomcamp-midterm-stroke-prediction/"
    "main/healthcare-dataset-stroke-data.csv"
)
DATA_SHA256 = "644d473b05d2797006bd94865e4f8bb057f0c721617911613c82c8fcfc707420"
MODEL_NAME = "stroke_risk_model"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Runtime configuration; each field maps to ``STROKE_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="STROKE_", extra="ignore")

    # Data
    data: Path | None = Field(
        default=None, description="Local copy of the data set to use instead of downloading it."
    )
    data_url: str = DATA_URL
    data_path: Path = REPO_ROOT / DATA_FILE_NAME

    # Model
    model_tag: str = Field(default=f"{MODEL_NAME}:latest", description="Model store tag to serve.")

    # Risk bands: a probability below the first threshold is "low", below the second
    # "moderate", otherwise "high". The defaults bracket the data set's 4.9% base rate.
    risk_band_thresholds: Annotated[list[float], NoDecode] = [0.05, 0.15]

    # Healthy values. Glucose is the one what-if target; BMI has no what-if (these data
    # cannot estimate its effect), so above healthy_bmi the reply adds guideline advice.
    healthy_bmi: float = Field(
        default=24.9,
        description="kg/m², top of the healthy range: above it, guideline advice on weight "
        "(not a what-if target)",
    )
    healthy_glucose: float = Field(
        default=99.0, description="mg/dL, top of the normal range: the glucose what-if's target"
    )

    # Explanations: how many contributing factors each result lists.
    top_factors: int = 5

    # Service
    max_batch_size: int = 10_000
    # One worker process per CPU: a worker serves one request at a time on one core, so a
    # single worker leaves the other cores idle (bench/README.md). BentoML's "cpu_count"
    # reads the container's CPU quota, so a 1-vCPU Fargate task gets one worker.
    workers: Annotated[int, Field(ge=1)] | Literal["cpu_count"] = Field(
        default="cpu_count",
        description="Service worker processes: a number, or 'cpu_count' for one per CPU.",
    )
    # A request still unanswered after this long is answered 504 rather than left hanging:
    # 10,000 patients take about 0.25 s on one core of the development machine. (BentoML's
    # own timeout held every request for this long; stroke_risk/request_timeout.py.)
    request_timeout: float = Field(
        default=5.0,
        description="Seconds before a request is answered 504. 10,000 patients take about "
        "0.25 s on one core of the development machine.",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # App: where it finds the service, and with which key
    api_url: str = Field(default="http://127.0.0.1:3000", description="Base URL of the service.")
    api_key: str | None = Field(default=None, description="Sent as 'Authorization: Bearer'.")
    connect_timeout: float = Field(default=5.0, description="Seconds to reach the service.")
    # A 10,000-patient chunk takes a few seconds on a small machine; one patient far less.
    read_timeout: float = Field(default=30.0, description="Seconds to wait for an answer.")

    # EHR integration (stroke_risk/fhir): how the FHIR and CDS Hooks routes authenticate,
    # link and fetch.
    cds_trusted_issuers: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object: JWT issuer -> its JWKS URL or a JWKS file. When set, every "
        "CDS Hooks call needs a bearer JWT from one of them; unset, the API keys apply.",
    )
    # Never taken from the request (Host, X-Forwarded-*): a token another CDS service
    # received could then be replayed here by naming that service's host.
    cds_base_url: str | None = Field(
        default=None,
        description="This service's public base URL (e.g. https://risk.example.org), which "
        "JWTs must name in 'aud'. Required when STROKE_CDS_TRUSTED_ISSUERS is set.",
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
        description="Base URLs of the FHIR servers the service may read missing prefetch "
        "data from, matched on scheme, host, port and whole path segments. Unset: only a "
        "server at the trusted JWT issuer's own address (scheme, host, port, under its path).",
    )
    # The fetch's budget leaves time for the card inside STROKE_REQUEST_TIMEOUT: a slow
    # EHR gets a "could not read the record" card, not a 504.
    fhir_fetch_timeout: Annotated[float, Field(gt=0)] = Field(
        default=3.0,
        description="Seconds for all the reads of missing prefetch data together; never more "
        "than STROKE_REQUEST_TIMEOUT minus one second.",
    )
    fhir_fetch_max_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=4 * 1024 * 1024,
        description="Largest total of reply bodies read from the EHR's FHIR server per call.",
    )
    fhir_fetch_max_pages: Annotated[int, Field(ge=1)] = Field(
        default=10,
        description="Most requests to the EHR's FHIR server per call (a read, or one page "
        "of a search with its 'next' links).",
    )
    fhir_fetch_max_resources: Annotated[int, Field(ge=1)] = Field(
        default=2000, description="Most resources read from the EHR's FHIR server per call."
    )
    jwks_timeout: float = Field(default=5.0, description="Seconds to fetch an issuer's JWKS.")

    # Who may call, how much they may send, and what else is exposed (security review). The
    # service refuses to start without keys unless anonymous access is asked for by name:
    # an empty or mistyped key list must never open the service silently.
    allow_anonymous: bool = Field(
        default=False,
        description="Serve without API keys (local development only). Without it the "
        "service refuses to start when STROKE_API_KEYS holds no key.",
    )
    predict_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=16 * 1024,
        description="Largest body /predict reads (413 beyond): one patient is under 1 KB.",
    )
    batch_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=4 * 1024 * 1024,
        description="Largest body /predict_batch reads (413 beyond): 10,000 patients are "
        "about 2.3 MB. Raise it with STROKE_MAX_BATCH_SIZE.",
    )
    ehr_max_body_bytes: Annotated[int, Field(ge=1024)] = Field(
        default=1024 * 1024,
        description="Largest body the FHIR and CDS Hooks routes read (413 beyond): a "
        "patient-view call with its prefetch is a few KB to a few hundred KB.",
    )
    # Checked by the HTTP door while the headers arrive (stroke_risk/serving/header_limit.py),
    # so a huge header is refused before it is held whole.
    max_header_bytes: Annotated[int, Field(ge=8192)] = Field(
        default=64 * 1024,
        description="Largest total of a request's line and headers in bytes (431 beyond).",
    )
    docs: Literal["open", "key", "off"] = Field(
        default="key",
        description="The Swagger page (/) and /docs.json: 'open', 'key' (an API key, as for "
        "/predict; open when the service runs without keys) or 'off' (404).",
    )
    # The clinic app holds the API key and takes patient data: beyond this machine, people
    # must sign in. Like the API without keys, it refuses to serve openly unless told so.
    app_sign_in: Literal["auto", "oidc", "proxy", "open"] = Field(
        default="auto",
        description="Who may use the app: 'auto' (sign-in with Streamlit's OIDC login when "
        "secrets.toml has an [auth] section; without one, only on a loopback address), "
        "'oidc' (always that login), 'proxy' (a reverse proxy in front signs people in) or "
        "'open' (no sign-in, on any address: on a trusted network only).",
    )
    metrics: Literal["open", "key", "off"] = Field(
        default="key",
        description="Prometheus /metrics: 'open', 'key' (as for /predict) or 'off' (404).",
    )

    @field_validator("api_keys", mode="before")
    @classmethod
    def _api_key_list(cls, value: object) -> object:
        """Keys from one comma-separated string, refusing the two silent mistakes: a value
        that holds no key at all (" , "), and a Secrets Manager JSON secret referenced
        without its ``:KEY::`` suffix (which would make keys such as ``{"api_keys":"k1``)."""
        if not isinstance(value, str):
            return value
        if value.strip()[:1] in ("{", "[", '"'):
            raise ValueError(
                "looks like JSON, not comma-separated keys: if it comes from a Secrets "
                "Manager JSON secret, reference one key of it (valueFrom "
                "'<secret ARN>:<json key>::')"
            )
        keys = _split_csv(value)
        if not keys:
            raise ValueError(
                "is set but holds no key: give comma-separated keys, or unset it and set "
                "STROKE_ALLOW_ANONYMOUS=true to serve without keys (local development)"
            )
        return keys

    # Resilience under load and at shutdown (stroke_risk/serving/batch_admission.py,
    # graceful_shutdown.py; docs/operators/operations.md).
    # One batch at a time per worker: two already let /readyz wait beyond 100 ms while 64
    # batches queue (bench/README.md); the others are answered 503 at once.
    max_concurrent_batches: int = Field(
        default=1,
        ge=1,
        description="Batches a worker scores at once; more are answered 503 with Retry-After.",
    )
    busy_retry_after: int = Field(
        default=1, ge=0, description="Seconds a refused batch is told to wait (Retry-After)."
    )
    # A lone worker's connections: bounds how much one event-loop turn reads from each, so
    # health checks are accepted and answered while batch bodies pour in
    # (stroke_risk/serving/connection_intake.py). 0 leaves it to the system.
    receive_buffer_bytes: int = Field(
        default=65536,
        ge=0,
        description="Receive buffer of a lone worker's connections in bytes (SO_RCVBUF; "
        "0: system default).",
    )
    # On SIGTERM: /readyz answers 503 at once, requests are served for this long, then the
    # worker stops accepting and exits once its requests are done. Match it to the load
    # balancer's deregistration delay (deploy/deploy_fargate.sh, deploy/task-definition.json).
    shutdown_grace: float = Field(
        default=10.0,
        ge=0,
        description="Seconds a stopping service keeps serving after SIGTERM (readyz is 503).",
    )

    @field_validator(
        "risk_band_thresholds",
        "cds_allowed_origins",
        "fhir_allowed_origins",
        "cds_fhir_servers",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("cds_fhir_servers")
    @classmethod
    def _fhir_servers_are_bases(cls, value: list[str]) -> list[str]:
        allowed_bases(value)  # a ValueError names the entry that is not a base URL
        return value

    @model_validator(mode="after")
    def _ehr_rules_hold_together(self) -> Settings:
        """With trusted issuers, the JWTs' ``aud`` needs this service's own URL: never the
        one a request claims to have arrived at."""
        if self.cds_trusted_issuers and not self.cds_base_url:
            raise ValueError(
                "STROKE_CDS_BASE_URL must be set when STROKE_CDS_TRUSTED_ISSUERS is: the "
                "service's public URL, which the JWTs' aud must name"
            )
        return self

    @property
    def fhir_fetch_budget(self) -> float:
        """Seconds the FHIR fetch may take: the setting, but never so long that the card
        misses the request's own timeout (one second, or half the timeout, is kept)."""
        reserve = min(1.0, self.request_timeout / 2)
        return min(self.fhir_fetch_timeout, self.request_timeout - reserve)

    @field_validator("risk_band_thresholds")
    @classmethod
    def _increasing_probabilities(cls, value: list[float]) -> list[float]:
        if len(value) != 2 or not 0 < value[0] < value[1] < 1:
            raise ValueError("needs two increasing probabilities between 0 and 1, e.g. '0.05,0.15'")
        return value


def settings_error(error: ValidationError) -> str:
    """A refused setting in one line that names its variable: what a person must fix."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        if not problem["loc"]:  # a rule over several settings names them in its message
            problems.append(message)
            continue
        name = "STROKE_" + "_".join(str(part) for part in problem["loc"][:1]).upper()
        problems.append(f"{name} {message}")
    return "; ".join(problems)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once. A refused value stops the process with one
    line naming the variable (``error: STROKE_... ``) rather than a traceback."""
    try:
        return Settings()
    except ValidationError as error:
        sys.stderr.write(f"error: {settings_error(error)}\n")
        raise SystemExit(2) from None
