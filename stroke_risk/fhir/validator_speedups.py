"""Two of fhir_core's model validators, same rules and errors, with their per-class work done once.

Why: validating the chart is most of a CDS Hooks call (200 Observations: about 12 of 18 ms),
and about half of that went to two validators that fhir_core (the base of ``fhir.resources``)
runs for every element of every resource:

- ``reject_null_complex_elements`` re-derives from the type annotations, on every call, which
  of the class's fields are lists of complex types (an Observation has about 90 fields);
- ``validate_after_model_construction`` rebuilds the class's choice-type groups
  (``value[x]``, ``effective[x]``...) and looks up their settings on every call.

Both depend on the class only, so here they are computed once per class; what is checked,
in what order, and the errors raised are unchanged (tests/fhir/test_validator_speedups.py
validates the HL7 and Synthea examples and hundreds of broken variants of them with and
without this module and compares every error).

Installed when :mod:`stroke_risk.fhir.mapping` is imported, before any model class exists:
pydantic takes a model's validators by name from its bases when the class is built, and
``fhir.resources`` builds each class on first use; the EHR modules reach the models only
through mapping's ``get_fhir_model_class``. Only for the fhir_core version the
replacements were checked against: another version keeps its own validators (slower, never
different) and a test fails to say the replacements need checking again.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.utils import is_list_type, is_primitive_type
from pydantic_core import PydanticCustomError, ValidationError

CHECKED_FHIR_CORE = "1.1.12"

_complex_lists: dict[type, tuple[tuple[str, str | None], ...]] = {}
_choices: dict[type, tuple[tuple[list[str], bool], ...]] = {}
_required: dict[type, tuple[str, ...]] = {}


def _complex_list_fields(cls: type[FHIRAbstractModel]) -> tuple[tuple[str, str | None], ...]:
    """(name, alias) of the fields that hold lists of complex types, as fhir_core selects them."""
    fields = _complex_lists.get(cls)
    if fields is None:
        fields = _complex_lists[cls] = tuple(
            (name, field.alias)
            for name, field in cls.model_fields.items()
            if is_list_type(field) and not is_primitive_type(field) and not name.endswith("__ext")
        )
    return fields


def reject_null_complex_elements(cls: type[FHIRAbstractModel], data: Any) -> Any:
    """fhir_core's rule: a null inside a list of complex types has no meaning in FHIR."""
    if not isinstance(data, dict):
        return data
    errors: list[Any] = []
    for name, alias in _complex_list_fields(cls):
        key = alias if alias and alias in data else name
        value = data.get(key)
        if isinstance(value, list) and any(item is None for item in value):
            errors.append(
                {
                    "type": PydanticCustomError(
                        "list_type",
                        "None is not allowed as an element of {field}",
                        {"field": key},
                    ),
                    "loc": (key,),
                    "input": value,
                }
            )
    if errors:
        raise ValidationError.from_exception_data(cls.__name__, errors)
    return data


def _choice_groups(model: FHIRAbstractModel) -> tuple[tuple[list[str], bool], ...]:
    """Each choice element's fields and whether one of them is required (fhir_core's data)."""
    cls = type(model)
    groups = _choices.get(cls)
    if groups is None:
        fields = cls.model_fields
        built = []
        for prefix, names in model.get_one_of_many_fields().items():
            extra = fields[names[0]].json_schema_extra
            if extra["one_of_many"] != prefix:  # fhir_core asserts this of its own tables
                raise AssertionError(f"{cls.__name__}: choice group {prefix} is inconsistent")
            built.append((list(names), extra["one_of_many_required"] is True))
        groups = _choices[cls] = tuple(built)
    return groups


def validate_after_model_construction(self: FHIRAbstractModel) -> FHIRAbstractModel:
    """fhir_core's checks after construction: required primitives, then one value per choice."""
    cls = type(self)
    required = _required.get(cls)
    if required is None:
        aliases = self.get_alias_mapping()
        required = _required[cls] = tuple(aliases[name] for name, _ in self.get_required_fields())
    # The fields' values straight from the instance's dict: a getattr per field walks the
    # model's long class hierarchy first (30 choice fields of an Observation).
    values = self.__dict__
    # fhir_core's check passes every required primitive that holds a value; only when one
    # does not (its extension may stand in for it) is the check itself needed.
    if any(values.get(name) is None for name in required):
        self._validate_required_primitive_elements()
    for names, required in _choice_groups(self):
        found = False
        for name in names:
            if values.get(name) is not None:
                if found:
                    raise ValueError(
                        f"Any of one field value is expected from this list {names}, "
                        "but got multiple!"
                    )
                found = True
        if required and not found:
            raise ValueError(f"Expect any of field value from this list {names}.")
    return self


def install() -> bool:
    """Replace the two validators on fhir_core's base model; False when not installed."""
    if importlib.metadata.version("fhir-core") != CHECKED_FHIR_CORE:
        return False
    FHIRAbstractModel.reject_null_complex_elements = classmethod(  # type: ignore[assignment,method-assign]
        reject_null_complex_elements
    )
    FHIRAbstractModel.validate_after_model_construction = (  # type: ignore[method-assign]
        validate_after_model_construction
    )
    return True
