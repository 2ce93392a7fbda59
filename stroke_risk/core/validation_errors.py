"""Pydantic's error lists told to people: where each problem is and which rule it breaks.

The service's 400 replies and the app's messages both use this, so a refusal reads the
same wherever it is shown. Inputs are never echoed (the schema hides them), only the
field's place and the rule, so the text is safe to log and to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SHOWN = 3  # problems named in the sentence; the full list stays in the 'detail' field


def location(loc: Sequence[Any]) -> str:
    """``["patients", 3, "age"]`` -> ``patients[3].age``; ``[]`` -> ``the request body``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "the request body"


def message(error: dict[str, Any]) -> str:
    """The rule broken, without pydantic's "Value error, " prefix on our own validators."""
    text = str(error.get("msg", "invalid"))
    return text.removeprefix("Value error, ")


def describe(detail: Sequence[dict[str, Any]], limit: int = SHOWN) -> str:
    """The first few problems, each with its place and rule, and how many more there are."""
    parts = [f"{location(error.get('loc', ()))}: {message(error)}" for error in detail]
    more = len(parts) - limit
    return "; ".join(parts[:limit]) + (f"; and {more} more" if more > 0 else "")


def summarise(detail: list[dict[str, Any]]) -> str:
    """The service's one-sentence 'error' for a 400: how many problems, the first few."""
    count = len(detail)
    listed = " (all are listed in 'detail')" if count > SHOWN else ""
    return f"invalid input, {count} problem{'s' if count != 1 else ''}: {describe(detail)}{listed}."
