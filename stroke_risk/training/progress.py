"""A line in the log at a steady pace while a long step runs, so nobody waiting at
`make run` or `make train` wonders whether training hangs.

scikit-learn's own ``verbose`` either says only "Fitting 25 folds ..." at the start or a
line per fit (hundreds); a heartbeat every few seconds, saying how far the step is, sits
between the two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

logger = logging.getLogger("stroke_risk.training")

EVERY_SECONDS = 10.0  # the promise is a line at least every 15 s from a cold `make run`


@contextmanager
def reported(status: Callable[[float], str], every: float = EVERY_SECONDS) -> Iterator[None]:
    """Log ``status(elapsed_seconds)`` every ``every`` seconds until the block ends."""
    started = time.perf_counter()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(every):
            logger.info("%s", status(time.perf_counter() - started))

    thread = threading.Thread(target=beat, name="training-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
