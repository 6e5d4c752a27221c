"""The package's shape: layers that import one way, no import cycle, one
top-level name when installed, and a cache key that sees every module."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "simulator"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level_imports(path: Path, modules: set) -> set:
    """The package modules that ``path`` imports when it is imported (not
    inside functions)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.parse(path.read_text()).body:
        for stmt in (node.body + node.orelse if isinstance(node, ast.If) else [node]):
            if isinstance(stmt, ast.ImportFrom):
                base = (package[:len(package) - stmt.level + 1] if stmt.level else [])
                target = ".".join(base + ([stmt.module] if stmt.module else []))
                for alias in stmt.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in modules else target)
            elif isinstance(stmt, ast.Import):
                found.update(alias.name for alias in stmt.names)
    return {m for m in found if m in modules and m != name}


def test_the_layers_contract_holds():
    """import-linter: cli > report > planning > results/engines > citations >
    scenario/execution > models/stats > base (pyproject.toml)."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                           "lint_imports; sys.exit(lint_imports())"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 kept, 0 broken" in proc.stdout


def test_no_import_cycle_at_module_level_and_nothing_imports_the_package_root():
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {m: module_level_imports(p, set(paths)) for m, p in paths.items()}
    assert not [m for m, deps in graph.items() if "simulator" in deps and m != "simulator"]
    done, stack = set(), []

    def visit(module):
        if module in stack:
            raise AssertionError("import cycle: " + " -> ".join(
                stack[stack.index(module):] + [module]))
        if module in done:
            return
        stack.append(module)
        for dep in sorted(graph[module]):
            visit(dep)
        stack.pop()
        done.add(module)
    for module in sorted(graph):
        visit(module)
    assert len(graph) > 40           # the walk saw the package


def test_every_subpackage_says_what_it_holds():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and len(doc.split()) >= 25, init


def source_digest(root: Path) -> str:
    code = "from simulator.execution.backends import _source_digest; print(_source_digest())"
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=root, text=True,
                          capture_output=True, check=True).stdout.strip()


@pytest.mark.parametrize("module", ["stats/bayes.py", "engines/exact.py", "report/tables.py",
                                    "scenario/build.py", "names.py"])
@pytest.mark.slow
def test_the_cache_key_changes_with_any_module_of_any_subpackage(tmp_path, module):
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "simulator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = source_digest(copy)
    with open(copy / "simulator" / module, "a") as handle:
        handle.write("\n# a change\n")
    assert source_digest(copy) != before


@pytest.mark.install
@pytest.mark.skipif(os.environ.get("SKIP_INSTALL_TEST") == "1", reason="SKIP_INSTALL_TEST=1")
def test_the_wheel_installs_one_top_level_name_and_a_working_command(tmp_path):
    """Build the wheel with this interpreter, install it into a fresh virtual
    environment that sees this environment's dependencies (a .pth line, so it
    works whether or not the suite itself runs in a virtual environment), and
    run the installed command from elsewhere."""
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", "build", "*.egg-info", ".pytest_cache", "examples", "docs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", tmp_path / "dist", str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel, = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {
        "simulator"}
    assert "simulator/scenarios/severe.yaml" in names and "simulator/cli.py" in names
    assert {"simulator/web/templates/form.html", "simulator/web/templates/base.html",
            "simulator/web/static/style.css"} <= set(names)       # the web page's files
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "outer.pth").write_text("\n".join(sorted(here)) + "\n")
    before = set(os.listdir(site))
    subprocess.run([py, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    added = {n for n in set(os.listdir(site)) - before if not n.endswith(".dist-info")}
    assert added == {"simulator"}, added
    shutil.rmtree(src)                          # the installed command must not need the source
    run_dir = tmp_path / "anywhere"
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([env_dir / "bin" / "simulate", "--scenario", "moderate.yaml",
                           "--format", "json"], cwd=run_dir, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scenario"] == "moderate"
    page = subprocess.run([py, "-c", "from starlette.testclient import TestClient; "
                           "from simulator.web.app import create_app; "
                           "c = TestClient(create_app(allowed_hosts=None)); "
                           "print(c.get('/').status_code, c.get('/static/style.css').status_code)"],
                          cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert page.stdout.split() == ["200", "200"], page.stderr     # templates and style installed
    where = subprocess.run([py, "-c", "import simulator; print(simulator.__file__)"], env=env,
                           cwd=run_dir, capture_output=True, text=True, check=True).stdout
    assert where.startswith(site)


def test_the_test_extra_takes_the_web_extra_by_name_not_by_a_copy():
    import tomllib
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert f"{project['name']}[web]" in extras["test"]
    web = {re.split(r"[<>=\[]", r)[0] for r in extras["web"]}
    assert not web & {re.split(r"[<>=\[]", r)[0] for r in extras["test"]}
