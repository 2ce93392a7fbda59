"""Write the manual's sample replies from the running service (`make docs-samples`).

Why: a reply copied into the docs by hand drifts from what the service answers (the
README once showed a CDS card reading 14.1% where the service answered 9.2%). So every
reply the manual shows is sent for real: this script starts `bentoml serve service.py` on
a free 127.0.0.1 port with the model in the store (``STROKE_MODEL_TAG``, default
``stroke_risk_model:latest``), sends each request of ``docs/samples/requests/`` and writes
each reply to ``docs/samples/replies/``, where the pages include them. With ``--url`` it
uses a service that is already running instead.

The requests are the bytes the README's curl examples send (a test keeps them equal);
``tests/docs/test_samples.py`` sends the same requests to the test session's service and
checks the committed replies against what it answers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.servers import bentoml_command, loopback_server  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = REPO_ROOT / "docs" / "samples"
REQUESTS_DIR = SAMPLES / "requests"
REPLIES_DIR = SAMPLES / "replies"
START_TIMEOUT_SECONDS = 120
REQUEST_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Sample:
    """One documented request: its file under requests/, the route, and the status the
    docs say it gets (a sample that comes back otherwise is an error, not a sample)."""

    name: str
    route: str
    status: int
    content_type: str = "application/json"

    @property
    def request_file(self) -> Path:
        return REQUESTS_DIR / f"{self.name}.json"


# Every reply the manual shows, with the request that gets it: the FHIR reply is named for
# what comes back (a RiskAssessment), the others for their request.
SAMPLES_SENT = (
    Sample("predict", "/predict", 200),
    Sample("predict-batch", "/predict_batch", 200),
    Sample("predict-under-18", "/predict", 400),
    Sample("cds-patient-view", "/cds-services/stroke-risk", 200),
    Sample("fhir-bundle", "/fhir/risk-assessment", 200, "application/fhir+json"),
)
REPLY_NAMES = {"fhir-bundle": "fhir-risk-assessment"}


def reply_file(sample: Sample, replies_dir: Path = REPLIES_DIR) -> Path:
    return replies_dir / f"{REPLY_NAMES.get(sample.name, sample.name)}.json"


def send_samples(base_url: str) -> dict[Sample, object]:
    """Send every sample request to the service at ``base_url``; the parsed replies.

    Raises RuntimeError naming the sample when a reply's status is not the documented one.
    """
    replies: dict[Sample, object] = {}
    with requests.Session() as session:
        for sample in SAMPLES_SENT:
            reply = session.post(
                f"{base_url}{sample.route}",
                data=sample.request_file.read_bytes(),
                headers={"Content-Type": sample.content_type},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            if reply.status_code != sample.status:
                raise RuntimeError(
                    f"{sample.name}: {sample.route} answered {reply.status_code}, the docs say "
                    f"{sample.status}: {reply.text[:500]}"
                )
            replies[sample] = reply.json()
    return replies


def sample_text(reply: object) -> str:
    """A reply as the docs show it: indented, keys in the service's own order."""
    return json.dumps(reply, indent=2, ensure_ascii=False) + "\n"


@contextmanager
def running_service() -> Iterator[str]:
    """`bentoml serve service.py` on a free loopback port, without keys (loopback only),
    with one worker; its base URL. Started and stopped (its whole process group) as the
    test servers are (tests/servers.py), with this shell's model store and model tag."""
    environment = {
        **os.environ,
        "STROKE_ALLOW_ANONYMOUS": "true",
        "STROKE_WORKERS": "1",
        "STROKE_SHUTDOWN_GRACE": "0",
        "BENTOML_DO_NOT_TRACK": "true",
    }
    with (
        tempfile.TemporaryDirectory() as logs,
        loopback_server(
            "bentoml", bentoml_command(), environment, Path(logs), "/readyz", START_TIMEOUT_SECONDS
        ) as server,
    ):
        yield server.url


def write_samples(base_url: str, replies_dir: Path = REPLIES_DIR) -> list[Path]:
    """Send every sample to ``base_url`` and write the replies; the files written."""
    replies_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for sample, reply in send_samples(base_url).items():
        path = reply_file(sample, replies_dir)
        path.write_text(sample_text(reply))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="use the service running here instead of starting one")
    parser.add_argument("--output", type=Path, default=REPLIES_DIR, help="replies folder")
    args = parser.parse_args(argv)
    try:
        if args.url:
            written = write_samples(args.url.rstrip("/"), args.output)
        else:
            with running_service() as url:
                written = write_samples(url, args.output)
    except (RuntimeError, requests.RequestException) as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    for path in written:
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        sys.stdout.write(f"wrote {shown}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
