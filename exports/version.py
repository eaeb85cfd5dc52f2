"""The code version an export records: settings.CODE_VERSION (the CODE_VERSION environment variable, set
by a deployment) when given, else the project's version from pyproject.toml and, when the code runs from a
git checkout, the commit (read from .git; no git program, no network)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

from django.conf import settings

MAX_LENGTH = 64  # Export.code_version


def _git_dir(base: Path) -> Path | None:
    dot = base / ".git"
    if dot.is_dir():
        return dot
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            path = Path(text.split(":", 1)[1].strip())
            return path if path.is_absolute() else (base / path).resolve()
    return None


def git_commit(base: Path) -> str | None:
    """The checked-out commit of the repository at `base`, or None."""
    try:
        git = _git_dir(base)
        if git is None:
            return None
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.split(":", 1)[1].strip()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for folder in (git, common):
            if (folder / ref).is_file():
                return (folder / ref).read_text(encoding="utf-8").strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                if line.endswith(f" {ref}"):
                    return line.split(" ", 1)[0]
    except OSError:
        return None
    return None


@lru_cache(maxsize=1)
def _from_checkout() -> str:
    base = Path(settings.BASE_DIR)
    try:
        version = tomllib.loads((base / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            version = dist_version("affect-labels")
        except PackageNotFoundError:
            version = "unknown"
    commit = git_commit(base)
    return f"{version}+g{commit[:12]}" if commit else str(version)


def code_version() -> str:
    configured = getattr(settings, "CODE_VERSION", "")
    return (configured or _from_checkout())[:MAX_LENGTH]
