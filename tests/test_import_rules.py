"""The direction of imports (docs/architecture.md): `annotator` -> `labeling` <- `exports`, and the parts that
must stay free of Django.

Read from the source with `ast`, so an import inside a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def top(module: str) -> str:
    return module.split(".")[0]


def pure(module: str) -> bool:
    return top(module) in STDLIB | {"numpy", "scipy"} or module.startswith("labeling.agreement")


# folder -> which imported modules its code may name
RULES: dict[str, Callable[[str], bool]] = {
    "labeling": lambda m: top(m) not in {"annotator", "exports"},
    "exports": lambda m: top(m) != "annotator",
    "labeling/agreement": pure,
}


def imports_of(source: str, relative_path: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a module at `relative_path`; relative imports resolved."""
    package = relative_path.removesuffix(".py").split("/")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
    return found


def violations(folder: str, files: dict[str, str] | None = None) -> list[str]:
    """`files`: relative path -> source; by default every module of the folder (migrations aside)."""
    if files is None:
        paths = [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]
        assert paths, f"no sources in {folder}: the rule would pass vacuously"
        files = {p.relative_to(ROOT).as_posix(): p.read_text() for p in paths}
    return [
        f"{path}:{line} imports {module}"
        for path, source in sorted(files.items())
        for line, module in imports_of(source, path)
        if not RULES[folder](module)
    ]


@pytest.mark.parametrize("folder", sorted(RULES))
def test_imports_flow_one_way(folder):
    assert violations(folder) == []


def test_media_probe_has_no_django_imports():
    """It also runs as the child process that decodes untrusted uploads: it must start fast and must not be
    able to reach the database."""
    path = "labeling/media/probe.py"
    named = [m for _, m in imports_of((ROOT / path).read_text(), path)]
    assert "av" in named
    assert [m for m in named if top(m) in {"django", "labeling"} and m != "labeling.media.probe"] == []


@pytest.mark.parametrize(
    ("folder", "path", "source", "expected"),
    [
        ("labeling", "labeling/views.py", "from exports.models import Export\n", "exports.models"),
        ("labeling", "labeling/x.py", "def f():\n    from annotator.views import study\n", "annotator.views"),
        ("exports", "exports/x.py", "import annotator.services\n", "annotator.services"),
        ("labeling/agreement", "labeling/agreement/alpha.py", "import django.db\n", "django.db"),
        (
            "labeling/agreement",
            "labeling/agreement/alpha.py",
            "from ..models import Clip\n",
            "labeling.models",
        ),
    ],
)
def test_a_forbidden_import_is_caught(folder, path, source, expected):
    """The rules are not vacuous: a planted forbidden import (inside a function, relative) is reported."""
    line = 2 + source.count("\n") - 1
    assert violations(folder, {path: "import numpy\n" + source}) == [f"{path}:{line} imports {expected}"]


def test_starting_a_process_does_not_load_scipy():
    """scipy (through the agreement statistics) cost every process ~65 MB of RSS and seconds of start-up: the
    web workers', the export's (its peak memory has a 400 MB budget, docs/benchmarks.md) and every management
    command's. It is imported by the agreement run that needs it, not by `labeling.services`."""
    assert (
        scipy_loaded_by(
            "import annotator.services, labeling.services, exports.services, exports.build.run, annotator.urls"
        )
        == "[]"
    )


def test_the_clip_figures_do_not_load_scipy():
    """A clip's page and the clip API compute its observers' summary and self-report value in the web process;
    the package imports scipy only inside the functions that need it, so those (numpy only) do not bring it
    along; an ICC does (the last line shows the check can fail)."""
    assert (
        scipy_loaded_by(
            "from labeling import agreement; agreement.observer_summary, agreement.outside_observers, "
            "agreement.self_report_per_clip, agreement.self_report_gap, agreement.ccc"
        )
        == "[]"
    )
    assert (
        scipy_loaded_by("from labeling import agreement; agreement.icc([[1, 2, 4, 5], [2, 2, 5, 6]])") != "[]"
    )


def scipy_loaded_by(statement: str) -> str:
    import os
    import subprocess

    code = (
        f"import sys, django; django.setup(); {statement}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy')[:3])"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "annotator.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.strip()
