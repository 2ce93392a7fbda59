"""A bounded, repeatable schemathesis fuzz of one operation: no 5xx, ever.

Hypothesis runs a fixed, derandomised number of generated requests, with no deadline and
no example database, so a run is the same every time and stops by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings


def fuzz(
    base_url: str,
    strategy: Any,
    examples: int,
    check: Callable[[Any, Any], None] | None = None,
    headers: Callable[[], dict[str, str]] | None = None,
) -> dict[int, int]:
    """Send ``examples`` cases drawn from ``strategy``; every reply must be under 500 and
    pass ``check(case, response)``. ``headers()``, if given, adds headers to each call
    (e.g. a fresh JWT). Returns how many replies had each status."""
    seen: dict[int, int] = {}

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        extra = headers() if headers is not None else None
        response = case.call(base_url=base_url, timeout=30, headers=extra)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (case.body, response.text[:500])
        if check is not None:
            check(case, response)

    call()
    return seen
