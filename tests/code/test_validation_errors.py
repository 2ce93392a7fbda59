"""How a refusal is told to people: the place of each problem and the rule it breaks."""

from __future__ import annotations

from stroke_risk.core.validation_errors import describe, location, summarise
from stroke_risk.serving.api_guard import _readable


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
