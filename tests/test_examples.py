"""The example reports committed in examples/ are what their documented
command (python examples/regenerate.py) produces today."""
import importlib.util
import json
import re

import pytest
from conftest import REPO


EXAMPLES_DIR = REPO / "examples"
spec = importlib.util.spec_from_file_location("regenerate", EXAMPLES_DIR / "regenerate.py")
regenerate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regenerate)


@pytest.mark.parametrize("name", list(regenerate.EXAMPLES))
@pytest.mark.slow
def test_committed_example_is_what_the_command_produces(name, tmp_path):
    regenerate.regenerate(tmp_path, [name])
    committed = EXAMPLES_DIR / name
    fresh = tmp_path / name
    assert (json.loads((fresh / "results.json").read_text())
            == json.loads((committed / "results.json").read_text())), (
        f"examples/{name} is out of date: run `python examples/regenerate.py`")
    # the same files, and the same report text (figures are checked in test_figures.py)
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in committed.iterdir())
    for text in ("report.md", "power_curve.csv", "assumptions.csv"):
        assert (fresh / text).read_text() == (committed / text).read_text()
    # the HTML's text (the embedded figures aside)
    def text_of(path):
        return re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", path.read_text())
    assert text_of(fresh / "report.html") == text_of(committed / "report.html")


def test_readme_links_the_examples():
    readme = (EXAMPLES_DIR.parent / "README.md").read_text()
    for name in regenerate.EXAMPLES:
        assert f"examples/{name}/report.md" in readme
    assert "python examples/regenerate.py" in readme
