"""How a refusal is told to people: the place of each problem and the rule it breaks."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from stroke_risk.core.schema import PatientBatch
from stroke_risk.core.validation_errors import MAX_LISTED, condense, describe, location, summarise
from stroke_risk.serving.api_guard import _readable
from tests.conftest import EXAMPLE_PATIENT


def test_a_location_reads_like_the_json_path():
    assert location(["age"]) == "age"
    assert location(["patients", 3, "age"]) == "patients[3].age"
    assert location([]) == "the request body"


def test_the_first_three_problems_are_named_and_the_rest_counted():
    detail = [{"loc": ["patients", i, "age"], "msg": "Field required"} for i in range(5)]
    assert describe(detail) == (
        "patients[0].age: Field required; patients[1].age: Field required; "
        "patients[2].age: Field required; and 2 more"
    )


def test_the_service_summary_counts_the_problems_and_points_to_the_detail():
    one = [{"loc": ["age"], "msg": "Input should be less than or equal to 120"}]
    assert summarise(one) == (
        "invalid input, 1 problem: age: Input should be less than or equal to 120."
    )
    many = one * 4
    assert summarise(many).startswith("invalid input, 4 problems: age:")
    assert summarise(many).endswith("(all are listed in 'detail').")


def test_a_refusal_body_keeps_its_detail_and_gets_a_readable_error():
    body = b'{"error": "1 validation error for PatientIODescriptor", "detail": [{"loc": ["age"], "msg": "Field required"}]}'  # noqa: E501
    rewritten = _readable(body)
    assert b"IODescriptor" not in rewritten
    assert b'"detail": [{"loc": ["age"], "msg": "Field required"}]' in rewritten


def test_a_body_that_is_not_a_validation_error_passes_unchanged():
    for body in (b"not json", b'{"error": "something else"}', b"[]", b'{"detail": "text"}'):
        assert _readable(body) == body


def extra(loc: tuple) -> dict:
    return {"type": "extra_forbidden", "loc": loc, "msg": "Extra inputs are not permitted"}


def test_the_unknown_fields_of_one_object_are_one_error_naming_the_first_three():
    detail = [extra(("patients", 3, f"x{i}")) for i in range(40)]
    assert condense(detail) == [
        {
            "type": "unknown_fields",
            "loc": ["patients", 3],
            "msg": "unknown fields 'x0', 'x1', 'x2' and 37 more: only the documented fields "
            "are accepted",
        }
    ]


def test_a_single_unknown_field_keeps_the_error_that_names_it():
    assert condense([extra(("cholesterol",))]) == [extra(("cholesterol",))]


def test_at_most_twenty_problems_are_listed_then_how_many_more():
    detail = [
        {"type": "missing", "loc": ("patients", i, "age"), "msg": "Field required"}
        for i in range(100)
    ]
    condensed = condense(detail)
    assert len(condensed) == MAX_LISTED + 1
    assert condensed[-1] == {
        "type": "too_many_errors",
        "loc": [],
        "msg": "80 more problems not listed",
    }
    assert condense(condensed) == condensed  # applying it again changes nothing
    assert summarise(condensed).startswith("invalid input, 100 problems: patients[0].age:")
    assert summarise(condensed).endswith("(the first 20 are listed in 'detail').")


def test_an_unknown_field_name_is_cut_short():
    (error,) = condense([extra(("p", "k" * 5000)), extra(("p", "x"))])
    assert len(error["msg"]) < 200


def test_a_batch_with_many_bad_patients_lists_the_first_twenty_and_says_more_may_follow():
    patient = {**EXAMPLE_PATIENT, **{f"x{i}": 0 for i in range(40)}}
    with pytest.raises(ValidationError) as refused:
        PatientBatch.model_validate_json(json.dumps({"patients": [patient] * 500}))
    detail = refused.value.errors(include_input=False)
    assert [error["loc"] for error in detail[:-1]] == [("patients", i) for i in range(20)]
    assert {error["type"] for error in detail[:-1]} == {"unknown_fields"}
    assert detail[-1]["type"] == "too_many_errors"


def test_a_batch_with_a_few_bad_patients_names_each_of_them():
    patients = [EXAMPLE_PATIENT] * 3000
    patients[5] = {**EXAMPLE_PATIENT, "age": 5}
    patients[2999] = {**EXAMPLE_PATIENT, "cholesterol": 4}
    with pytest.raises(ValidationError) as refused:
        PatientBatch.model_validate({"patients": patients})
    assert [error["loc"] for error in refused.value.errors()] == [
        ("patients", 5, "age"),
        ("patients", 2999, "cholesterol"),
    ]


def test_a_patient_flooded_with_keys_is_one_error_counting_them():
    patient = {**EXAMPLE_PATIENT, **{f"k{i}": 0 for i in range(20_000)}}
    with pytest.raises(ValidationError) as refused:
        PatientBatch.model_validate_json(json.dumps({"patients": [EXAMPLE_PATIENT, patient]}))
    (error,) = refused.value.errors()
    assert error["loc"] == ("patients", 1)
    assert "'k0', 'k1', 'k2' and 19997 more" in error["msg"]


def test_listed_problems_carry_no_value_error_prefix():
    detail = [
        {
            "type": "value_error",
            "loc": ["patients", 0, "work_type"],
            "msg": "Value error, 'Gov' is not allowed: use one of Private, Self-employed",
        },
    ]
    (listed,) = condense(detail)
    assert listed["msg"].startswith("'Gov' is not allowed")
    assert listed["loc"] == ["patients", 0, "work_type"]
