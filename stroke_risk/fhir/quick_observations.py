"""The common lab Observation, validated by fhir.resources' own field rules without its
whole model: the same result, in about half the time.

Why: a chart's Observations are most of a CDS Hooks call (200 glucose readings: about 8 of
17 ms in the worker), and nearly all of them have one shape: an id, a status, a code, a
subject, a date and a quantity. Building the full R4B Observation for each runs fhir_core's
Python layers several times per element (its ``__init__``, the model validators before and
after, each nested element validated twice), which is what the time goes to.

What this does, for an Observation of that shape only:

- each element is validated by a small pydantic model whose fields are *copied* from
  fhir.resources' Observation and Quantity (the same types, patterns and fhir_core
  validators, so the same values: ``Decimal``, ``datetime``...); ``code`` and ``subject``
  must already be models validated by fhir.resources (:func:`mapping._validated_once`);
- the result is a genuine ``Observation`` (and ``Quantity``) filled in the way pydantic's
  own ``model_construct`` fills one: every field, the set of fields given, no extras.

Anything else (a comparator, an extension, a ``_status``, another value[x], a missing status,
a value that fails a rule) returns None and goes through fhir.resources whole, which gives
the verdict and the error. So this path can only say yes where fhir.resources says yes, with
an equal model: tests/fhir/test_quick_observations.py checks both against each other on the
examples and on thousands of generated variants. It is used only with the pydantic and
fhir-core versions it was checked against (a test fails on an upgrade to say so).
"""

from __future__ import annotations

import importlib.metadata
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, InstanceOf, ValidationError, create_model

from stroke_risk.core.trusted_models import trusted_model

CHECKED_VERSIONS = {"pydantic": "2.14.4", "fhir-core": "1.1.12"}

# The elements of the usual shape; the top-level keys must be among them (after
# mapping._read_elements has set aside what no rule reads).
_OBSERVATION_FIELDS = ("id", "status", "effectiveDateTime", "issued")
_QUANTITY_FIELDS = ("value", "unit", "system", "code")
_SHAPE = frozenset(("resourceType", "code", "subject", "valueQuantity", *_OBSERVATION_FIELDS))


def _copied(model: type[BaseModel], names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields exactly as ``model`` declares them (type, constraints, validators)."""
    return {name: (model.model_fields[name].annotation, model.model_fields[name]) for name in names}


class _Quick:
    """The small validators and the full classes they stand in for (built once)."""

    def __init__(self, model_class: Any) -> None:
        self.observation = model_class("Observation")
        self.quantity = model_class("Quantity")
        forbid = ConfigDict(extra="forbid")
        quantity = create_model(
            "QuickQuantity", __config__=forbid, **_copied(self.quantity, _QUANTITY_FIELDS)
        )
        self.validator = create_model(
            "QuickObservation",
            __config__=forbid,
            resourceType=(Literal["Observation"], ...),
            # Validated by fhir.resources already (once per bundle), or not taken here.
            code=(InstanceOf[model_class("CodeableConcept")], ...),
            subject=(InstanceOf[model_class("Reference")], None),
            valueQuantity=(quantity | None, None),
            **_copied(self.observation, _OBSERVATION_FIELDS),
        )
        # Every field unset, as model_construct starts (all of these models' defaults are None).
        self.empty_observation = _unset(self.observation)
        self.empty_quantity = _unset(self.quantity)


def _unset(model: type[BaseModel]) -> dict[str, None]:
    fields = model.model_fields
    if any(field.default is not None for field in fields.values() if not field.is_required()):
        raise AssertionError(f"{model.__name__} has a default other than None")
    return dict.fromkeys(fields)


def _constructed(model: type[BaseModel], empty: dict[str, None], values: dict[str, Any]) -> Any:
    """``model.model_construct(**values)`` for already-validated values, without its
    per-field loop over 57 fields (which takes longer than validating)."""
    state = dict(empty)
    state.update(values)
    return trusted_model(model, state, set(values))


def checked_versions() -> bool:
    """Whether the installed pydantic and fhir-core are the versions this was checked with."""
    return all(importlib.metadata.version(name) == v for name, v in CHECKED_VERSIONS.items())


@lru_cache(maxsize=1)
def _quick(model_class: Any) -> _Quick | None:
    return _Quick(model_class) if checked_versions() else None


def build_validators(model_class: Any) -> None:
    """Build the small validators now (they are otherwise built for the first chart)."""
    _quick(model_class)


def quick_observation(raw: dict[str, Any], model_class: Any) -> Any | None:
    """The validated R4B Observation for ``raw`` if it has the usual lab shape and passes;
    None otherwise (then fhir.resources validates it whole and says what is wrong).

    ``model_class``: mapping's ``get_fhir_model_class`` (the classes built after
    validator_speedups is installed)."""
    quick = _quick(model_class)
    # Other elements would fail the validator's extra="forbid" too; this declines them sooner.
    if quick is None or not raw.keys() <= _SHAPE or raw.get("status") is None:
        return None
    try:
        checked = quick.validator.model_validate(raw)
    except ValidationError:
        return None
    state = checked.__dict__
    values = {name: state[name] for name in checked.model_fields_set if name != "resourceType"}
    quantity = checked.valueQuantity
    if quantity is not None:
        given = quantity.model_fields_set
        if not given:  # an empty Quantity: left to fhir.resources
            return None
        parts = {name: quantity.__dict__[name] for name in given}
        values["valueQuantity"] = _constructed(quick.quantity, quick.empty_quantity, parts)
    return _constructed(quick.observation, quick.empty_observation, values)
