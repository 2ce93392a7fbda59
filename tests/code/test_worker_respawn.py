"""Inside a container BentoML leaves a crashed worker dead; the service has it restarted."""

from __future__ import annotations

import bentoml.serving

from stroke_risk.serving.worker_respawn import respawn_crashed_workers


def test_workers_are_restarted_inside_a_container_too(monkeypatch):
    monkeypatch.setenv("BENTOML_CONTAINERIZED", "true")  # as BentoML's Dockerfile sets it
    monkeypatch.setattr(
        bentoml.serving, "running_inside_container", bentoml.serving.running_inside_container
    )
    # The pinned BentoML's behaviour this module changes: if this fails, it may be gone.
    assert bentoml.serving.create_watcher("service", []).respawn is False

    respawn_crashed_workers()

    assert bentoml.serving.create_watcher("service", []).respawn is True
