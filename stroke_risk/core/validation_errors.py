"""Pydantic's error lists told to people: where each problem is and which rule it breaks.

The service's 400 replies and the app's messages both use this, so a refusal reads the
same wherever it is shown. Inputs are never echoed (the schema hides them), only the
field's place and the rule, so the text is safe to log and to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SHOWN = 3  # problems named in the sentence; the full list stays in the 'detail' field
# At most this many problems are listed in a reply's 'detail', then one entry counting the
# rest: a batch with 40 unknown keys per patient once made 400,000 errors and a 105 MB body.
MAX_LISTED = 20
NAMES_SHOWN = 3  # unknown fields named in their one error
NAME_LENGTH = 40  # an unknown field's name is cut to this many characters
EXTRA = "extra_forbidden"  # pydantic's error, one per unknown key
UNKNOWN_FIELDS = "unknown_fields"  # ours, one per object
MORE = "too_many_errors"


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


def describe(detail: Sequence[dict[str, Any]], limit: int = SHOWN, total: int | None = None) -> str:
    """The first few problems, each with its place and rule, and how many more there are
    (of ``total``, when ``detail`` lists only some)."""
    parts = [f"{location(error.get('loc', ()))}: {message(error)}" for error in detail[:limit]]
    more = (len(detail) if total is None else total) - limit
    return "; ".join(parts[:limit]) + (f"; and {more} more" if more > 0 else "")


def problem_count(detail: Sequence[dict[str, Any]]) -> tuple[int, bool]:
    """How many problems ``detail`` stands for, counting those a capped list left out, and
    whether that is exact (a list that stopped looking gives only a lower bound)."""
    count = len(detail)
    if detail and detail[-1].get("type") == MORE:
        first = str(detail[-1].get("msg", "")).split(" ", 1)[0]
        if not first.isdigit():
            return count - 1, False
        count += int(first) - 1
    return count, True


def summarise(detail: list[dict[str, Any]]) -> str:
    """The service's one-sentence 'error' for a 400: how many problems, the first few."""
    count, exact = problem_count(detail)
    listed = detail[:-1] if detail and detail[-1].get("type") == MORE else detail
    if exact:
        where = "all are listed" if count == len(listed) else f"the first {len(listed)} are listed"
        note = f" ({where} in 'detail')" if count > SHOWN else ""
        problems = f"{count} problem{'s' if count != 1 else ''}"
        return f"invalid input, {problems}: {describe(listed, total=count)}{note}."
    note = f" (listed in 'detail'; {detail[-1]['msg']})"
    return f"invalid input, at least {count} problems: {describe(listed)}{note}."


def unknown_fields(loc: Sequence[Any], names: Sequence[str], count: int | None = None) -> dict:
    """One error for an object's unknown fields: the first few names, and how many."""
    count = len(names) if count is None else count
    shown = ", ".join(f"'{str(name)[:NAME_LENGTH]}'" for name in names[:NAMES_SHOWN])
    more = count - min(NAMES_SHOWN, len(names))
    listed = f"{shown} and {more} more" if more > 0 else shown
    plural = "s" if count != 1 else ""
    return {
        "type": UNKNOWN_FIELDS,
        "loc": list(loc),
        "msg": f"unknown field{plural} {listed}: only the documented fields are accepted",
    }


def more_problems(count: int | None = None) -> dict[str, Any]:
    """The entry that ends a capped list: how many problems are not listed, or (``None``)
    that the check stopped before the end."""
    if count is None:
        text = f"more problems may follow: the check stops after {MAX_LISTED} with problems"
    else:
        text = f"{count} more problems not listed"
    return {"type": MORE, "loc": [], "msg": text}


def condense(detail: Sequence[dict[str, Any]], limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    """Pydantic's errors, bounded: the unknown fields of one object become one error that
    names the first few (pydantic makes one per key), and at most ``limit`` problems are
    listed, then one ``too_many_errors`` entry saying how many more there are.

    Entries keep pydantic's keys (type, loc, msg); an unknown field's name is cut short, as
    it is the caller's text. Applying it twice changes nothing.

    Example: 40 unknown keys in each of 7,500 patients (300,000 pydantic errors) become 20
    ``unknown_fields`` entries (``patients[0]``, ...) and "7480 more problems not listed".
    """
    kept: list[dict[str, Any]] = []
    unknown: dict[tuple[Any, ...], list[str]] = {}  # object's place -> its unknown fields
    omitted = 0
    stopped = False
    for error in detail:
        if error.get("type") == MORE:
            more, exact = problem_count([error])
            if not exact:
                stopped = True
            omitted += more
            continue
        loc = tuple(error.get("loc", ()))
        if error.get("type") == EXTRA and loc:
            parent = loc[:-1]
            if parent not in unknown:
                unknown[parent] = []
                kept.append({"type": UNKNOWN_FIELDS, "loc": parent, "first": error})
            unknown[parent].append(str(loc[-1]))
            continue
        kept.append(error)
    for index, error in enumerate(kept):
        if error.get("type") == UNKNOWN_FIELDS and "first" in error:
            names = unknown[tuple(error["loc"])]
            # One unknown field keeps pydantic's own error, whose place names it.
            kept[index] = error["first"] if len(names) == 1 else unknown_fields(error["loc"], names)
    omitted += max(0, len(kept) - limit)
    # Each listed rule as people read it: "Value error, " is pydantic's wording for our own
    # validators, not part of the rule (kept out of 'detail' as out of 'error').
    listed = [
        {**error, "msg": message(error)} if "msg" in error else error for error in kept[:limit]
    ]
    if stopped:
        listed.append(more_problems(None))
    elif omitted:
        listed.append(more_problems(omitted))
    return listed
