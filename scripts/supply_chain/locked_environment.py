"""Whether an installed Python environment is exactly what a lock says, and the lock's part
for one environment (what the SBOM describes).

    .venv/bin/python scripts/supply_chain/locked_environment.py check requirements/development.txt
    .venv/bin/python scripts/supply_chain/locked_environment.py for-image \\
        requirements/serving.txt IMAGE_LISTING OUTPUT

`check` compares the distributions installed beside the Python that runs it with the lock's
entries whose markers hold here (the project itself, installed editable, aside): `make
install` runs it last, so an environment with a package the lock lacks, or another version,
fails with the difference named. `for-image` reads what create_bento_artifacts.sh listed in
the image (``name==version`` lines, then one ``# environment {json}`` line with the image's
marker environment), fails the same way unless the image holds exactly the lock's entries
for that environment, and writes those entries, hashes included, for cyclonedx-py: the
SBOM then describes the lock the image was built from, checked against what the image holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Installed from the working tree (editable), so it has no place in the lock.
PROJECT = "stroke-risk"
ENVIRONMENT_PREFIX = "# environment "


@dataclass(frozen=True)
class Locked:
    """One lock entry: a pinned distribution, where it applies, and its files' hashes."""

    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, environment: Mapping[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(dict(environment))

    def line(self) -> str:
        """The entry as a requirements line (no marker: it is already known to apply)."""
        hashes = "".join(f" \\\n    --hash={digest}" for digest in self.hashes)
        return f"{self.name}=={self.version}{hashes}"


def read_lock(path: Path) -> list[Locked]:
    """The entries of a hashed requirements lock (as `uv pip compile` writes it)."""
    entries, logical = [], ""
    for raw in path.read_text().splitlines() + [""]:
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        if logical.strip():
            words = logical.split()
            hashes = tuple(w.removeprefix("--hash=") for w in words if w.startswith("--hash="))
            text = " ".join(w for w in words if not w.startswith("--"))
            requirement = Requirement(text)
            pins = [spec for spec in requirement.specifier if spec.operator == "=="]
            if len(pins) != 1:
                raise ValueError(f"{path.name}: {text!r} is not pinned with ==")
            name = canonicalize_name(requirement.name)
            entries.append(Locked(name, pins[0].version, requirement.marker, hashes))
        logical = ""
    return entries


def expected(lock: Iterable[Locked], environment: Mapping[str, str]) -> dict[str, str]:
    """name -> version of the lock entries that apply in ``environment``."""
    return {entry.name: entry.version for entry in lock if entry.applies(environment)}


def installed_here() -> dict[str, str]:
    """name -> version of every distribution beside the running Python, the project aside."""
    found = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    found.pop(PROJECT, None)
    return found


def differences(wanted: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """What keeps ``found`` from being exactly ``wanted``, one line each, sorted by name."""
    problems = []
    for name in sorted(set(wanted) | set(found)):
        if name not in found:
            problems.append(f"{name}: {wanted[name]} locked, not installed")
        elif name not in wanted:
            problems.append(f"{name}: {found[name]} installed, not in the lock")
        elif wanted[name] != found[name]:
            problems.append(f"{name}: {found[name]} installed, {wanted[name]} locked")
    return problems


def read_listing(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> version, marker environment) from an image listing (see the module doc)."""
    distributions: dict[str, str] = {}
    environment: dict[str, str] | None = None
    for line in text.splitlines():
        if line.startswith(ENVIRONMENT_PREFIX):
            environment = json.loads(line.removeprefix(ENVIRONMENT_PREFIX))
        elif line.strip() and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            distributions[canonicalize_name(name)] = version
    if environment is None:
        raise ValueError("the listing has no '# environment {...}' line")
    return distributions, environment


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="this environment is exactly the lock")
    check.add_argument("lock", type=Path)
    image = commands.add_parser("for-image", help="check an image listing; write its lock part")
    image.add_argument("lock", type=Path)
    image.add_argument("listing", type=Path)
    image.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    lock = read_lock(args.lock)
    if args.command == "check":
        problems = differences(expected(lock, default_environment()), installed_here())
        where = sys.prefix
    else:
        found, environment = read_listing(args.listing.read_text())
        problems = differences(expected(lock, environment), found)
        where = "the image"
    if problems:
        print(f"{where} is not {args.lock}:", *problems, sep="\n  ", file=sys.stderr)  # noqa: T201
        return 1
    if args.command == "for-image":
        applying = [entry for entry in lock if entry.applies(environment)]
        args.output.write_text("\n".join(entry.line() for entry in applying) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
