"""Make and check the dependency locks: what every install of the project actually gets.

pyproject.toml declares compatible ranges; the locks pin one resolved set of exact
versions with hashes, for CPython 3.11 on Linux x86_64, so a fresh clone installs
exactly what the suite was last run with:

- ``requirements.lock``: the service's dependencies and the build backend (the Dockerfile);
- ``requirements-dev.lock``: the same plus the ``dev`` extra (``make``, ``.ci/run``).

``python tools/lock.py`` re-resolves both with uv (``make lock``): the newest versions the
ranges allow, the runtime lock constrained to the dev lock's versions so the two agree.
``--upgrade-package NAME`` moves one package and keeps every other pin.
``python tools/lock.py --check`` (run by ``make lint``) fails when a lock was made from
other declarations than pyproject's, when a locked version falls outside its declared
range, or when the two locks pin one package differently.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-unknown-linux-gnu"
DIGEST_PREFIX = "# pyproject-digest: "
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def declared() -> dict[str, list[str]]:
    """The requirement lists of pyproject.toml that the locks are made from."""
    project = tomllib.loads(PYPROJECT.read_text())
    return {
        "build": list(project["build-system"]["requires"]),
        "runtime": list(project["project"]["dependencies"]),
        "dev": list(project["project"]["optional-dependencies"]["dev"]),
    }


def digest(lists: dict[str, list[str]], *, dev: bool) -> str:
    """A fingerprint of the declarations one lock is made from (order-insensitive)."""
    wanted = {k: sorted(v) for k, v in lists.items() if dev or k != "dev"}
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def pins(lock: Path) -> dict[str, str]:
    """Canonical package name -> locked version."""
    found: dict[str, str] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[canonicalize_name(match.group(1))] = match.group(2)
    return found


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line.removeprefix(DIGEST_PREFIX).strip()
    return None


def problems() -> list[str]:
    """Every way the locks disagree with pyproject.toml or with each other."""
    lists = declared()
    found: list[str] = []
    for lock, dev in ((RUNTIME_LOCK, False), (DEV_LOCK, True)):
        if not lock.exists():
            found.append(f"{lock.name} is missing: run `make lock`")
            continue
        if recorded_digest(lock) != digest(lists, dev=dev):
            found.append(
                f"{lock.name} was made from other declarations than pyproject.toml's: "
                "run `make lock` and commit both files"
            )
        locked = pins(lock)
        groups = ("build", "runtime", "dev") if dev else ("build", "runtime")
        for group in groups:
            for text in lists[group]:
                requirement = Requirement(text)
                name = canonicalize_name(requirement.name)
                version = locked.get(name)
                if version is None:
                    found.append(f"{lock.name} has no pin for {text!r}: run `make lock`")
                elif not requirement.specifier.contains(Version(version), prereleases=True):
                    found.append(
                        f"{lock.name} pins {name}=={version}, outside {text!r}: run `make lock`"
                    )
    if RUNTIME_LOCK.exists() and DEV_LOCK.exists():
        dev_pins = pins(DEV_LOCK)
        for name, version in pins(RUNTIME_LOCK).items():
            if dev_pins.get(name) != version:
                found.append(
                    f"{name} is {version} in {RUNTIME_LOCK.name} but {dev_pins.get(name)} in "
                    f"{DEV_LOCK.name}: run `make lock`"
                )
    return found


def compile_lock(
    sources: list[Path], out: Path, header: str, extra: list[str], upgrade: list[str]
) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        sys.exit("uv is not installed: run `make` once (it comes with the dev extra)")
    command = [
        uv, "pip", "compile", *map(str, sources), *extra,
        "--generate-hashes", "--python-version", PYTHON_VERSION,
        "--python-platform", PLATFORM, "--no-header", "--quiet", "--output-file", str(out),
    ]  # fmt: skip
    for name in upgrade:
        command += ["--upgrade-package", name]
    if not upgrade:
        command.append("--upgrade")
    subprocess.run(command, check=True, cwd=ROOT)
    body = out.read_text()
    for source in sources[1:]:  # temporary files: name what they stand for instead
        body = body.replace(f"-r {source}", "pyproject.toml [build-system]")
    out.write_text(header + body)


def refresh(upgrade: list[str]) -> None:
    lists = declared()
    with tempfile.TemporaryDirectory() as tmp:
        build_in = Path(tmp) / "build.in"
        build_in.write_text("\n".join(lists["build"]) + "\n")
        note = (
            "# Generated by `make lock` (tools/lock.py) from pyproject.toml; do not edit.\n"
            f"# CPython {PYTHON_VERSION}, {PLATFORM}. Install with\n"
            "#   pip install --require-hashes --no-deps -r {name}\n"
        )
        compile_lock(
            [PYPROJECT, build_in],
            DEV_LOCK,
            note.format(name=DEV_LOCK.name) + f"{DIGEST_PREFIX}{digest(lists, dev=True)}\n",
            ["--extra", "dev"],
            upgrade,
        )
        compile_lock(
            [PYPROJECT, build_in],
            RUNTIME_LOCK,
            note.format(name=RUNTIME_LOCK.name) + f"{DIGEST_PREFIX}{digest(lists, dev=False)}\n",
            ["--constraint", str(DEV_LOCK)],
            [],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the locks, change nothing")
    parser.add_argument(
        "--upgrade-package",
        action="append",
        default=[],
        metavar="NAME",
        help="re-resolve only this package (repeatable); the other pins stay",
    )
    args = parser.parse_args()
    if not args.check:
        refresh(args.upgrade_package)
    found = problems()
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        sys.exit(1)
    if args.check:
        print(f"{RUNTIME_LOCK.name} and {DEV_LOCK.name} agree with pyproject.toml")


if __name__ == "__main__":
    main()
