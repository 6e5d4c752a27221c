"""The web page's fixtures: a server started in a subprocess as a user
starts it (``simulate serve --port 0``), and headless Chromium driven by
selenium with Debian's chromium and chromedriver (never a browser or driver
that Selenium Manager would download).

Without chromium and chromedriver the browser tests are skipped, unless
SIMULATOR_REQUIRE_BROWSER is set (``.ci/run`` sets it): then a missing
browser is a failure."""
import importlib.util
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCREENS = Path(os.environ.get("SIMULATOR_SCREENS", REPO / "tests" / "artifacts" / "screens"))


def web_missing() -> str | None:
    for module in ("starlette", "uvicorn", "jinja2", "python_multipart"):
        if importlib.util.find_spec(module) is None:
            return f"the web extra is not installed ({module}): pip install '.[web]'"
    return None


def browser_missing() -> str | None:
    missing = web_missing()
    if missing:
        return missing
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed: pip install '.[test]'"
    absent = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if absent:
        return (f"{' and '.join(absent)} not found: apt-get install chromium chromium-driver "
                "(Debian's packages), or leave the browser tests to .ci/run")
    return None


def first_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first line ``proc`` prints, or "" if it prints none within
    ``timeout`` seconds (read in a thread: a server that hangs cannot hang
    the test session)."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The URL of ``simulate serve --port 0`` in a subprocess (stopped at the end);
    its stderr goes to a file (a pipe nobody reads could fill and freeze it)."""
    missing = web_missing()
    if missing:
        pytest.skip(missing)
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    errors = tmp_path_factory.mktemp("server") / "stderr.txt"
    with open(errors, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", "0"],
                                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr,
                                text=True)
    line = first_line(proc, 60)
    found = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not found:
        proc.kill()
        proc.wait(10)
        raise AssertionError(f"no URL printed within 60 s: {line!r} {errors.read_text()}")
    yield found.group()
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Headless Chromium (Debian's), downloads saved to a temporary directory."""
    missing = browser_missing()
    if missing:
        if os.environ.get("SIMULATOR_REQUIRE_BROWSER"):
            pytest.fail(f"SIMULATOR_REQUIRE_BROWSER is set and {missing}")
        pytest.skip(missing)
    os.environ["SE_OFFLINE"] = "true"           # Selenium Manager: never download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1280,1800", "--disable-gpu"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "safebrowsing.enabled": False})
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                              options=options)
    driver.implicitly_wait(0)
    driver.downloads = downloads
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def screenshot(browser):
    """``screenshot(name)``: the whole page as SCREENS/name.png."""
    SCREENS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, max(900, min(int(height) + 40, 6000)))
        path = SCREENS / f"{name}.png"
        browser.save_screenshot(str(path))
        browser.set_window_size(1280, 1800)
        return path
    return take
