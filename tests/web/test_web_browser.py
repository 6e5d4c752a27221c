"""The web page in a real browser (headless Chromium), used as a person uses
it: choose a scenario, change a value, run, read the answer off the page,
download the files; each answer checked against the command line.

Marked ``browser`` and ``slow`` (``-m "not browser"`` leaves them out); they save
screenshots of the page's main states to tests/artifacts/screens/ (or
$SIMULATOR_SCREENS) for a person to look at."""
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def cli(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def wait_for(condition, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.1)


def by_id(browser, element_id):
    from selenium.webdriver.common.by import By
    return browser.find_element(By.ID, element_id)


def present(browser, element_id):
    from selenium.webdriver.common.by import By
    found = browser.find_elements(By.ID, element_id)
    return found[0] if found else None


def click_and_leave(browser, element_id):
    """Click a button or link that loads another page, and wait until it has."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    page = browser.find_element("tag name", "html")
    by_id(browser, element_id).click()
    WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))


def load(browser, server, name):
    """Choose a bundled scenario in the chooser and load it."""
    from selenium.webdriver.support.ui import Select
    browser.get(server)
    Select(by_id(browser, "scenario")).select_by_value(name)
    click_and_leave(browser, "load")
    wait_for(lambda: name in by_id(browser, "design-name").text)


def type_into(browser, key, text):
    box = by_id(browser, "f-" + key.replace(".", "-"))
    box.clear()
    box.send_keys(text)


def run_and_wait(browser):
    """Press Run and wait for the answer; an error instead fails at once, with its text."""
    click_and_leave(browser, "run")
    shown = wait_for(lambda: present(browser, "answer") or present(browser, "top-errors")
                     or present(browser, "error-summary"), 120)
    assert shown.get_attribute("id") == "answer", shown.text
    return shown


def download(browser, link_id) -> Path:
    """Click a download link; the file once the browser has finished it."""
    for old in browser.downloads.iterdir():
        old.unlink()
    by_id(browser, link_id).click()
    return wait_for(lambda: next((p for p in browser.downloads.iterdir()
                                  if not p.name.startswith(".")
                                  and not p.name.endswith((".crdownload", ".tmp"))), None), 30)


def page_text(browser) -> str:
    from selenium.webdriver.common.by import By
    return " ".join(browser.find_element(By.TAG_NAME, "body").text.split())


def test_choosing_severe_and_running_shows_24_plus_24_and_the_paragraph(browser, server,
                                                                      screenshot):
    from simulator import load_scenario, run
    from simulator.report.justification import justification
    load(browser, server, "severe")
    screenshot("1-form-severe")
    run_and_wait(browser)
    text = page_text(browser)
    assert ("Required size for power 90.0%: 24 Standard care + 24 IVIg = 48 women with a "
            "known outcome (power 0.9200)") in text
    assert "Type I error at 24 + 24 (exact): 0.0260" in text
    paragraph = " ".join(justification(run(load_scenario("severe"))).split())
    assert paragraph in text
    assert by_id(browser, "report").find_element("css selector", "img").size["width"] > 300
    screenshot("3-result-severe")


def test_an_ivig_rate_of_045_gives_the_command_lines_answer_and_its_yaml_the_same_json(
        browser, server, tmp_path):
    load(browser, server, "severe")
    type_into(browser, "arms.treatment.rate", "0.45")
    assert run_and_wait(browser).get_attribute("id") == "answer"
    title = "Severe uRIF (5 or more failed good-quality blastocyst transfers)"
    assert f"{title} (changed: arms.treatment.rate=0.45)" in by_id(browser, "answer").text
    command = shlex.split(by_id(browser, "command").text)     # the command the page shows
    assert command[:5] == ["simulate", "--scenario", "severe", "--set",
                           "arms.treatment.rate=0.45"]
    assert command[5:] == ["--set", f"title='{title} (changed: arms.treatment.rate=0.45)'",
                           "--format", "json"]
    expected = cli(*command[1:])
    assert expected.returncode == 0, expected.stderr
    table = cli(*command[1:-2]).stdout
    headline = next(line for line in table.splitlines() if line.startswith("Required size"))
    assert headline in page_text(browser)
    results = download(browser, "download-results-json")
    assert results.read_text() == expected.stdout           # byte for byte
    scenario = download(browser, "download-scenario-yaml")
    assert re.fullmatch(r"severe-[0-9a-f]{8}\.yaml", scenario.name)     # a variant's name
    copy = tmp_path / "explored.yaml"
    copy.write_bytes(scenario.read_bytes())
    again = cli("--scenario", str(copy), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert again.stdout == expected.stdout
    for link in ("download-report-html", "download-report-docx",
                 "download-report-markdown-zip"):
        assert download(browser, link).stat().st_size > 1000


def test_an_invalid_alpha_shows_the_command_lines_message_beside_its_field(browser, server,
                                                                           screenshot):
    load(browser, server, "severe")
    type_into(browser, "analysis.alpha", "0.7")
    click_and_leave(browser, "run")
    error = wait_for(lambda: present(browser, "f-analysis-alpha-error"))
    stderr = cli("--scenario", "severe", "--set", "analysis.alpha=0.7").stderr.strip()
    assert error.text == "`analysis.alpha` must be a level in (0, 0.5]; got 0.7"
    assert stderr.endswith(error.text)
    assert by_id(browser, "f-analysis-alpha").get_attribute("value") == "0.7"   # kept as typed
    assert present(browser, "answer") is None                # nothing ran
    screenshot("2-invalid-alpha")
    type_into(browser, "analysis.alpha", "0.05")             # the form is still usable
    assert run_and_wait(browser).get_attribute("id") == "answer"


def test_a_long_run_shows_its_progress_then_the_answer(browser, server, screenshot):
    import re
    load(browser, server, "multicentre")                  # patient-level: seconds of chunks
    type_into(browser, "simulation.n_sims", "3000")
    click_and_leave(browser, "run")
    bar = wait_for(lambda: present(browser, "progress") and re.search(
        r"[\d,]+ of [\d,]+ simulated trials", by_id(browser, "progress").text), 60)
    assert bar
    assert present(browser, "cancel") is not None
    screenshot("4-progress")
    wait_for(lambda: present(browser, "answer"), 120)
    assert "3,000 simulated trials" in page_text(browser)


def test_a_comparison_of_two_designs_is_simulate_compare(browser, server, screenshot):
    from selenium.webdriver.support.ui import Select
    browser.get(server + "compare")
    if present(browser, "designs"):                     # a list left by an earlier test
        page = browser.find_element("tag name", "html")
        browser.find_element("css selector", "input[value=all] + button").click()
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))
        assert present(browser, "designs") is None
    load(browser, server, "severe")
    click_and_leave(browser, "add")
    wait_for(lambda: present(browser, "designs"))
    load(browser, server, "severe")
    Select(by_id(browser, "f-analysis-test")).select_by_value("boschloo")
    click_and_leave(browser, "add")
    wait_for(lambda: len(by_id(browser, "designs").find_elements("tag name", "li")) == 2)
    screenshot("5-compare-list")
    click_and_leave(browser, "run-compare")
    wait_for(lambda: present(browser, "answer"), 120)
    screenshot("6-comparison")
    command = shlex.split(by_id(browser, "command").text)     # the command the page shows
    assert command == ["simulate", "compare", "severe", "--vary",
                       "analysis.test=fisher,boschloo", "--format", "json"]
    expected = cli(*command[1:])
    assert expected.returncode == 0, expected.stderr
    got = download(browser, "download-results-json").read_text()
    assert json.loads(got) == json.loads(expected.stdout)
    assert got == expected.stdout
    assert "severe, analysis.test=boschloo" in page_text(browser)
