"""stroke_risk.core.trusted_models: a model filled with validated values is the model
pydantic would have built, field by field and in what pydantic keeps beside the fields."""

from __future__ import annotations

from stroke_risk.core.schema import Patient
from stroke_risk.core.trusted_models import trusted_model
from tests.conftest import EXAMPLE_PATIENT


def test_a_trusted_model_equals_the_validated_one_in_everything_pydantic_keeps() -> None:
    validated = Patient.model_validate(EXAMPLE_PATIENT)
    trusted = trusted_model(Patient, dict(validated.__dict__), frozenset(validated.__dict__))
    assert type(trusted) is Patient and trusted == validated
    assert trusted.model_fields_set == validated.model_fields_set
    assert list(trusted.__dict__) == list(validated.__dict__)
    assert trusted.__pydantic_extra__ is validated.__pydantic_extra__ is None
    assert trusted.__pydantic_private__ is validated.__pydantic_private__ is None
    assert trusted.model_dump_json() == validated.model_dump_json()


def test_the_fields_set_are_those_given() -> None:
    """Observations give some of their fields: model_dump(exclude_unset=True) must say so."""
    validated = Patient.model_validate(EXAMPLE_PATIENT)
    trusted = trusted_model(Patient, dict(validated.__dict__), {"age", "gender"})
    assert trusted.model_dump(exclude_unset=True) == {
        "age": validated.age,
        "gender": validated.gender,
    }
