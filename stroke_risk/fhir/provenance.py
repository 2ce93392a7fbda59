"""Where and when each mapped value came from, and the text of it a card may show.

Every value the mapping takes from FHIR is a :class:`Source` (the resource, code and date);
a :class:`MappedPatient` holds them with what stops or limits scoring. Text taken from the
record passes :func:`plain` before it reaches a card's markdown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# Characters CommonMark reads as markup: escaped in every text taken from FHIR (a unit, a
# code, a string value) before it reaches a card's markdown, where "[Click](https://...)"
# would become a link.
MARKDOWN_CHARACTERS = frozenset("\\`*_[]()<>!|~#{}")


def plain(text: Any) -> str:
    """``text`` with every markdown character escaped, so it reads as written."""
    return "".join(f"\\{c}" if c in MARKDOWN_CHARACTERS else c for c in str(text))


class Source(NamedTuple):
    """Where one mapped value came from, e.g. BMI 31.2 from Observation/abc, 2026-03-02.

    A named tuple rather than a frozen dataclass: a 200-reading chart makes one per glucose
    value on every CDS Hooks call, and a tuple is built in a fifth of the time."""

    field: str
    value: Any
    resource: str | None
    code: str | None = None
    date: str | None = None
    note: str = ""

    def describe(self, label: str) -> str:
        if self.value is None:
            return f"{label} not recorded ({self.note})" if self.note else f"{label} not recorded"
        where = self.resource or "no record"
        when = f", {self.date}" if self.date else ""
        note = f" ({self.note})" if self.note else ""
        return f"{label} {plain(self.value)} from {where}{when}{note}"


@dataclass
class MappedPatient:
    """What the mapping found: values, their sources, and what stops or limits scoring."""

    patient_reference: str | None  # None for a Patient without an id: nothing to point at
    values: dict[str, Any] = field(default_factory=dict)
    sources: list[Source] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # clinical field -> what is missing
    unrecorded: list[str] = field(default_factory=list)  # non-clinical: scored as a range
    notes: list[str] = field(default_factory=list)  # old data, refused units, etc.
    not_applicable: str | None = None  # stroke recorded, deceased

    def set(self, source: Source) -> None:
        self.values[source.field] = source.value
        self.sources.append(source)

    @property
    def basis(self) -> list[str]:
        """The references of every resource a value was taken from, each once (a resource
        without an id cannot be referred to, so it is not listed)."""
        return list(
            dict.fromkeys(s.resource for s in self.sources if s.resource and "/" in s.resource)
        )


def reference_of(resource: Any) -> str:
    return (
        f"{resource.get_resource_type()}/{resource.id}"
        if resource.id
        else resource.get_resource_type()
    )


def as_date(value: Any) -> dt.date | None:
    """A FHIR date/dateTime/instant as a date; partial dates ('1974', '1974-12') mid-period."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    parts = str(value).split("-")
    try:
        if len(parts) == 1:
            return dt.date(int(parts[0]), 7, 1)
        if len(parts) == 2:
            return dt.date(int(parts[0]), int(parts[1]), 15)
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
