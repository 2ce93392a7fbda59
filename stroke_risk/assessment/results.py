"""What the service builds and sends: msgspec Structs shaped like the documented reply.

Same fields, in the same order, as the pydantic models in
:mod:`stroke_risk.core.responses` (which document the reply in the OpenAPI schema; a test
keeps the two in step). A 10,000-patient batch has about 90,000 of these objects: Structs
are built about three times faster than dicts and serialised as fast as orjson serialises
dicts (bench/README.md). gc=False: they never form cycles, so the cyclic garbage
collector need not track them.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Re-exported: the interval's one name, for channels that build on these Structs.
from stroke_risk.core.responses import INTERVAL_NAME as INTERVAL_NAME

DECIMALS = 4  # probabilities are reported to 0.01 percentage points
_SCALE = 10.0**DECIMALS


def round_as_numpy(x: float, scale: float = _SCALE) -> float:
    """``numpy.round(x, decimals)`` for one Python float, without an array: numpy
    multiplies by ``10**decimals``, rounds half to even and divides back, and so does this
    (Python's ``round(x, 4)`` rounds the decimal value instead and can differ in the last
    digit). A single patient's reply is rounded this way and a batch's with numpy, so both
    paths give the same numbers; never ``-0.0``."""
    return round(x * scale) / scale


class FactorResult(msgspec.Struct, gc=False, frozen=True):
    """One factor's entry; frozen, as the same entry is shared by many replies."""

    factor: str
    label: str
    value: float | int | str | None
    reference_value: float | int | str
    odds_ratio: float
    log_odds: float
    direction: str
    kind: str


class WhatIfResult(msgspec.Struct, gc=False):
    factor: str
    change: str
    current_value: float | str
    target_value: float | str
    probability: float
    absolute_reduction: float


class GuidanceResult(msgspec.Struct, gc=False):
    factor: str
    advice: str
    why_not_from_model: str
    source: str


class OutcomeResult(msgspec.Struct, gc=False):
    """The reply's ``outcome`` (:class:`stroke_risk.core.outcome.OutcomeSummary`): one
    object per model, shared by every result of a batch."""

    kind: str
    horizon_years: float | None
    validation: str
    label: str


class NotRecordedResult(msgspec.Struct, gc=False):
    factor: str
    assumed_value: float | str
    probability_range: list[float] | None
    note: str


class AssessmentResult(msgspec.Struct, gc=False):
    """One patient's reply. The parts that are the same for many replies (the reference
    patient, the context factors, the guidance) are held as their JSON, encoded once
    (``msgspec.Raw``): a 10,000-patient reply then copies them instead of encoding them
    again, 25 ms of its 90. :func:`as_builtins` gives the reply as lists and dicts."""

    probability: float
    probability_interval: list[float] | None
    percent: float
    risk_band: str
    risk_band_thresholds: list[float]
    comparison: dict[str, Any]
    reference_patient: Any  # msgspec.Raw of a dict, or the dict (msgspec.convert)
    contributing_factors: list[FactorResult]
    context_factors: Any  # msgspec.Raw of a list of FactorResult, or the list
    other_factors_log_odds: float
    what_if: list[WhatIfResult]
    guidance: Any  # msgspec.Raw of a list of GuidanceResult, or the list
    warnings: list[str]
    interval_name: str
    interval_crosses_band_edge: bool
    data_support: str
    data_support_note: str | None
    beyond_data: bool
    extrapolated_fields: list[str]
    beyond_data_note: str | None
    ranking_caveat: str | None
    not_recorded: list[NotRecordedResult]
    model_tag: str
    disclaimer: str
    outcome: OutcomeResult


_encoder = msgspec.json.Encoder()
encode_json = _encoder.encode
"""Results (or any structure holding them) as JSON bytes."""


def encoded(value: Any) -> msgspec.Raw:
    """``value``'s JSON, encoded now, to be copied as it is into every reply holding it."""
    return msgspec.Raw(encode_json(value))


def _decode_raw(value: Any) -> Any:
    if isinstance(value, msgspec.Raw):
        return msgspec.json.decode(value)
    raise TypeError(f"cannot turn {type(value).__name__} into builtins")


def as_builtins(value: Any) -> Any:
    """Results (or any structure holding them) as dicts and lists: the reply's JSON read
    back, without encoding it (``msgspec.to_builtins``, the pre-encoded parts decoded)."""
    return msgspec.to_builtins(value, enc_hook=_decode_raw)


def encode_batch_pieces(results: list[AssessmentResult], piece: int = 500) -> list[memoryview]:
    """``{"results": [...]}`` as JSON, in pieces to send one after another: their
    concatenation is ``encode_json({"results": results})``, encoded ``piece`` results at a
    time.

    The pieces matter twice. When this runs in a thread, one encoder call over 10,000
    results holds the GIL for 70-120 ms and the worker's event loop (health checks, single
    patients) waits that long; between pieces it gets its turn. And a reply sent piece by
    piece is never joined into one buffer: for 10,000 patients (34 MB) the join's copy into
    freshly mapped memory cost about 40 ms, a sixth of the batch. Each piece is its own
    buffer, viewed without its brackets' copy: the first keeps the opening bracket, later
    ones have it overwritten by the comma that joins them, the closing bracket comes last.
    """
    if not results:
        return [memoryview(b'{"results":[]}')]
    pieces = [memoryview(b'{"results":')]
    for start in range(0, len(results), piece):
        buffer = bytearray()
        _encoder.encode_into(results[start : start + piece], buffer)
        if start:
            buffer[0] = ord(",")  # continues the array the first piece opened
        pieces.append(memoryview(buffer)[:-1])  # without its closing bracket
    pieces.append(memoryview(b"]}"))
    return pieces


def encode_batch_reply(results: list[AssessmentResult], piece: int = 500) -> bytes:
    """The batch reply in one piece (:func:`encode_batch_pieces`, joined)."""
    return b"".join(encode_batch_pieces(results, piece))
