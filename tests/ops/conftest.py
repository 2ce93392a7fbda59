"""Fixtures for the operations tests: the AWS CLI, a moto server, and stand-in engines.

No test here reaches AWS or needs a container engine: AWS calls go to a moto server on
127.0.0.1, and `docker`/`buildah`/`podman` are replaced by a recorder that logs how it
was called (and the password it was given) without building or pushing anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import default_environment

from stroke_risk.core.config import REPO_ROOT
from tests.environment import skip_or_fail, without_developer_settings
from tests.script_modules import load_script
from tests.servers import loopback_server

BIN = Path(sys.executable).parent
CREATE_SCRIPT = REPO_ROOT / "create_bento_artifacts.sh"
DEPLOY_SCRIPT = REPO_ROOT / "deploy" / "deploy_fargate.sh"
REGION = "eu-west-2"
MOTO_ACCOUNT = "123456789012"
SCRIPT_TIMEOUT = 240

# Settings the scripts read; cleared so a developer's shell cannot steer the tests.
SCRIPT_SETTINGS = (
    "AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_CLI ECR_REPOSITORY "
    "IMAGE_TAG MODEL_NAME BENTO_NAME CONTAINER_BACKEND IMAGE_PLATFORM CONTAINERIZE_OPTS "
    "REGISTRY REGISTRY_TLS_VERIFY BENTOML PYTHON IMAGE_URI SUBNETS SECURITY_GROUPS "
    "TARGET_GROUP_ARN EXECUTION_ROLE_ARN API_KEYS_SECRET_ARN TASK_ROLE_ARN ECS_CLUSTER "
    "ECS_SERVICE ECS_TASK_FAMILY ECS_CONTAINER_NAME TASK_CPU TASK_MEMORY LOG_GROUP "
    "LOG_RETENTION_DAYS ASSIGN_PUBLIC_IP MIN_TASKS MAX_TASKS CPU_TARGET "
    "HEALTH_CHECK_GRACE_SECONDS TASK_DEFINITION_TEMPLATE LISTENER_ARN ROUTED_PATHS "
    "LISTENER_RULE_PRIORITY AWS_ACCESS_KEY_ID "
    "AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE "
    "CYCLONEDX SBOM_FILE SERVING_LOCK"
).split()

NO_ENGINE_MESSAGE = (
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
    "Is the docker daemon running?"
)

SERVING_LOCK = REPO_ROOT / "requirements" / "serving.txt"


def image_listing(distributions: dict[str, str], environment: dict[str, str]) -> str:
    """What create_bento_artifacts.sh's listing prints in an image: its distributions, one
    name==version a line, then its marker environment."""
    lines = [f"{name}=={version}" for name, version in sorted(distributions.items())]
    return "\n".join([*lines, f"# environment {json.dumps(environment)}"]) + "\n"


def locked_image_listing() -> str:
    """The listing of an image built from the serving lock, on this machine's platform."""
    module = load_script(REPO_ROOT / "scripts" / "supply_chain" / "locked_environment.py")
    environment = default_environment()
    return image_listing(module.expected(module.read_lock(SERVING_LOCK), environment), environment)


# What the stand-in engine's `run` prints: an image's installed distributions, as the SBOM
# step of create_bento_artifacts.sh lists them ($FAKE_ENGINE_PACKAGES overrides it): by
# default, exactly the serving lock's.
FAKE_IMAGE_PACKAGES = locked_image_listing()

# A stand-in for docker/buildah/podman: one JSON line per call in $FAKE_ENGINE_LOG.
RECORDER = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path

name = Path(sys.argv[0]).name
args = sys.argv[1:]
stdin = sys.stdin.read() if "--password-stdin" in args else None
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps({{"command": name, "args": args, "stdin": stdin}}) + "\\n")
if name == "docker" and args[:1] == ["info"] and os.environ.get("FAKE_DOCKER_ENGINE") != "up":
    sys.stderr.write({NO_ENGINE_MESSAGE!r} + "\\n")
    sys.exit(1)
if name == "buildah" and args[:1] == ["from"]:
    sys.stdout.write("fake-container\\n")
if name in ("docker", "podman", "buildah") and args[:1] == ["run"]:
    sys.stdout.write(os.environ.get("FAKE_ENGINE_PACKAGES", {FAKE_IMAGE_PACKAGES!r}))
"""


def required_tool(name: str, found: str | None) -> str:
    """The tool's path; a missing tool fails the test in CI and skips it elsewhere."""
    if found:
        return found
    skip_or_fail(f"{name} is not installed (Debian: apt-get install {name}; `make system-deps`)")


def clean_environment(**extra: str) -> dict[str, str]:
    """os.environ without the scripts' settings and the developer's STROKE_* ones, plus
    ``extra``."""
    env = {k: v for k, v in without_developer_settings().items() if k not in SCRIPT_SETTINGS}
    env.update(BENTOML_DO_NOT_TRACK="true", AWS_PAGER="", AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


def run_script(
    script: Path, *args: str, env: dict[str, str], timeout: float = SCRIPT_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class FakeEngine:
    """Recorders named docker, buildah, podman, aws and bentoml at the front of PATH."""

    bin_dir: Path
    log_path: Path

    def calls(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def commands(self) -> list[list[str]]:
        return [[call["command"], *call["args"]] for call in self.calls()]

    @property
    def sbom_file(self) -> Path:
        """Where the scripts write the SBOM in these tests (the recorder's `bentoml get`
        prints no Bento path to put it beside)."""
        return self.log_path.parent / "sbom" / "sbom.cdx.json"

    def environment(self, **extra: str) -> dict[str, str]:
        env = clean_environment(**{"SBOM_FILE": str(self.sbom_file), **extra})
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        env["FAKE_ENGINE_LOG"] = str(self.log_path)
        return env


@pytest.fixture
def fake_engine(tmp_path: Path) -> FakeEngine:
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name in ("docker", "buildah", "podman", "aws", "bentoml", "make"):
        path = bin_dir / name
        path.write_text(RECORDER)
        path.chmod(0o755)
    return FakeEngine(bin_dir, tmp_path / "engine-calls.jsonl")


@pytest.fixture(scope="session")
def aws_cli() -> str:
    """The AWS CLI the scripts will use: $AWS_CLI, else `aws` on PATH."""
    return required_tool("awscli", shutil.which(os.environ.get("AWS_CLI", "aws")))


@pytest.fixture(scope="session")
def aws_cli_version(aws_cli: str) -> str:
    completed = subprocess.run([aws_cli, "--version"], capture_output=True, text=True, check=True)
    return (completed.stdout or completed.stderr).strip()


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server (every AWS service moto mocks) on a free 127.0.0.1 port."""
    server = required_tool("moto[server]", shutil.which("moto_server", path=str(BIN)))
    with loopback_server(
        "moto",
        [server, "-H", "127.0.0.1", "-p", "{port}"],
        without_developer_settings(),
        tmp_path_factory.mktemp("moto"),
        "/moto-api/",
        timeout=30,
    ) as running:
        yield running.url


@pytest.fixture(scope="session")
def moto_credentials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Fake credentials, and empty AWS config files so no real profile is read."""
    folder = tmp_path_factory.mktemp("aws-config")
    (folder / "config").write_text("")
    (folder / "credentials").write_text("")
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(folder / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
    }


@pytest.fixture(scope="session")
def moto_env(moto_url: str, moto_credentials: dict[str, str], aws_cli: str) -> dict[str, str]:
    """The environment for a script run against moto with the real AWS CLI."""
    return clean_environment(**moto_credentials, AWS_ENDPOINT_URL=moto_url, AWS_CLI=aws_cli)


@pytest.fixture(scope="session")
def aws_client(moto_url: str, moto_credentials: dict[str, str]) -> Callable:
    """boto3 clients for moto, to set up resources and read back what the scripts did."""
    import boto3

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id=moto_credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=moto_credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=moto_credentials["AWS_SESSION_TOKEN"],
        )

    return client
