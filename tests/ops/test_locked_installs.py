"""Locked installs: requirements/ holds every transitive dependency with its hashes, made
from the current pins, naming no index; `make install` gives exactly that, and pip refuses
a file whose hash the lock does not list."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path
from types import ModuleType

import pytest
from packaging.markers import default_environment

from stroke_risk.core.config import REPO_ROOT
from tests.script_modules import load_script

SUPPLY_CHAIN = REPO_ROOT / "scripts" / "supply_chain"
DEVELOPMENT_LOCK = REPO_ROOT / "requirements" / "development.txt"
SERVING_LOCK = REPO_ROOT / "requirements" / "serving.txt"
BIN = Path(sys.executable).parent


def normalized(requirement: str) -> str:
    """``Name.with_dots==1.0`` as ``name-with-dots==1.0`` (PEP 503 names)."""
    name, _, version = requirement.partition("==")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}"


@pytest.fixture(scope="module")
def locking() -> ModuleType:
    return load_script(SUPPLY_CHAIN / "lock_dependencies.py")


@pytest.fixture(scope="module")
def environment() -> ModuleType:
    return load_script(SUPPLY_CHAIN / "locked_environment.py")


def pip(*args: str, python: Path = BIN / "python") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=1800,
        check=False,
    )


def test_the_committed_locks_were_made_from_the_current_pins(locking: ModuleType) -> None:
    """A pin changed in the Pipfile or serving.in without `make lock` fails here (and
    `make install` refuses to run)."""
    assert locking.stale_locks() == [], "run `make lock` and commit requirements/"


def test_a_changed_pin_makes_the_lock_stale_and_the_check_names_make_lock(
    locking: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pipfile = tmp_path / "Pipfile"
    text = (REPO_ROOT / "Pipfile").read_text()
    changed = text.replace('numpy = "==2.4.6"', 'numpy = "==2.4.5"')
    assert changed != text
    pipfile.write_text(changed)
    stale = locking.stale_locks(pipfile=pipfile)
    assert stale == [DEVELOPMENT_LOCK, SERVING_LOCK]
    assert locking.main(["--check"]) == 0  # the committed pins: current
    monkeypatch.setattr(locking, "stale_locks", lambda: stale)
    assert locking.main(["--check"]) == 1
    assert "run `make lock`" in capsys.readouterr().err


def test_the_pipfiles_pins_with_extras_become_requirements(locking: ModuleType) -> None:
    pins = locking.development_pins()
    assert "moto[server]==5.2.5" in pins
    assert "numpy==2.4.6" in pins
    assert not any(pin.startswith("stroke-risk") for pin in pins), "the project is not locked"


@pytest.mark.parametrize("lock", [DEVELOPMENT_LOCK, SERVING_LOCK], ids=lambda p: p.name)
def test_the_lock_names_no_index_and_hashes_every_pinned_package(
    lock: Path, environment: ModuleType
) -> None:
    text = lock.read_text()
    for option in ("--index-url", "--extra-index-url", "--find-links", "://"):
        assert option not in text, f"{lock.name} records an index: {option}"
    entries = environment.read_lock(lock)
    assert len(entries) > 50
    assert all(entry.hashes for entry in entries), "an entry without hashes"
    assert all(digest.startswith("sha256:") for entry in entries for digest in entry.hashes)


def test_the_image_lock_is_the_development_locks_versions_of_the_serving_pins(
    locking: ModuleType, environment: ModuleType
) -> None:
    """The image runs the versions every test ran with, and its direct pins are the
    Pipfile's."""
    development = {(e.name, e.version) for e in environment.read_lock(DEVELOPMENT_LOCK)}
    serving = environment.read_lock(SERVING_LOCK)
    assert {(e.name, e.version) for e in serving} <= development
    names = {entry.name for entry in serving}
    pipfile = {normalized(pin) for pin in locking.development_pins()}
    for pin in locking.serving_pins():
        assert normalized(pin) in pipfile, f"{pin} is not the Pipfile's pin"
        assert normalized(pin).split("==")[0] in names
    assert not {"scikit-learn", "xgboost-cpu", "pandas", "scipy"} & names, "training in the image"


def test_this_environment_is_exactly_the_development_lock(environment: ModuleType) -> None:
    """What `make install` ends with: no package the lock lacks, none missing, no other
    version (the project itself, installed editable, aside)."""
    lock = environment.read_lock(DEVELOPMENT_LOCK)
    wanted = environment.expected(lock, default_environment())
    assert environment.differences(wanted, environment.installed_here()) == []


def test_a_difference_from_the_lock_is_named(environment: ModuleType) -> None:
    assert environment.differences(
        {"numpy": "2.4.6", "six": "1.17.0"}, {"numpy": "2.4.5", "left-pad": "1.0"}
    ) == [
        "left-pad: 1.0 installed, not in the lock",
        "numpy: 2.4.5 installed, 2.4.6 locked",
        "six: 1.17.0 locked, not installed",
    ]


def locked_entry(name: str) -> str:
    """One package's lines from the development lock (requirement and hashes)."""
    match = re.search(
        rf"^{re.escape(name)}==\S+ \\\n(?:    --hash=\S+(?: \\)?\n)+",
        DEVELOPMENT_LOCK.read_text(),
        flags=re.MULTILINE,
    )
    assert match, f"{name} is not in the lock"
    return match.group(0)


def test_pip_refuses_a_package_whose_hash_the_lock_does_not_list(tmp_path: Path) -> None:
    """The same install `make install` runs (pip --require-hashes), for one small package:
    with the lock's own hashes it goes through; with them changed, pip refuses."""
    entry = locked_entry("six")
    tampered = re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", entry)
    assert tampered != entry
    install = ("install", "--require-hashes", "--no-deps", "--no-cache-dir", "--dry-run")
    install += ("--ignore-installed", "-r")
    (tmp_path / "locked.txt").write_text(entry)
    (tmp_path / "tampered.txt").write_text(tampered)
    genuine = pip(*install, str(tmp_path / "locked.txt"))
    assert genuine.returncode == 0, genuine.stderr
    refused = pip(*install, str(tmp_path / "tampered.txt"))
    assert refused.returncode != 0
    assert "DO NOT MATCH THE HASHES" in refused.stderr


@pytest.mark.slow
def test_a_fresh_install_from_the_lock_freezes_the_same_as_this_one(tmp_path: Path) -> None:
    """`make install`'s pip step into a new virtual environment: `pip freeze` there is this
    environment's, package for package (minutes: about 260 wheels, from pip's cache)."""
    venv.create(tmp_path / "fresh", with_pip=True)
    fresh = tmp_path / "fresh" / "bin" / "python"
    installed = pip(
        "install",
        "--quiet",
        "--require-hashes",
        "--no-deps",
        "-r",
        str(DEVELOPMENT_LOCK),
        python=fresh,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    # `python -m pip` run from the repository sees its stroke_risk.egg-info on sys.path: the
    # project itself is left out of both lists (it is installed from the tree, not the lock).
    theirs = pip("freeze", "--exclude", "stroke-risk", python=fresh).stdout.splitlines()
    ours = pip("freeze", "--exclude", "stroke-risk").stdout.splitlines()
    assert len(ours) > 200
    assert theirs == ours


def test_the_locks_own_uv_can_be_read_for_a_clone_without_a_venv(locking: ModuleType) -> None:
    """`make lock` in a fresh clone installs uv from the lock, with its hashes."""
    entry = locking.locked_entry("uv")
    assert entry is not None and entry.startswith("uv==")
    assert entry.count("--hash=sha256:") >= 2
    assert locking.locked_entry("no-such-package") is None
