"""Validating a large request body in a thread, in pieces, rather than on the event loop.

BentoML parses and validates each request's JSON on the worker's event loop
(``JSONSerde.parse_request`` in ``_bentoml_impl/serde.py``). For one patient that takes
microseconds; for a 10,000-patient batch (2.3 MB) 50-90 ms on the development machine and
several times that on a busy one, during which the worker answers nothing, not even
``/readyz``. Moving the call to a thread is not enough: pydantic validates the whole batch
in one call that holds the GIL throughout (up to 640 ms measured under load,
bench/README.md), so the event loop still waits.

:func:`install` changes how bodies of ``threshold`` bytes or more are validated: in a
thread, and a batch ``{"patients": [...]}`` 500 patients at a time, so the event loop
gets the GIL between pieces. Bodies under the threshold (one patient is ~250 bytes) stay
on the loop, where a thread would cost more than the work. Whenever the pieces are not
all valid, or the body has another shape, the body is validated whole exactly as BentoML
does, so a refused request gets BentoML's own errors.

Two kinds of body are refused here, before pydantic sees them, because pydantic would spend
seconds and hundreds of megabytes describing them (security review): an object with more
than the schema's ``MANY_KEYS`` keys (pydantic makes one error per unknown key: a 4 MB body of
350,000 keys took 2.6 s and 454 MB, one such patient in a batch 0.4-1.2 s) is answered with
one ``unknown_fields`` error per object naming the first few keys and counting them, the
errors the schema gives such a batch validated whole; and JSON nested deeper than the
decoder allows, which it reports as a RecursionError (a 500 before), is left to pydantic's
parser, which refuses it as invalid JSON.

Like :mod:`.request_timeout`, this depends on the pinned BentoML's internals; its test
says so if they change.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio.to_thread
import msgspec
from _bentoml_impl.serde import JSONSerde
from pydantic import TypeAdapter, ValidationError

from stroke_risk.assessment.assessor import no_garbage_collection
from stroke_risk.core.canonical_patients import decode_canonical_batch
from stroke_risk.core.schema import (
    MANY_KEYS,
    Patient,
    PatientBatch,
    first_problems,
    validation_error,
)
from stroke_risk.core.validation_errors import NAMES_SHOWN, condense, unknown_fields

# Far above one patient, far below a batch worth a thread (100 patients are ~23 KB).
DEFAULT_THRESHOLD = 16 * 1024
PIECE = 500  # patients per validation call: a few milliseconds with the GIL held

_original_parse_request = JSONSerde.parse_request
_patients = TypeAdapter(list[Patient])


def refuse_key_floods(cls: Any, data: Any) -> None:
    """Raise a ValidationError (BentoML answers 400) when the batch object, or any patient
    in it, holds more than MANY_KEYS keys; otherwise return. The errors are those the
    schema's own check gives when the batch is validated whole (PatientBatch's
    ``_bounded_errors``), without first making pydantic's error per unknown key."""
    if not isinstance(data, dict):
        return
    problems: list[dict[str, Any]] = []
    if len(data) > MANY_KEYS:
        names = [name for name in itertools.islice(data, NAMES_SHOWN + 1) if name != "patients"]
        count = len(data) - ("patients" in data)
        if "patients" not in data:  # pydantic's order: the missing field first
            problems.append({"type": "missing", "loc": ("patients",), "msg": "Field required"})
        problems.append(unknown_fields((), names, count))
    patients = data.get("patients")
    if isinstance(patients, list) and any(
        isinstance(patient, dict) and len(patient) > MANY_KEYS for patient in patients
    ):
        problems += [
            {**problem, "loc": ("patients", *problem["loc"])}
            for problem in condense(first_problems(patients))
        ]
    if problems:
        raise validation_error(cls.__name__, problems)


def validate_in_pieces(cls: Any, body: bytes, piece: int = PIECE) -> Any:
    """``cls.model_validate_json(body)``, with a batch's patients validated ``piece`` at
    a time first; any doubt and the body is validated whole, for BentoML's own errors.
    Key floods are refused first (:func:`refuse_key_floods`). A batch whose patients are
    all in the schema's own form is checked in one call instead
    (:func:`~stroke_risk.core.canonical_patients.decode_canonical_batch`)."""
    if issubclass(cls, PatientBatch):
        canonical = decode_canonical_batch(body)
        if canonical is not None:
            try:  # the batch's own checks (its size); the patients pass as they are
                return cls.model_validate({"patients": canonical})
            except ValidationError:
                return cls.model_validate_json(body)
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):  # pydantic's parser says what is wrong
        return cls.model_validate_json(body)
    refuse_key_floods(cls, data)
    patients = data.get("patients") if isinstance(data, dict) and len(data) == 1 else None
    if not isinstance(patients, list):
        return cls.model_validate_json(body)
    validated: list[Patient] = []
    try:
        with no_garbage_collection():  # many small objects, no cycles: see assessor.py
            for start in range(0, len(patients), piece):
                validated += _patients.validate_python(patients[start : start + piece])
    except ValidationError:
        return cls.model_validate_json(body)
    try:
        # The validated patients pass as they are: what remains is the batch's own checks.
        return cls.model_validate({"patients": validated})
    except ValidationError:  # e.g. too many: its errors would quote patients, not JSON
        return cls.model_validate_json(body)


def install(threshold: int = DEFAULT_THRESHOLD) -> None:
    """Validate JSON bodies of ``threshold`` bytes or more in a thread, in pieces."""

    async def parse_request(self: JSONSerde, request: Any, cls: type) -> Any:
        body = await request.body()  # Starlette keeps it: the original reads it again free
        if len(body) < threshold or getattr(cls, "multipart_fields", None):
            return await _original_parse_request(self, request, cls)
        return await anyio.to_thread.run_sync(validate_in_pieces, cls, body)

    JSONSerde.parse_request = parse_request  # type: ignore[method-assign]
