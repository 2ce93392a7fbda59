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

Like :mod:`.request_timeout`, this depends on the pinned BentoML's internals; its test
says so if they change.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import msgspec
from _bentoml_impl.serde import JSONSerde
from pydantic import TypeAdapter, ValidationError

from stroke_risk.core.schema import Patient
from stroke_risk.serving.assessor import no_garbage_collection

# Far above one patient, far below a batch worth a thread (100 patients are ~23 KB).
DEFAULT_THRESHOLD = 16 * 1024
PIECE = 500  # patients per validation call: a few milliseconds with the GIL held

_original_parse_request = JSONSerde.parse_request
_patients = TypeAdapter(list[Patient])


def validate_in_pieces(cls: Any, body: bytes, piece: int = PIECE) -> Any:
    """``cls.model_validate_json(body)``, with a batch's patients validated ``piece`` at
    a time first; any doubt and the body is validated whole, for BentoML's own errors."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return cls.model_validate_json(body)
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
