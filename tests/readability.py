"""Reading level as textstat 0.7.3 measures it (the pinned dev dependency).

textstat 0.7.3 imports ``pkg_resources`` at import time, which recent setuptools no longer
ships; it only calls ``pkg_resources.resource_stream`` (to read word lists for some
languages, never for the Flesch-Kincaid grade). Where ``pkg_resources`` is missing, that
one function is provided from the standard library before textstat is imported, so the
measurement is textstat's own, offline, with the locked environment as it is.
"""

from __future__ import annotations

import importlib
import importlib.resources
import sys
import types
from typing import IO, Any


def _resource_stream(package: str, resource: str) -> IO[bytes]:
    return importlib.resources.files(package).joinpath(resource).open("rb")


def _textstat() -> Any:
    try:
        return importlib.import_module("textstat")
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            raise
    shim = types.ModuleType("pkg_resources")
    shim.resource_stream = _resource_stream  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = shim
    return importlib.import_module("textstat")


def flesch_kincaid_grade(text: str) -> float:
    """The U.S. school grade a reader needs for ``text`` (Flesch-Kincaid, textstat)."""
    return float(_textstat().flesch_kincaid_grade(text))
