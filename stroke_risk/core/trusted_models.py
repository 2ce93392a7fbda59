"""A pydantic model filled with values already validated, without validating them again.

What ``model_construct`` does, at a fraction of its cost: pydantic's loop over every field
(defaults, aliases) takes longer than validating when the values are already the schema's,
as they are for a batch's patients checked in one msgspec call
(:mod:`.canonical_patients`) and for the lab Observations checked with fhir.resources'
own field rules (:mod:`stroke_risk.fhir.quick_observations`). The four attributes set
here are those pydantic sets; tests keep each use equal to ``model_validate``
(tests/population/test_bulk_validation.py, tests/fhir/test_quick_observations.py).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new, _set = object.__new__, object.__setattr__


def trusted_model(model: type[M], state: dict[str, Any], fields_set: Set[str]) -> M:
    """An instance of ``model`` holding ``state`` (every field, in the model's field order,
    as pydantic keeps them), with ``fields_set`` the fields the input gave."""
    instance = _new(model)
    _set(instance, "__dict__", state)
    _set(instance, "__pydantic_fields_set__", fields_set)
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance
