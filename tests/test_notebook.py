"""The example notebook (docs/planning.ipynb, a page of the manual): it runs
from a fresh kernel, and the outputs committed with it (which the manual
shows) are what it gives today.

Regenerate it after a change of output:
    python tests/test_notebook.py
"""
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "docs" / "planning.ipynb"
KERNEL = "simulator-tests"
BUDGET_SECONDS = 20


def execute(path: Path):
    """The notebook executed by nbclient in a kernel of this interpreter (a
    kernelspec written for it, so that no installed kernel is needed and a
    virtual environment's interpreter is the one used), with the repository
    on the path."""
    import nbformat
    from nbclient import NotebookClient
    with tempfile.TemporaryDirectory() as jupyter_path:
        spec = Path(jupyter_path) / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python (simulator tests)", "language": "python"}))
        saved = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [jupyter_path, saved]))
        try:
            notebook = nbformat.read(path, as_version=4)
            kernelspec = notebook.metadata.get("kernelspec")
            with tempfile.TemporaryDirectory() as work:
                NotebookClient(notebook, kernel_name=KERNEL, timeout=BUDGET_SECONDS * 3,
                               record_timing=False,   # no timestamps in the saved file
                               resources={"metadata": {"path": work}}).execute(
                    env=dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="agg"))
        finally:
            if saved is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = saved
    notebook.metadata["kernelspec"] = kernelspec
    return notebook


def shown(notebook) -> list:
    """What each code cell shows, images left out (their bytes depend on the
    matplotlib build): text, streams, and HTML with its data URIs cut."""
    out = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for o in cell.outputs:
            if o.output_type == "stream":
                out.append((o.name, o.text))
            elif o.output_type in ("execute_result", "display_data"):
                data = o.get("data", {})
                out.append(("text/plain", data.get("text/plain")))
                if "text/html" in data:
                    out.append(("text/html", re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,...",
                                                    data["text/html"])))
            else:
                out.append((o.output_type, o.get("ename"), o.get("evalue")))
    return out


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_what_is_committed():
    import time
    start = time.monotonic()
    executed = execute(NOTEBOOK)
    assert time.monotonic() - start < BUDGET_SECONDS * 2      # a page to read, not a benchmark
    import nbformat
    committed = nbformat.read(NOTEBOOK, as_version=4)
    assert shown(executed) == shown(committed), (
        "docs/planning.ipynb shows old outputs: regenerate it with python tests/test_notebook.py")
    html = [text for kind, text in shown(executed) if kind == "text/html"]
    assert len(html) >= 3 and all("<script" not in h for h in html)


if __name__ == "__main__":
    import nbformat
    nbformat.write(execute(NOTEBOOK), NOTEBOOK)
