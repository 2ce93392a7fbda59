"""Training says how far it is while it works: a line at a steady pace, not minutes of
silence (a cold `make run` trains before it serves)."""

from __future__ import annotations

import logging
import re
import time
from itertools import pairwise

import pytest

from stroke_risk.training.progress import reported


def test_a_long_step_logs_its_status_at_a_steady_pace(caplog):
    caplog.set_level(logging.INFO, logger="stroke_risk.training")
    with reported(lambda elapsed: f"working: {elapsed:.2f}s", every=0.05):
        time.sleep(0.33)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("working")]
    assert len(lines) >= 3  # about 6; fewer only on a very loaded machine
    times = [float(re.search(r"([\d.]+)s", line).group(1)) for line in lines]
    assert all(later > earlier for earlier, later in pairwise(times))


def test_the_heartbeat_stops_with_its_step(caplog):
    caplog.set_level(logging.INFO, logger="stroke_risk.training")
    with reported(lambda elapsed: "beat", every=0.02):
        time.sleep(0.05)
    count = len(caplog.records)
    time.sleep(0.1)
    assert len(caplog.records) == count


@pytest.mark.slow
def test_training_logs_the_searches_and_the_refits_as_they_go(quick_training):
    log = quick_training["log"]
    assert re.search(r"Searching \w+: \d+ cross-validated fits", log)
    assert "Bootstrap refits for the probability intervals: 0/20" in log
    assert "Bootstrap refits: 20/20 done" in log
