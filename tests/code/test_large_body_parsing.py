"""A large batch validated in pieces (off the event loop) is the batch BentoML would have
validated whole, and an invalid one gets exactly BentoML's errors."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from stroke_risk.assessment.results import encode_batch_pieces, encode_batch_reply, encode_json
from stroke_risk.core.schema import MANY_KEYS, PatientBatch
from stroke_risk.core.validation_errors import condense
from stroke_risk.serving.large_body_parsing import validate_in_pieces
from tests.conftest import EXAMPLE_PATIENT


def patients(n: int) -> list[dict]:
    """n varied patients: ages, a blank BMI now and then, both sexes."""
    return [
        {
            **EXAMPLE_PATIENT,
            "age": 18 + i % 80,
            "bmi": None if i % 7 == 0 else 20 + i % 15,
            "gender": "Male" if i % 2 else "Female",
        }
        for i in range(n)
    ]


def whole_and_pieces(body: bytes):
    """What validating whole and in pieces of 500 give: a value, or the errors raised."""
    outcomes = []
    for validate in (
        PatientBatch.model_validate_json,
        lambda b: validate_in_pieces(PatientBatch, b),
    ):
        try:
            outcomes.append(validate(body))
        except ValidationError as error:
            outcomes.append(error.errors(include_url=False))
    return outcomes


def test_pieces_give_the_same_batch_as_one_validation():
    body = json.dumps({"patients": patients(1_234)}).encode()
    whole, pieces = whole_and_pieces(body)
    assert isinstance(pieces, PatientBatch)
    assert pieces == whole


@pytest.mark.parametrize(
    "batch",
    [
        {"patients": [*patients(750), {**EXAMPLE_PATIENT, "age": -3}, *patients(10)]},
        {"patients": [*patients(600), {**EXAMPLE_PATIENT, "favourite_colour": "blue"}]},
        {"patients": patients(10_001)},
        {"patients": patients(600), "extra": 1},
        {"patients": {"not": "a list"}},
        [EXAMPLE_PATIENT] * 600,
    ],
    ids=["a bad age", "an unknown field", "too many", "an unknown key", "not a list", "a list"],
)
def test_an_invalid_batch_gets_bentomls_own_errors(batch):
    whole, pieces = whole_and_pieces(json.dumps(batch).encode())
    assert isinstance(whole, list)  # refused...
    assert pieces == whole  # ...with the very same errors


def test_a_body_that_is_not_json_gets_bentomls_own_error():
    whole, pieces = whole_and_pieces(b'{"patients": [' + b"{}," * 10_000)
    assert isinstance(whole, list) and pieces == whole


def test_json_nested_too_deeply_gets_pydantics_invalid_json_error_not_a_crash():
    """msgspec reports such nesting as a RecursionError, which was a 500."""
    body = b'{"patients": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    whole, pieces = whole_and_pieces(body)
    assert pieces == whole and whole[0]["type"] == "json_invalid"


def flood(n: int) -> dict:
    return {f"k{i}": 0 for i in range(n)}


class ValidatedWholeNever(PatientBatch):
    """A batch model that fails the test when a body reaches pydantic's validation of the
    whole batch, where a flooded object costs one error per key."""

    @classmethod
    def model_validate_json(cls, *args, **kwargs):
        raise AssertionError("validated whole: pydantic made an error per unknown key")


def refused_before_pydantic(body: bytes) -> None:
    with pytest.raises(ValidationError):
        validate_in_pieces(ValidatedWholeNever, body)


def test_a_key_flooded_patient_gets_the_schemas_errors_without_pydantics_error_per_key():
    batch = {
        "patients": [
            *patients(700),
            {**EXAMPLE_PATIENT, **flood(100_000)},
            {**EXAMPLE_PATIENT, "age": -1},
            *patients(5),
        ]
    }
    body = json.dumps(batch).encode()
    refused_before_pydantic(body)
    whole, pieces = whole_and_pieces(body)
    assert pieces == whole
    flooded, bad_age = pieces
    assert flooded["type"] == "unknown_fields" and flooded["loc"] == ("patients", 700)
    assert flooded["msg"].startswith("unknown fields 'k0', 'k1', 'k2' and 99997 more")
    assert bad_age["loc"] == ("patients", 701, "age")


def test_a_key_flooded_batch_object_gets_the_guards_wording_of_pydantics_errors():
    body = json.dumps(flood(MANY_KEYS + 1)).encode()
    refused_before_pydantic(body)
    whole, pieces = whole_and_pieces(body)
    assert [(e["type"], list(e["loc"]), e["msg"]) for e in pieces] == [
        (e["type"], list(e["loc"]), e["msg"]) for e in condense(whole)
    ]
    assert [e["type"] for e in pieces] == ["missing", "unknown_fields"]


def test_a_reply_encoded_in_pieces_is_the_same_bytes():
    results = [{"probability": i / 1000, "risk_band": "low"} for i in range(1_234)]
    assert encode_batch_reply(results, piece=500) == encode_json({"results": results})
    assert encode_batch_reply(results[:1]) == encode_json({"results": results[:1]})
    for n in (0, 499, 500, 501, 1_000):
        pieces = encode_batch_pieces(results[:n], piece=500)
        assert b"".join(pieces) == encode_json({"results": results[:n]}), n
        assert len(pieces) == (1 if n == 0 else 2 + -(-n // 500)), n


def test_the_bentoml_step_it_replaces_is_still_there():
    """install() wraps the pinned BentoML's JSONSerde.parse_request: if it changes, the
    module needs a look."""
    import inspect

    from _bentoml_impl.serde import JSONSerde

    assert inspect.iscoroutinefunction(JSONSerde.parse_request)
    assert list(inspect.signature(JSONSerde.parse_request).parameters) == ["self", "request", "cls"]
    assert callable(JSONSerde.deserialize_model)
