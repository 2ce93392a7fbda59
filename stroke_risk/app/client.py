"""The app's HTTP client for the prediction service, with errors a receptionist can act on.

The app never loads the model: it posts patients to the service (``/predict`` and
``/predict_batch``) like any other client, so a clinic can point it at a deployed service
by setting ``STROKE_API_URL`` (and ``STROKE_API_KEY`` when the service requires a key).
Every failure becomes a :class:`ServiceError` whose message says what happened and what
to do, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import requests
from pydantic import ValidationError

from stroke_risk.core.config import Settings, get_settings
from stroke_risk.core.responses import Assessment
from stroke_risk.core.validation_errors import describe

# What a GP or receptionist can do when the service fails: the technical message (URL,
# settings, HTTP status) is for whoever runs the service, and the app folds it away.
NOT_ANSWERING = (
    "The risk service is not answering. Try again in a minute; if it still fails, tell your "
    "IT contact. The details below are for them."
)
KEY_REFUSED = (
    "The risk service did not accept this app's access key. Tell your IT contact; the "
    "details below are for them."
)
TOO_LARGE = "The file is too large to score in one go: split it into smaller files."


class ServiceError(Exception):
    """The service could not give an answer.

    ``str(error)`` is the technical detail for whoever runs the service (address, setting,
    status); ``advice`` is what to do in the clinic, in the clinic's words.
    """

    def __init__(self, message: str, advice: str = NOT_ANSWERING) -> None:
        super().__init__(message)
        self.advice = advice


class ServiceRejectedData(ServiceError):
    """The service refused the patient data (400); ``detail`` holds pydantic's errors."""

    def __init__(self, message: str, detail: list[dict[str, Any]]) -> None:
        super().__init__(message, advice=message)  # names the field: for the clinic too
        self.detail = detail


def chunks(items: Sequence[Any], size: int) -> Iterator[tuple[int, Sequence[Any]]]:
    """(offset, slice) pairs of at most ``size`` items, in order."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


DEFAULT_API_URL: str = Settings.model_fields["api_url"].default


class StrokeRiskClient:
    """Calls ``/predict`` and ``/predict_batch``; raises :class:`ServiceError` on any failure."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_URL,
        api_key: str | None = None,
        connect_timeout: float = Settings.model_fields["connect_timeout"].default,
        read_timeout: float = Settings.model_fields["read_timeout"].default,
        max_batch_size: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.timeout = (connect_timeout, read_timeout)
        self.max_batch_size = max_batch_size or get_settings().max_batch_size

    @classmethod
    def from_environment(cls, secrets: Mapping[str, Any] | None = None) -> StrokeRiskClient:
        """Settings from ``STROKE_*`` variables; the key may also come from Streamlit secrets.

        The environment wins over ``secrets`` so an operator can override a deployed file.
        """
        settings = Settings()  # read afresh: the app may be pointed elsewhere at run time
        api_key = settings.api_key or (secrets or {}).get("STROKE_API_KEY")
        return cls(
            base_url=settings.api_url,
            api_key=str(api_key) if api_key else None,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )

    def assess(self, patient: Mapping[str, Any]) -> Assessment:
        """The explained risk of one patient (a dict of the schema's fields)."""
        return self._assessment(self._post("/predict", dict(patient)))

    def assess_many(
        self,
        patients: Sequence[Mapping[str, Any]],
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list[Assessment]:
        """One result per patient, in order, sent in chunks the service accepts.

        ``on_progress(done, total)`` is called after each chunk. A rejected chunk raises
        :class:`ServiceRejectedData` whose ``detail`` locations index the whole list.
        """
        results: list[Assessment] = []
        for offset, chunk in chunks(patients, self.max_batch_size):
            try:
                reply = self._post("/predict_batch", {"patients": [dict(p) for p in chunk]})
            except ServiceRejectedData as exc:
                detail = [_shift_location(error, offset) for error in exc.detail]
                raise ServiceRejectedData(
                    f"The service rejected the patient data: {describe(detail)}", detail
                ) from exc
            batch = reply.get("results") if isinstance(reply, dict) else None
            if not isinstance(batch, list) or len(batch) != len(chunk):
                raise ServiceError(
                    f"The prediction service at {self.base_url} answered with an unexpected "
                    "reply: check that STROKE_API_URL points to the stroke-risk service."
                )
            results.extend(self._assessment(item) for item in batch)
            if on_progress is not None:
                on_progress(len(results), len(patients))
        return results

    def _assessment(self, item: Any) -> Assessment:
        try:
            return Assessment.model_validate(item)
        except ValidationError as exc:
            detail = describe([dict(error) for error in exc.errors()])
            raise ServiceError(
                f"The prediction service at {self.base_url} answered in an unexpected shape "
                f"({detail}): the app and the service may be different versions."
            ) from exc

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}{path}"
        try:
            response = requests.post(url, json=body, headers=headers, timeout=self.timeout)
        except requests.exceptions.Timeout as exc:
            raise ServiceError(
                f"The prediction service at {self.base_url} did not answer within "
                f"{self.timeout[1]:g} seconds. It may be overloaded or starting up: try again "
                "in a minute, or upload fewer patients at a time."
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise ServiceError(
                f"Cannot reach the prediction service at {self.base_url}. Check that it is "
                "running (`make serve`) and that STROKE_API_URL points to it."
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise ServiceError(
                f"Cannot call the prediction service at {self.base_url}: check STROKE_API_URL "
                f"({type(exc).__name__})."
            ) from exc
        return self._read(response)

    def _read(self, response: requests.Response) -> Any:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if status == 200 and payload is not None:
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        if status == 401:
            if self.api_key:
                raise ServiceError(
                    "The prediction service refused the API key. Ask whoever runs the service "
                    "for a valid key and set STROKE_API_KEY (or STROKE_API_KEY in the app's "
                    "secrets.toml).",
                    KEY_REFUSED,
                )
            raise ServiceError(
                "The prediction service needs an API key. Set STROKE_API_KEY (or "
                "STROKE_API_KEY in the app's secrets.toml) to the key you were given.",
                KEY_REFUSED,
            )
        if status == 400:
            detail = payload.get("detail") if isinstance(payload, dict) else None
            detail = detail if isinstance(detail, list) else []
            summary = describe(detail) if detail else (error or "invalid data")
            raise ServiceRejectedData(f"The service rejected the patient data: {summary}", detail)
        if status == 413:
            raise ServiceError(
                "The upload is too large for the prediction service in one request: "
                "split the file into smaller ones.",
                TOO_LARGE,
            )
        if status in (502, 503, 504):
            raise ServiceError(
                f"The prediction service at {self.base_url} is busy or unavailable "
                f"(HTTP {status}): try again in a minute."
            )
        if status == 404:
            raise ServiceError(
                f"{response.url} does not exist: check that STROKE_API_URL points to the "
                "stroke-risk service (e.g. http://127.0.0.1:3000), without a path."
            )
        if status == 200:
            raise ServiceError(
                f"The prediction service at {self.base_url} did not answer with JSON: check "
                "STROKE_API_URL."
            )
        reason = f": {error}" if error else ""
        raise ServiceError(f"The prediction service answered HTTP {status}{reason}")


def _shift_location(error: dict[str, Any], offset: int) -> dict[str, Any]:
    """Turn a location within one chunk, ["patients", i, field], into one within the list."""
    loc = list(error.get("loc", ()))
    if len(loc) >= 2 and loc[0] == "patients" and isinstance(loc[1], int):
        loc[1] += offset
    return {**error, "loc": loc}
