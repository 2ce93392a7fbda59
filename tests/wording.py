"""What every channel's words are checked against: a stroke-history number is never
presented as a future risk, and an incident one always names its horizon.

The phrases are the test's own, not the code's, so emptying a list in the package cannot
make a channel pass. Hyphenated names ("stroke-risk model", the project's name) are not
claims about the number and are not matched.
"""

from __future__ import annotations

import re

from stroke_risk.core.outcome import KAGGLE_HISTORY, ModelOutcome

# "stroke risk", "probability of (a) stroke", "risk of (a) stroke", "chance of (a) stroke".
_FUTURE_RISK = re.compile(
    r"(?<![-\w])stroke\s+risk\b|\b(probability|risk|chance)\s+of\s+(a\s+)?stroke\b",
    re.IGNORECASE,
)
SHIPPED = KAGGLE_HISTORY
INCIDENT_5_YEARS = ModelOutcome(
    kind="incident",
    horizon_years=5,
    validation="external",
    data_source="a hand-made cohort with 5 years of follow-up (tests only)",
)
INCIDENT_INTERNAL = INCIDENT_5_YEARS.model_copy(update={"validation": "internal"})


def future_risk_claims(text: str) -> list[str]:
    """Every place ``text`` presents a number as a stroke risk, each with its context."""
    return [
        text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
        for m in _FUTURE_RISK.finditer(text)
        # A horizon right before it ("5-year risk of stroke", "5-year stroke risk") is an
        # incident outcome's wording, allowed where the model records one.
        if not re.search(r"\d+(\.\d+)?-year\s*$", text[max(0, m.start() - 12) : m.start()])
    ]


def reply_outcome(outcome: ModelOutcome) -> dict:
    """The ``outcome`` object a reply carries for a model with this record."""
    return outcome.summary().model_dump()
