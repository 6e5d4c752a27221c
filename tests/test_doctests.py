"""The public API's docstrings: every public name has a numpydoc docstring
with an example, and every example runs (doctest) and prints what it says."""
import doctest
import importlib
import inspect

import pytest

import simulator

# the modules that define the public names (their examples are the API's)
MODULES = ["simulator.api", "simulator.results", "simulator.planning.compare",
           "simulator.planning.run", "simulator.planning.sweep", "simulator.scenario.build",
           "simulator.errors"]
PUBLIC = [name for name in simulator.__all__ if not name.startswith("__") and name != "SOFTWARE"]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_dir_shows_the_public_names_and_every_one_exists():
    assert dir(simulator) == sorted(simulator.__all__)
    assert all(hasattr(simulator, name) for name in simulator.__all__)
    assert "planning" not in dir(simulator)          # the subpackages stay reachable, unlisted
    for name in ("sample_size", "power", "detectable", "solve", "compare"):
        assert name in simulator.__all__


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_a_numpydoc_docstring_with_an_example(name):
    obj = getattr(simulator, name)
    doc = inspect.getdoc(obj) or ""
    assert "Examples\n--------\n>>> " in doc, name
    if inspect.isfunction(obj):
        assert "Returns\n-------" in doc, name
        if not inspect.signature(obj).parameters:
            return
        assert "Parameters\n----------" in doc, name
        documented = {p.strip() for line in doc.split("Parameters\n----------")[1]
                      .split("\n\n")[0].splitlines() if line and not line.startswith(" ")
                      for p in line.split(":")[0].split(",")}
        for parameter in inspect.signature(obj).parameters.values():
            shown = ("**" + parameter.name if parameter.kind is parameter.VAR_KEYWORD else
                     "*" + parameter.name if parameter.kind is parameter.VAR_POSITIONAL
                     else parameter.name)
            assert shown in documented, (name, shown)


def examples(module_name):
    module = importlib.import_module(module_name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, module_name)
    return [t for t in tests if t.examples]


@pytest.mark.parametrize("module_name", MODULES)
@pytest.mark.slow
def test_the_docstring_examples_run(module_name):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    found = examples(module_name)
    assert found, module_name
    for test in found:
        runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert attempted and not failed, f"{failed} of {attempted} examples failed in {module_name}"
