"""The locked dependencies: writes requirements/lock.txt and requirements/lock-test.txt from pyproject.toml
(`make lock`), or checks them (`--check`, run by `make lint`; `--check --installed`, run by the production
smoke: the running environment holds exactly the runtime lock).

- lock.txt: every package that the runtime dependencies need (site, worker, beat), pinned `name==version`.
- lock-test.txt: `-r lock.txt` plus what the `test` extras add, resolved together with the runtime
  dependencies so both files agree on every shared package.

The resolver is pip's own (`pip install --dry-run --ignore-installed --report`), so refreshing the lock needs
nothing but the venv's pip, and installing from it is a plain `pip install -r`. Pins carry no hashes on
purpose: the same release can be served by PyPI and by a local mirror or wheel cache whose files differ
(rebuilt wheels, other tags), and `--require-hashes` would fail there although the version is the one locked.
No index URLs or paths are written, so the files work on any machine. `make lock` refreshes every pin to the
newest release the indexes offer that pyproject.toml allows, for the venv's Python on this platform.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
LOCK_TEST = ROOT / "requirements" / "lock-test.txt"
EXTRA = "test"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.!]+)$")  # no local version (+cpu), no URL


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def resolve(requirement: str, constraints: Path | None = None) -> dict[str, str]:
    """What `pip install <requirement>` would install into an empty environment: {name: version}."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        command += ["--disable-pip-version-check", "--report", str(report), requirement]
        if constraints:
            command += ["-c", str(constraints)]
        subprocess.run(command, check=True, cwd=ROOT)
        installs = json.loads(report.read_text())["install"]
    own = canonical(project()["name"])
    pins = {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}
    pins.pop(own, None)
    return dict(sorted(pins.items()))


def write(path: Path, header: str, pins: dict[str, str], first: str = "") -> None:
    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()]
    lines += [first] if first else []
    lines += [f"{name}=={version}" for name, version in pins.items()]
    for name, version in pins.items():
        if not PIN.match(f"{name}=={version}"):
            raise SystemExit(f"error: {name}=={version} is not a plain pin (a local build?); not locking it")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(pins)} packages)")


def lock() -> None:
    python = ".".join(map(str, sys.version_info[:2]))
    everything = resolve(f".[{EXTRA}]")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as pinned:
        pinned.write("".join(f"{n}=={v}\n" for n, v in everything.items()))
        pinned.flush()
        runtime = resolve(".", constraints=Path(pinned.name))  # the runtime subset of the same solution
    made = (
        f"Made by `make lock` (requirements/lock.py) from pyproject.toml with Python {python}; do not edit."
    )
    write(
        LOCK,
        f"The runtime dependencies, locked: `pip install -r requirements/lock.txt`.\n{made}\n"
        "Plain == pins, no hashes: a mirror may serve the same release as a different file (lock.py says more).",
        runtime,
    )
    write(
        LOCK_TEST,
        f"The runtime lock plus the [{EXTRA}] extras, locked: `pip install -r requirements/lock-test.txt`.\n{made}",
        {n: v for n, v in everything.items() if n not in runtime},
        first="-r lock.txt",
    )


def read(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or (path == LOCK_TEST and line == "-r lock.txt"):
            continue
        match = PIN.match(line)
        if not match:
            raise SystemExit(
                f"error: {path.relative_to(ROOT)}:{number}: not a plain `name==version` pin: {line}"
            )
        pins[canonical(match[1])] = match[2]
    return pins


def check(installed: bool) -> None:
    """The locks cover pyproject.toml: every declared dependency is pinned at a version it allows."""
    from packaging.requirements import Requirement

    runtime, extra = read(LOCK), read(LOCK_TEST)
    problems = [f"{n} is pinned in both lock files" for n in runtime.keys() & extra.keys()]
    declared = [(d, runtime) for d in project()["dependencies"]]
    declared += [(d, runtime | extra) for d in project()["optional-dependencies"][EXTRA]]
    for text, pins in declared:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        version = pins.get(canonical(requirement.name))
        if version is None:
            problems.append(f"{text} (pyproject.toml) is not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{text} (pyproject.toml) does not allow the locked {version}")
    if installed:  # this environment holds the runtime lock, all of it and nothing else (but the installer)
        from importlib.metadata import distributions

        present = {canonical(d.metadata["Name"]): d.version for d in distributions()}
        for name in ("pip", "setuptools", "wheel", canonical(project()["name"])):  # installers, this project
            present.pop(name, None)
        for name in sorted(present.keys() | runtime.keys()):
            if present.get(name) != runtime.get(name):
                problems.append(f"{name}: installed {present.get(name)}, locked {runtime.get(name)}")
    if problems:
        print("The lock does not match:\n  " + "\n  ".join(problems), file=sys.stderr)
        print("Run `make lock` (after editing pyproject.toml) and commit requirements/.", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check the lock files against pyproject.toml")
    parser.add_argument("--installed", action="store_true", help="with --check: this env is the runtime lock")
    args = parser.parse_args()
    if args.check:
        check(args.installed)
    else:
        lock()
