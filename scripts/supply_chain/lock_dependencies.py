"""`make lock`: the committed lock of every transitive dependency, with hashes, and its check.

    python3 scripts/supply_chain/lock_dependencies.py            # refresh after a pin change
    python3 scripts/supply_chain/lock_dependencies.py --upgrade  # also move unpinned ones on
    python3 scripts/supply_chain/lock_dependencies.py --check    # is the lock current?

The direct pins stay where people edit them: the Pipfile (the development environment,
its [packages] and [dev-packages]) and requirements/serving.in (the image's subset). From
them, `uv pip compile --generate-hashes --universal` writes

- requirements/development.txt: every package `make install` installs, with the sha256 of
  each of its files on the index, for every platform (markers say which apply where);
- requirements/serving.txt: the image's packages, resolved with development.txt as
  constraints, so the image runs the very versions every test ran with.

Why uv's requirements format and not a committed Pipfile.lock: pipenv's lock records the
index's address in its `_meta.sources` and in every entry, and is read only by pipenv; a
hashed requirements file records no index (uv writes none unless told to), and pip, uv and
BentoML all install it with hash checking. Refreshing keeps every version already in the
lock that still fits (uv reads the old lock as its preferences), so adding one package
moves nothing else; `--upgrade` re-resolves everything to the newest allowed.

uv asks the index pip is configured with (`pip config`, PIP_INDEX_URL), else its default
(the public index), and never writes that address into the lock. pip's extra indexes are
not passed on: a local mirror holding one platform's wheels would leave the other
platforms' hashes out of the lock.

Each lock's header records the sha256 of the pins it was made from; `--check` (run by
`make install`) fails, naming `make lock`, when the Pipfile or serving.in changed since.
Needs only the standard library (the check runs before .venv exists) and, to lock, uv:
.venv's (the Pipfile pins it), else uv on PATH, else the lock's own uv, installed by pip
with its hashes into a temporary folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPFILE = REPO_ROOT / "Pipfile"
REQUIREMENTS = REPO_ROOT / "requirements"
SERVING_IN = REQUIREMENTS / "serving.in"
DEVELOPMENT_LOCK = REQUIREMENTS / "development.txt"
SERVING_LOCK = REQUIREMENTS / "serving.txt"
# The Pipfile's `[requires] python_version`: the oldest patch release of it, so the lock
# holds on every 3.11.x (a release needing 3.11.5 would fail on Debian's 3.11.2).
PYTHON_VERSION = "3.11"
DIGEST_PREFIX = "# pins sha256: "
COMPILE_COMMAND = "make lock"
# uv's own index settings, which would steer the resolution away from pip's index.
UV_INDEX_SETTINGS = frozenset(
    {"UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_FIND_LINKS"}
)


class LockError(Exception):
    """The lock cannot be made or is out of date; the message says what to do."""


def _pipfile_requirement(name: str, spec: str | dict) -> str | None:
    """One Pipfile entry as a requirement line; None for the project itself (a path)."""
    if isinstance(spec, str):
        return f"{name}{'' if spec == '*' else spec}"
    if "path" in spec or "editable" in spec:
        return None
    extras = f"[{','.join(spec['extras'])}]" if spec.get("extras") else ""
    return f"{name}{extras}{spec.get('version', '')}"


def development_pins(pipfile: Path = PIPFILE) -> list[str]:
    """Every direct pin of the development environment: the Pipfile's two sections."""
    sections = tomllib.loads(pipfile.read_text())
    pins = []
    for section in ("packages", "dev-packages"):
        for name, spec in sections.get(section, {}).items():
            requirement = _pipfile_requirement(name, spec)
            if requirement:
                pins.append(requirement)
    return pins


def serving_pins(serving_in: Path = SERVING_IN) -> list[str]:
    """The image's direct pins, comments and blank lines dropped."""
    lines = (line.split("#", 1)[0].strip() for line in serving_in.read_text().splitlines())
    return [line for line in lines if line]


def pins_digest(development: Sequence[str], serving: Sequence[str]) -> str:
    """sha256 of the pins a lock is made from (order-free), and of how it is made."""
    text = "\n".join(
        [f"python {PYTHON_VERSION}", "universal", "[development]", *sorted(development)]
        + ["[serving]", *sorted(serving)]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    """The pins digest in a lock's header, or None."""
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line.removeprefix(DIGEST_PREFIX).strip()
        if not line.startswith("#"):
            return None
    return None


def stale_locks(
    pipfile: Path = PIPFILE,
    serving_in: Path = SERVING_IN,
    locks: Sequence[Path] = (DEVELOPMENT_LOCK, SERVING_LOCK),
) -> list[Path]:
    """The locks not made from the current pins (missing ones included)."""
    digest = pins_digest(development_pins(pipfile), serving_pins(serving_in))
    return [lock for lock in locks if recorded_digest(lock) != digest]


def locked_entry(name: str, lock: Path = DEVELOPMENT_LOCK) -> str | None:
    """One package's requirement and hash lines from a lock, or None."""
    lines = lock.read_text().splitlines() if lock.exists() else []
    for start, line in enumerate(lines):
        if line.startswith(f"{name}=="):
            end = start + 1
            while end < len(lines) and lines[end].lstrip().startswith("--hash="):
                end += 1
            return "\n".join(lines[start:end]) + "\n"
    return None


def find_uv(scratch: Path) -> str:
    """The project's uv (pinned in the Pipfile), else uv on PATH, else the locked uv
    installed by pip, hash-checked, into ``scratch`` (a fresh clone whose Pipfile changed
    has no .venv yet, and `make install` will not run on a stale lock)."""
    local = REPO_ROOT / ".venv" / "bin" / "uv"
    if local.exists():
        return str(local)
    if shutil.which("uv"):
        return str(shutil.which("uv"))
    entry = locked_entry("uv")
    if entry is None:
        raise LockError("uv is missing and not in the lock: pip install uv, then make lock")
    (scratch / "uv.txt").write_text(entry)
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps"]
        + ["--target", str(scratch / "uv"), "-r", str(scratch / "uv.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.returncode != 0:
        raise LockError(f"could not install the locked uv:\n{installed.stderr.strip()}")
    return str(scratch / "uv" / "bin" / "uv")


def pip_index_url() -> str | None:
    """The index pip is configured with (PIP_INDEX_URL, else `pip config`), if any."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        if key.endswith(".index-url") and not key.endswith("extra-index-url"):
            return value.strip().strip("'\"")
    return None


def _uv_environment() -> dict[str, str]:
    """os.environ for uv: pip's index as uv's default, no uv settings from the caller that
    would change what is resolved."""
    env = {key: value for key, value in os.environ.items() if key not in UV_INDEX_SETTINGS}
    index = pip_index_url()
    if index:
        env["UV_DEFAULT_INDEX"] = index
    env["UV_NO_CONFIG"] = "1"  # no uv.toml from the user's home steers the resolution
    return env


def _compile(uv: str, inputs: Path, output: Path, extra: Sequence[str], upgrade: bool) -> None:
    command = [
        uv,
        "pip",
        "compile",
        inputs.name,
        *extra,
        "--generate-hashes",
        "--universal",
        "--python-version",
        PYTHON_VERSION,
        "--custom-compile-command",
        COMPILE_COMMAND,
        "--quiet",
        "--output-file",
        str(output),
    ]
    if upgrade:
        command.append("--upgrade")
    # Run where the inputs are, named relatively: the lock's "# via -r ..." annotations then
    # name the same file on every machine.
    completed = subprocess.run(
        command, cwd=inputs.parent, env=_uv_environment(), capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise LockError(f"uv could not lock {inputs.name}:\n{completed.stderr.strip()}")


def _stamp(lock: Path, digest: str, description: str) -> None:
    """Put the pins digest and a one-line description under uv's header."""
    lines = lock.read_text().splitlines()
    body = [line for line in lines if not line.startswith(DIGEST_PREFIX)]
    header_end = next(i for i, line in enumerate(body) if not line.startswith("#"))
    stamped = [
        *body[:header_end],
        f"# {description}",
        f"{DIGEST_PREFIX}{digest}",
        *(line for line in body[header_end:] if line != f"# {description}"),
    ]
    lock.write_text("\n".join(stamped) + "\n")


def lock(upgrade: bool = False) -> None:
    """Write requirements/development.txt and requirements/serving.txt from the pins."""
    development, serving = development_pins(), serving_pins()
    digest = pins_digest(development, serving)
    with tempfile.TemporaryDirectory(prefix="stroke-risk-lock-") as folder:
        work = Path(folder)
        uv = find_uv(work)
        (work / "development.in").write_text("\n".join(development) + "\n")
        (work / "serving.in").write_text("\n".join(serving) + "\n")
        # uv keeps the versions of an existing output file where they still fit.
        for name, current in (("development.txt", DEVELOPMENT_LOCK), ("serving.txt", SERVING_LOCK)):
            if current.exists():
                shutil.copyfile(current, work / name)
        _compile(uv, work / "development.in", work / "development.txt", [], upgrade)
        _compile(
            uv,
            work / "serving.in",
            work / "serving.txt",
            ["--constraint", "development.txt"],
            upgrade,
        )
        _stamp(
            work / "development.txt",
            digest,
            "The development environment (Pipfile); `make install` installs it, hash-checked.",
        )
        _stamp(
            work / "serving.txt",
            digest,
            "The image's environment (requirements/serving.in), at development.txt's versions.",
        )
        REQUIREMENTS.mkdir(exist_ok=True)
        shutil.copyfile(work / "development.txt", DEVELOPMENT_LOCK)
        shutil.copyfile(work / "serving.txt", SERVING_LOCK)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the lock is current")
    parser.add_argument("--upgrade", action="store_true", help="re-resolve every package")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_locks()
            if stale:
                names = ", ".join(str(path.relative_to(REPO_ROOT)) for path in stale)
                raise LockError(
                    f"{names} not made from the current Pipfile and requirements/serving.in: "
                    "run `make lock` and commit the result"
                )
            return 0
        lock(upgrade=args.upgrade)
    except LockError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - a command-line tool
        return 1
    written = (str(path.relative_to(REPO_ROOT)) for path in (DEVELOPMENT_LOCK, SERVING_LOCK))
    print(f"Locked: {', '.join(written)}")  # noqa: T201 - a command-line tool
    return 0


if __name__ == "__main__":
    sys.exit(main())
