"""create_bento_artifacts.sh: the Bento, the image build and the push to ECR or a registry.

There is no container engine in the test environment, so the build and push are checked
as commands (in --dry-run, and through a recorder standing in for the engine) while the
AWS side runs for real against moto and the Bento is really built.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import bentoml
import pytest
import yaml

from stroke_risk.core.config import MODEL_NAME, REPO_ROOT
from tests.ops.conftest import (
    CREATE_SCRIPT,
    FAKE_IMAGE_PACKAGES,
    MOTO_ACCOUNT,
    REGION,
    FakeEngine,
    clean_environment,
    required_tool,
    run_script,
)
from tests.servers import private_bentoml_home

ECR_HOST = f"{MOTO_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
# The Python the SBOM step runs in the image: it prints the installed distributions.
LIST_PYTHON = (
    "import importlib.metadata as m, json; "
    "from packaging.markers import default_environment as e; "
    'print("\\n".join(sorted({d.name + "==" + d.version for d in m.distributions()}))); '
    'print("# environment " + json.dumps(e()))'
)


class _AnyPath(str):
    """Equal to any string naming ``suffix`` in a temporary folder (its name is random)."""

    def __new__(cls, suffix: str) -> _AnyPath:
        instance = super().__new__(cls, f"<temporary folder>{suffix}")
        instance.suffix = suffix
        return instance

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and "stroke-risk." in other and other.endswith(self.suffix)

    __hash__ = str.__hash__


ANY_CONTAINERFILE = _AnyPath("/Containerfile")
ANY_FOLDER = _AnyPath("")
NO_ENGINE = (
    "error: no Docker engine is running (docker info failed): start Docker, "
    "or use CONTAINER_BACKEND=buildah"
)


LIST_DISTRIBUTIONS = f"python -c '{LIST_PYTHON}'"
# The SBOM step's check of the image against its lock, and the SBOM made from the lock.
CHECK_AND_SBOM = [
    f"python {REPO_ROOT}/scripts/supply_chain/locked_environment.py for-image "
    f"{REPO_ROOT}/requirements/serving.txt <bento-path>/sbom.txt <bento-path>/sbom.lock.txt",
    "cyclonedx-py requirements --output-reproducible --of JSON "
    "-o <bento-path>/sbom.cdx.json <bento-path>/sbom.lock.txt",
]


def dry_run(fake_engine: FakeEngine, *args: str, **settings: str) -> list[str]:
    """The commands a dry run prints, after checking it ran none of them."""
    settings = {"SBOM_FILE": "", **settings}
    env = fake_engine.environment(
        AWS_CLI="aws", BENTOML="bentoml", CYCLONEDX="cyclonedx-py", PYTHON="python", **settings
    )
    completed = run_script(CREATE_SCRIPT, "--dry-run", *args, env=env)
    assert completed.returncode == 0, completed.stderr
    assert fake_engine.calls() == [], "a dry run must not run anything"
    return [line[2:] for line in completed.stdout.splitlines() if line.startswith("+ ")]


def test_dry_run_shows_the_whole_ecr_path_and_runs_nothing(fake_engine: FakeEngine) -> None:
    commands = dry_run(fake_engine, AWS_REGION=REGION, ECR_REPOSITORY="stroke-risk")
    registry = f"<aws-account-id>.dkr.ecr.{REGION}.amazonaws.com"
    image = f"{registry}/stroke-risk:<bento-version>"
    assert commands == [
        "docker info",
        f"aws --region {REGION} sts get-caller-identity",
        f"make -C {REPO_ROOT} train",
        f"bentoml build {REPO_ROOT} -o tag",
        "bentoml containerize stroke_risk:<bento-version> --backend docker "
        "--image-tag stroke_risk:<bento-version> --opt platform=linux/amd64",
        f"docker run --rm stroke_risk:<bento-version> {LIST_DISTRIBUTIONS}",
        *CHECK_AND_SBOM,
        f"aws --region {REGION} ecr describe-repositories --repository-names stroke-risk",
        f"aws --region {REGION} ecr create-repository --repository-name stroke-risk "
        "--image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE",
        f"aws --region {REGION} ecr get-login-password | "
        f"docker login --username AWS --password-stdin {registry}",
        f"docker tag stroke_risk:<bento-version> {image}",
        f"docker push {image}",
        f"docker build --tag {image}-sbom --file '<temporary folder with the SBOM>/Containerfile' "
        "'<temporary folder with the SBOM>'",
        f"docker push {image}-sbom",
    ]


def test_dry_run_passes_the_endpoint_and_names_the_image(fake_engine: FakeEngine) -> None:
    commands = dry_run(
        fake_engine,
        "--skip-train",
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        AWS_ACCOUNT_ID="111122223333",
        IMAGE_TAG="v7",
        CONTAINERIZE_OPTS="--opt no-cache",
    )
    aws_commands = [command for command in commands if command.startswith("aws ")]
    assert aws_commands and all(
        command.startswith(f"aws --endpoint-url http://127.0.0.1:9 --region {REGION} ")
        for command in aws_commands
    )
    assert not any(command.startswith("make ") for command in commands)
    assert (
        "bentoml containerize stroke_risk:<bento-version> --backend docker --image-tag "
        "stroke_risk:v7 --opt platform=linux/amd64 --opt no-cache"
    ) in commands
    assert f"docker push 111122223333.dkr.ecr.{REGION}.amazonaws.com/stroke-risk:v7" in commands


def test_dry_run_with_buildah_and_a_local_registry_skips_ecr(fake_engine: FakeEngine) -> None:
    commands = dry_run(
        fake_engine,
        "--skip-train",
        CONTAINER_BACKEND="buildah",
        REGISTRY="127.0.0.1:5000",
        REGISTRY_TLS_VERIFY="false",
        IMAGE_TAG="dev",
    )
    assert not any("aws" in command or " login " in command for command in commands)
    assert commands[-10:] == [
        "bentoml containerize stroke_risk:<bento-version> --backend buildah "
        "--image-tag stroke_risk:dev --opt platform=linux/amd64",
        "buildah from stroke_risk:dev",
        f"buildah run <container> -- {LIST_DISTRIBUTIONS}",
        "buildah rm <container>",
        *CHECK_AND_SBOM,
        "buildah tag stroke_risk:dev 127.0.0.1:5000/stroke-risk:dev",
        "buildah push --tls-verify=false 127.0.0.1:5000/stroke-risk:dev",
        "buildah bud --tag 127.0.0.1:5000/stroke-risk:dev-sbom "
        "--file '<temporary folder with the SBOM>/Containerfile' "
        "'<temporary folder with the SBOM>'",
        "buildah push --tls-verify=false 127.0.0.1:5000/stroke-risk:dev-sbom",
    ]


def test_dry_run_with_buildah_logs_in_to_ecr_with_buildah(fake_engine: FakeEngine) -> None:
    commands = dry_run(fake_engine, "--skip-train", CONTAINER_BACKEND="buildah")
    registry = f"<aws-account-id>.dkr.ecr.{REGION}.amazonaws.com"
    assert "docker info" not in commands
    assert (
        f"aws --region {REGION} ecr get-login-password | "
        f"buildah login --username AWS --password-stdin {registry}"
    ) in commands


def test_an_unknown_backend_is_refused(fake_engine: FakeEngine) -> None:
    completed = run_script(
        CREATE_SCRIPT, "--dry-run", env=fake_engine.environment(CONTAINER_BACKEND="kaniko")
    )
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "error: CONTAINER_BACKEND=kaniko is not supported: use docker, podman or buildah"
    )


def test_preflight_stops_when_no_docker_engine_runs(fake_engine: FakeEngine) -> None:
    completed = run_script(CREATE_SCRIPT, "--skip-train", env=fake_engine.environment())
    assert completed.returncode == 1
    assert completed.stderr.strip() == NO_ENGINE
    assert fake_engine.commands() == [["docker", "info"]], "nothing may run after preflight"


def test_preflight_with_the_real_docker_client_and_no_engine(tmp_path: Path) -> None:
    """The real client, pointed at a socket nobody serves, so an engine running on this
    machine cannot make the preflight pass."""
    required_tool("docker.io", shutil.which("docker"))
    no_engine = f"unix://{tmp_path / 'no-engine.sock'}"
    env = clean_environment(DOCKER_HOST=no_engine)
    completed = run_script(CREATE_SCRIPT, "--skip-train", env=env)
    assert completed.returncode == 1
    assert completed.stderr.strip() == NO_ENGINE


def test_preflight_stops_when_the_aws_cli_is_missing(fake_engine: FakeEngine) -> None:
    env = fake_engine.environment(FAKE_DOCKER_ENGINE="up", AWS_CLI="/nonexistent/aws")
    completed = run_script(CREATE_SCRIPT, "--skip-train", env=env)
    assert completed.returncode == 1
    assert completed.stderr.strip() == (
        "error: /nonexistent/aws not found: install the AWS CLI (Debian: apt-get install awscli),"
        " or set REGISTRY"
    )


def test_preflight_stops_without_aws_credentials(
    fake_engine: FakeEngine, aws_cli: str, tmp_path: Path
) -> None:
    env = fake_engine.environment(
        FAKE_DOCKER_ENGINE="up",
        AWS_CLI=aws_cli,
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        # Any address: the CLI gives up for want of credentials before it connects.
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
    )
    completed = run_script(CREATE_SCRIPT, "--skip-train", env=env)
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "error: no usable AWS credentials (aws sts get-caller-identity failed): "
        "run 'aws configure' or set AWS_PROFILE"
    ]


@pytest.mark.slow
def test_push_to_moto_ecr_creates_the_repository_once_and_logs_in(
    fake_engine: FakeEngine, moto_env: dict[str, str], aws_client
) -> None:
    """Two real runs against moto; the recorder stands in for docker (engine 'up')."""
    repository = "stroke-risk-push-test"
    env = fake_engine.environment(
        **moto_env, FAKE_DOCKER_ENGINE="up", ECR_REPOSITORY=repository, IMAGE_TAG="t1"
    )
    runs = [
        run_script(CREATE_SCRIPT, "--skip-train", "--skip-bento", "--skip-build", env=env)
        for _ in range(2)
    ]
    for completed in runs:
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip().splitlines()[-1] == (
            f"IMAGE_URI={ECR_HOST}/{repository}:t1"
        )
    assert "Created ECR repository" in runs[0].stderr
    assert f"ECR repository {repository} exists" in runs[1].stderr

    ecr = aws_client("ecr")
    (described,) = ecr.describe_repositories(repositoryNames=[repository])["repositories"]
    assert described["imageTagMutability"] == "IMMUTABLE"
    assert described["imageScanningConfiguration"]["scanOnPush"] is True

    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    image = f"{ECR_HOST}/{repository}:t1"
    expected_run = [
        ["docker", "info"],
        ["docker", "run", "--rm", "stroke_risk:t1", "python", "-c", LIST_PYTHON],
        ["docker", "login", "--username", "AWS", "--password-stdin", ECR_HOST],
        ["docker", "tag", "stroke_risk:t1", image],
        ["docker", "push", image],
        ["docker", "build", "--tag", f"{image}-sbom", "--file", ANY_CONTAINERFILE, ANY_FOLDER],
        ["docker", "push", f"{image}-sbom"],
    ]
    assert fake_engine.commands() == expected_run * 2
    logins = [call for call in fake_engine.calls() if call["args"][:1] == ["login"]]
    assert [login["stdin"].strip() for login in logins] == [password, password]


def test_push_to_a_local_registry_needs_no_aws(fake_engine: FakeEngine) -> None:
    """The path the local container tests reuse: buildah, a plain-HTTP registry, no AWS."""
    env = fake_engine.environment(
        CONTAINER_BACKEND="buildah",
        REGISTRY="127.0.0.1:5000",
        REGISTRY_TLS_VERIFY="false",
        IMAGE_TAG="dev",
        AWS_CLI="/nonexistent/aws",
    )
    completed = run_script(CREATE_SCRIPT, "--skip-train", "--skip-bento", "--skip-build", env=env)
    assert completed.returncode == 0, completed.stderr
    image = "127.0.0.1:5000/stroke-risk:dev"
    assert fake_engine.commands() == [
        ["buildah", "from", "--quiet", "stroke_risk:dev"],
        ["buildah", "run", "fake-container", "--", "python", "-c", LIST_PYTHON],
        ["buildah", "rm", "fake-container"],
        ["buildah", "tag", "stroke_risk:dev", image],
        ["buildah", "push", "--tls-verify=false", image],
        ["buildah", "bud", "--tag", f"{image}-sbom", "--file", ANY_CONTAINERFILE, ANY_FOLDER],
        ["buildah", "push", "--tls-verify=false", f"{image}-sbom"],
    ]


def test_the_sbom_lists_the_images_locked_packages_and_is_pushed_beside_it(
    fake_engine: FakeEngine,
) -> None:
    """The image reports its packages (here the recorder's `docker run`: exactly the serving
    lock's); the SBOM is made from the lock's entries, as CycloneDX with package URLs, kept
    in SBOM_FILE, and its one-file image is built from that file and pushed as
    IMAGE_TAG-sbom."""
    env = fake_engine.environment(
        FAKE_DOCKER_ENGINE="up", REGISTRY="127.0.0.1:5000", IMAGE_TAG="v9"
    )
    completed = run_script(CREATE_SCRIPT, "--skip-train", "--skip-bento", "--skip-build", env=env)
    assert completed.returncode == 0, completed.stderr
    sbom = json.loads(fake_engine.sbom_file.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    listed = [line for line in FAKE_IMAGE_PACKAGES.splitlines() if "==" in line]
    purls = sorted(component["purl"] for component in sbom["components"])
    assert len(purls) == len(listed) > 50
    assert "pkg:pypi/bentoml@1.4.40" in purls and "pkg:pypi/numpy@2.4.6" in purls
    locked = fake_engine.sbom_file.with_name("sbom.lock.txt").read_text()
    assert locked.count("--hash=sha256:") > len(listed), "the lock's hashes are not kept"
    assert f"({len(listed)} packages, as locked): {fake_engine.sbom_file}" in completed.stderr
    (build,) = [command for command in fake_engine.commands() if command[1] == "build"]
    assert build[:3] == ["docker", "build", "--tag"]
    assert build[3] == "127.0.0.1:5000/stroke-risk:v9-sbom"
    assert ["docker", "push", "127.0.0.1:5000/stroke-risk:v9-sbom"] in fake_engine.commands()
    assert not Path(build[-1]).exists(), "the SBOM image's build folder is left behind"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("extra", "left-pad: 1.0 installed, not in the lock"),
        ("other version", "numpy: 2.4.5 installed, 2.4.6 locked"),
        ("missing", "msgspec: 0.19.0 locked, not installed"),
    ],
)
def test_an_image_that_is_not_its_lock_gets_no_sbom_and_no_push(
    fake_engine: FakeEngine, change: str, named: str
) -> None:
    listing = FAKE_IMAGE_PACKAGES
    if change == "extra":
        listing = "left-pad==1.0\n" + listing
    elif change == "other version":
        listing = listing.replace("numpy==2.4.6", "numpy==2.4.5")
    else:
        listing = listing.replace("msgspec==0.19.0\n", "")
    assert listing != FAKE_IMAGE_PACKAGES
    env = fake_engine.environment(
        FAKE_DOCKER_ENGINE="up",
        REGISTRY="127.0.0.1:5000",
        IMAGE_TAG="v9",
        FAKE_ENGINE_PACKAGES=listing,
    )
    completed = run_script(CREATE_SCRIPT, "--skip-train", "--skip-bento", "--skip-build", env=env)
    assert completed.returncode == 1
    assert named in completed.stderr
    assert "does not hold exactly the packages of" in completed.stderr
    assert not fake_engine.sbom_file.exists()
    assert not any(command[1] == "push" for command in fake_engine.commands())


def test_an_image_that_lists_no_packages_gets_no_sbom_and_no_push(fake_engine: FakeEngine) -> None:
    env = fake_engine.environment(
        FAKE_DOCKER_ENGINE="up",
        REGISTRY="127.0.0.1:5000",
        IMAGE_TAG="v9",
        FAKE_ENGINE_PACKAGES="",
    )
    completed = run_script(CREATE_SCRIPT, "--skip-train", "--skip-bento", "--skip-build", env=env)
    assert completed.returncode == 1
    assert "listed no Python packages: no SBOM written" in completed.stderr
    assert not any(command[1] == "push" for command in fake_engine.commands())


@pytest.fixture(scope="module")
def built_bento(
    quick_training, bentoml_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """`create_bento_artifacts.sh --skip-train --skip-build --skip-push` in a copy of the store."""
    home = private_bentoml_home(bentoml_home, tmp_path_factory.mktemp("home-bento"))
    env = clean_environment(BENTOML_HOME=str(home))
    completed = run_script(
        CREATE_SCRIPT, "--skip-train", "--skip-build", "--skip-push", env=env, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Using stroke_risk_model:latest from the model store" in completed.stderr
    (bento,) = [path for path in (home / "bentos" / "stroke_risk").iterdir() if path.is_dir()]
    assert f"Built Bento stroke_risk:{bento.name}" in completed.stderr
    return bento


@pytest.mark.slow
def test_the_bento_ships_the_model(built_bento: Path, stored_model) -> None:
    manifest = yaml.safe_load((built_bento / "bento.yaml").read_text())
    (service,) = manifest["services"]
    assert [model["tag"] for model in service["models"]] == [str(stored_model.tag)]
    assert str(stored_model.tag).startswith(f"{MODEL_NAME}:")
    assert {"name": "BENTOML_DO_NOT_TRACK", "value": "true", "stage": "all"} in manifest["envs"]
    assert (built_bento / "src" / "service.py").is_file()
    assert (built_bento / "src" / "stroke_risk" / "core" / "schema.py").is_file()
    assert not (built_bento / "src" / "tests").exists()


@pytest.mark.slow
def test_the_bento_dockerfile_serves_on_3000_as_a_non_root_user(built_bento: Path) -> None:
    dockerfile = (built_bento / "env" / "docker" / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}, "the container must not run as root"
    assert "EXPOSE 3000" in dockerfile
    assert "ENV BENTOML_DO_NOT_TRACK=$BENTOML_DO_NOT_TRACK" in dockerfile


@pytest.mark.slow
def test_the_shipped_stage_has_no_build_tools_and_declares_its_writable_volumes(
    built_bento: Path,
) -> None:
    """deploy/Dockerfile.template: uv builds the environment in a first stage; the stage
    that ships starts again from the base and takes only the environment and the Bento."""
    dockerfile = (built_bento / "env" / "docker" / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert stages == [
        "FROM python:3.11-slim AS python-environment",
        "FROM python:3.11-slim as base-container",
    ]
    build, shipped = dockerfile.split(stages[1])
    assert "install.sh" in build and "uv venv" in build
    assert "compileall -f -q -j 0 --invalidation-mode unchecked-hash /app/.venv/lib" in build
    for tool in ("apt-get", "build-essential", " git", "pip install", "uv "):
        assert tool not in shipped, f"{tool.strip()} in the image that ships"
    assert "COPY --from=python-environment /app/.venv /app/.venv" in shipped
    assert 'VOLUME ["/tmp", "/home/bentoml/prometheus_multiproc_dir"]' in shipped


def test_the_task_definition_mounts_a_volume_on_each_path_the_image_declares() -> None:
    """A read-only root works only where something writable is mounted: the task
    definition's mountPoints are exactly the template's VOLUMEs."""
    template = (REPO_ROOT / "deploy" / "Dockerfile.template").read_text()
    (volume_line,) = [line for line in template.splitlines() if line.startswith("VOLUME ")]
    declared = {
        path.replace("{{ bento__home }}", "/home/bentoml/")
        for path in json.loads(volume_line.removeprefix("VOLUME "))
    }
    definition = json.loads((REPO_ROOT / "deploy" / "task-definition.json").read_text())
    (container,) = definition["containerDefinitions"]
    assert container["readonlyRootFilesystem"] is True
    mounts = {mount["containerPath"]: mount["sourceVolume"] for mount in container["mountPoints"]}
    assert set(mounts) == declared
    assert {volume["name"] for volume in definition["volumes"]} == set(mounts.values())
    assert all(set(volume) == {"name"} for volume in definition["volumes"]), "task storage only"


def test_the_bentofile_installs_the_serving_lock_and_nothing_else() -> None:
    """The image installs requirements/serving.txt (what the service process imports, at the
    versions every test ran with: tests/ops/test_locked_installs.py), no dependency
    resolved at build time, and no training library."""
    python = yaml.safe_load((REPO_ROOT / "bentofile.yaml").read_text())["python"]
    assert python["requirements_txt"] == "./requirements/serving.txt"
    assert "packages" not in python, "BentoML ignores packages beside requirements_txt"
    assert python["lock_packages"] is False, "BentoML's own lock would re-resolve it"
    assert python["pip_args"].split() == ["--no-deps"]
    served = (REPO_ROOT / "requirements" / "serving.txt").read_text()
    assert {"bentoml==", "numpy==", "pydantic==", "msgspec==", "fhir-resources=="} <= {
        line.split("==")[0] + "==" for line in served.splitlines() if "==" in line
    }
    for training in ("scikit-learn==", "xgboost", "pandas==", "scipy==", "statsmodels=="):
        assert f"\n{training}" not in served, f"a training library in the image: {training}"


@pytest.mark.slow
def test_the_bento_installs_exactly_the_locked_packages_with_their_hashes(
    built_bento: Path,
) -> None:
    """What the image's build stage installs: the lock, every line with its hashes, plus
    the bare `bentoml==` BentoML adds, which is the locked version; --no-deps."""
    python = built_bento / "env" / "python"

    def pins(text: str) -> list[str]:
        lines = text.replace("\\\n", " ").splitlines()
        pinned = (re.match(r"[\w.-]+==[^\s;]+", line) for line in lines if line[:1].isalnum())
        return [match.group(0) for match in pinned if match]

    bento_text = (python / "requirements.txt").read_text()
    requirements = pins(bento_text)
    lines = bento_text.replace("\\\n", " ").splitlines()
    unhashed = [line.strip() for line in lines if line[:1].isalnum() and "--hash=" not in line]
    expected = pins((REPO_ROOT / "requirements" / "serving.txt").read_text())
    assert unhashed == [f"bentoml=={bentoml.__version__}"]
    assert sorted(requirements) == sorted([*expected, f"bentoml=={bentoml.__version__}"])
    assert f"bentoml=={bentoml.__version__}" in expected
    assert "PIP_ARGS=(--no-deps)" in (python / "install.sh").read_text()
