"""What the tests take from the environment, and what they must not.

Two rules, each kept in one place:

- A test that needs a tool this machine lacks (Chromium, buildah, the AWS CLI ...) is
  skipped locally with a reason that says how to install it, and fails under CI, where a
  skip would pass silently. CI counts as set for any truthy ``CI`` (``1``, ``true``,
  ``True``, ``yes``, ``on``, ...), as CI services spell it differently.
- The developer's own ``STROKE_*`` settings (an API key, a band threshold, a worker
  count) never reach the code or the servers under test; only ``STROKE_DATA``, where the
  data set is, is kept.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NoReturn

import pytest
from pydantic import TypeAdapter, ValidationError

SETTINGS_PREFIX = "STROKE_"
KEPT_SETTINGS = frozenset({"STROKE_DATA"})
# Every test server runs one worker unless its test asks for more: up to four of them run at
# once, and one worker per CPU each would start a dozen processes on a small machine.
# They serve on loopback only, so without keys unless a test gives some (the service refuses
# to start keyless otherwise); a test of that rule removes STROKE_ALLOW_ANONYMOUS. A server
# stops as soon as it is told to (no grace period for a load balancer) unless its test asks.
TEST_SERVER_SETTINGS = {
    "STROKE_WORKERS": "1",
    "STROKE_ALLOW_ANONYMOUS": "true",
    "STROKE_SHUTDOWN_GRACE": "0",
    "BENTOML_DO_NOT_TRACK": "true",
}

_BOOLEAN = TypeAdapter(bool)


def running_in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``CI`` is set to a truthy value; an unrecognised non-empty value counts too
    (failing a test that cannot run is safer than skipping it unseen)."""
    value = environ.get("CI", "").strip()
    if not value:
        return False
    try:
        return _BOOLEAN.validate_python(value)
    except ValidationError:
        return True


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when running in CI."""
    if running_in_ci():
        pytest.fail(f"CI={os.environ['CI']} and {reason}", pytrace=False)
    pytest.skip(reason)


def without_developer_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``environ`` without the ``STROKE_*`` settings, except those in ``KEPT_SETTINGS``."""
    return {
        name: value
        for name, value in environ.items()
        if not name.startswith(SETTINGS_PREFIX) or name in KEPT_SETTINGS
    }


def server_environment(**settings: str) -> dict[str, str]:
    """The environment of a test server: no developer settings, one worker, no tracking,
    then the test's own ``settings``."""
    return {**without_developer_settings(), **TEST_SERVER_SETTINGS, **settings}
