"""The worked examples in labeling/agreement's docstrings: every one runs and gives what it shows, and every
public function has one, so the examples can neither rot nor be left out."""

import doctest
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import labeling.agreement as agreement

MODULES = [agreement] + [
    importlib.import_module(f"{agreement.__name__}.{info.name}")
    for info in pkgutil.iter_modules(agreement.__path__)
]
DOCTESTS = [test for module in MODULES for test in doctest.DocTestFinder().find(module) if test.examples]
PUBLIC_FUNCTIONS = [name for name in agreement.__all__ if inspect.isfunction(getattr(agreement, name))]


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name.removeprefix("labeling.agreement.") for t in DOCTESTS])
def test_docstring_example(test):
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)
    assert result.attempted == len(test.examples) > 0


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_every_public_function_has_an_example(name):
    docstring = inspect.getdoc(getattr(agreement, name)) or ""
    examples = doctest.DocTestParser().get_examples(docstring)
    assert examples, f"labeling.agreement.{name} has no >>> example in its docstring"
    assert any(name in example.source for example in examples), f"the examples of {name} do not call it"


def test_every_module_is_searched():
    files = {path.stem for path in Path(agreement.__file__).parent.glob("*.py")} - {"__init__"}
    assert {module.__name__.removeprefix("labeling.agreement.") for module in MODULES[1:]} == files
    assert len(PUBLIC_FUNCTIONS) == 22
