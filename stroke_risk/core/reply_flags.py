"""The words every channel shows beside the number for three states of a reply: the
interval by its name, an interval that crosses a band edge, and an estimate beyond the data.

The reply carries the facts (``interval_name``, ``interval_crosses_band_edge``,
``beyond_data`` and ``beyond_data_note``); these are the few fixed phrases the app, the
CDS card, the FHIR RiskAssessment and the worklists put them in, so that the same state
reads the same everywhere. The patient's handout says the same in plainer words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

INTERVAL_LABEL = "95% interval"
BAND_NOT_SETTLED = "the 95% interval crosses a band edge: the band is not settled"
BEYOND_THE_DATA = "beyond the data: extrapolated"
# The handout's words for the same states (a test keeps them at a reading grade of 8 or below).
PATIENT_BAND_NOT_SETTLED = (
    "Your number is close to the line between two groups. So your group could be different."
)
PATIENT_BEYOND_THE_DATA = (
    "Some of your details are outside what this tool has seen before. So your number is "
    "only a rough guess."
)


def interval_words(interval_name: str, low: float, high: float) -> str:
    """'95% interval (model instability: ...): 3.1% to 5.2%'."""
    return f"{INTERVAL_LABEL} ({interval_name}): {100 * low:.1f}% to {100 * high:.1f}%"


def flag_sentences(reply: Mapping[str, Any]) -> list[str]:
    """The band-edge and beyond-the-data states of a reply (as a dict), one sentence each;
    empty for an ordinary estimate. Read defensively: a reply from before the flags
    existed says nothing."""
    sentences = []
    if reply.get("beyond_data"):
        note = reply.get("beyond_data_note")
        sentences.append(note or f"{BEYOND_THE_DATA[:1].upper()}{BEYOND_THE_DATA[1:]}.")
    if reply.get("interval_crosses_band_edge"):
        sentences.append(f"{BAND_NOT_SETTLED[:1].upper()}{BAND_NOT_SETTLED[1:]}.")
    return sentences
