"""The code lists of the FHIR mapping, read once from ``code_lists.json`` beside this file.

The lists are data, not code, so a clinician can review them (and their sources) without
reading Python: each rule in :mod:`stroke_risk.fhir.mapping` names the list it uses.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

CODE_LISTS_PATH = Path(__file__).with_name("code_lists.json")


@lru_cache
def code_lists() -> dict[str, Any]:
    """The parsed ``code_lists.json``."""
    return json.loads(CODE_LISTS_PATH.read_text())


@lru_cache
def system(name: str) -> tuple[str, ...]:
    """The URIs a named code system may be written as (e.g. ``snomed``, ``icd10``)."""
    value = code_lists()["systems"][name]
    return tuple(value) if isinstance(value, list) else (value,)


def codings(concept: Any) -> list[Any]:
    """The codings of a CodeableConcept (or an empty list when it is absent)."""
    return list(getattr(concept, "coding", None) or [])


def first_code(concept: Any, system_name: str, codes: set[str] | dict[str, Any]) -> str | None:
    """The first code of ``concept`` in ``system_name`` that is one of ``codes``."""
    uris = system(system_name)
    for coding in codings(concept):
        if coding.system in uris and coding.code in codes:
            return coding.code
    return None


def on_condition_list(concept: Any, list_name: str) -> str | None:
    """``system|code`` of the first coding of ``concept`` on a condition list, else None.

    SNOMED CT codes match exactly; ICD-10 codes match by prefix (``I11`` covers ``I11.9``).
    """
    entry = code_lists()[list_name]
    snomed, icd10 = system("snomed"), system("icd10")
    for coding in codings(concept):
        code = coding.code or ""
        if coding.system in snomed and code in entry["snomed"]:
            return f"{coding.system}|{code}"
        if coding.system in icd10 and code.upper().startswith(tuple(entry["icd10_prefixes"])):
            return f"{coding.system}|{code}"
    return None
