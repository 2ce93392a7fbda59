"""Large blocks are mapped on their own, so a big batch's memory goes back to the system."""

from __future__ import annotations

import ctypes
import platform

import pytest

from stroke_risk.serving import process_memory
from stroke_risk.serving.process_memory import map_large_blocks_separately


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_glibc_accepts_the_fixed_threshold():
    assert map_large_blocks_separately() is True


def test_without_glibc_nothing_is_done_and_it_says_so(monkeypatch):
    def no_glibc(name: str) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(process_memory.ctypes, "CDLL", no_glibc)
    assert map_large_blocks_separately() is False
