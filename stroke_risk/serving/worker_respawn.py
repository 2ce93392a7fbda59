"""Replacing a crashed worker, inside a container as well as outside.

BentoML's arbiter (circus) restarts a worker that dies, except when ``BENTOML_CONTAINERIZED``
is set, which BentoML's own Dockerfile does: there it leaves the dead worker's place
empty and expects the orchestrator to replace the container. For this service that means
a one-worker Fargate task whose worker was killed (out of memory, a crash in a native
library) accepts connections into a queue nobody reads until the health check has failed
three times, a minute and a half later. Restarting the worker takes about two seconds.

:func:`respawn_crashed_workers` makes the arbiter restart workers everywhere. It runs in
the arbiter process, which imports service.py to read the service's configuration before
creating its workers (``_bentoml_impl/server/serving.py``: ``load()``, then
``create_watcher``). It depends on the pinned BentoML's ``bentoml.serving`` module; its
test says so if that changes.
"""

from __future__ import annotations

import bentoml.serving


def _never_containerised() -> bool:
    return False


def respawn_crashed_workers() -> None:
    """Have BentoML's arbiter restart any worker that exits, containerised or not."""
    bentoml.serving.running_inside_container = _never_containerised
