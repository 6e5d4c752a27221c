"""The web page without a browser (Starlette's test client): its routes and
nothing else, its limits and errors (the command line's own), the form read
back to the command's overrides, and where it writes."""
import html
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed: pip install '.[web]'")
pytest.importorskip("httpx", reason="httpx (Starlette's test client) is not installed")

from starlette.testclient import TestClient  # noqa: E402

from simulator.errors import ScenarioError  # noqa: E402
from simulator.scenario.build import bundled_scenarios, load_scenario  # noqa: E402
from simulator.scenario.reading import MAX_FILE_BYTES  # noqa: E402
from simulator.web import app as web_app  # noqa: E402
from simulator.web.form import FIELDS, field_of, overrides_of, values_of  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SEVERE = (REPO / "scenarios" / "severe.yaml").read_text()


def cli(*args, cwd=REPO) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


class PageClient(TestClient):
    """A test client that posts as the page's own forms do: with the
    server's form token (``csrf``) among the fields."""

    def post(self, url, data=None, **kwargs):
        if kwargs.get("content") is None:
            data = {"csrf": self.app.state.site.csrf, **(data or {})}
        return super().post(url, data=data, **kwargs)


@pytest.fixture
def client(tmp_path):
    app = web_app.create_app(tmp_path / "work", allowed_hosts=None)
    with PageClient(app, follow_redirects=False) as test_client:
        test_client.work = tmp_path / "work"
        yield test_client


def form_of(source="bundled:severe", **changes) -> dict:
    name = source.partition(":")[2]
    values = values_of(load_scenario(name).to_dict()) if source.startswith("bundled") else {}
    values.update({k.replace("__", "."): v for k, v in changes.items()})
    return {"source": source, **values}


def finished(client, job_url: str, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while True:
        state = client.get(job_url + "/progress").json()
        if state["state"] != "running":
            return state
        assert time.monotonic() < end
        time.sleep(0.05)


def errors_on(page) -> list[str]:
    """The error lines a page shows, as text."""
    return [html.unescape(e) for e in re.findall(r'<p class="error"[^>]*>(.*?)</p>', page.text)]


def upload(client, name: str, data: bytes):
    return client.post("/upload", files={"file": (name, data, "application/yaml")})   # + token


@pytest.mark.slow
def test_the_form_of_every_bundled_scenario_reads_back_to_no_change():
    """Submitting a scenario's form unchanged sets nothing (so a changed
    value is exactly the command's one --set)."""
    for name in bundled_scenarios():
        values = values_of(load_scenario(name).to_dict())
        assert overrides_of(values, name) == ({}, {}), name
    values = values_of(load_scenario("severe").to_dict())
    assert overrides_of(dict(values, **{"arms.treatment.rate": "0.45", "dropout": "0.10"}),
                        "severe") == ({"arms.treatment.rate": 0.45}, {})


def test_an_error_is_placed_beside_the_input_of_its_key_or_at_the_top():
    assert field_of("analysis.alpha") == "analysis.alpha"
    assert field_of("arms.treatment.rate.discount") == "arms.treatment.rate"
    assert field_of("arms.treatment") == "arms.treatment.rate"     # needs rate or effect
    assert field_of("arms.control") == "arms.control.rate"
    assert field_of("arms.treatment.effect.ci95") == "arms.treatment.rate"
    assert field_of("sample_size.max_control") is None
    assert field_of(None) is None
    assert set(FIELDS) >= {"arms.control.rate", "analysis.test", "analysis.alpha",
                           "analysis.sided", "target_power", "sample_size.n_control",
                           "allocation", "dropout", "interim.looks",
                           "recruitment.per_centre_month"}


def test_only_the_pages_routes_answer_and_every_response_is_locked_down(client):
    page = client.get("/")
    assert page.status_code == 200 and "severe: Severe uRIF" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert client.get("/static/style.css").status_code == 200
    for path in ("/nope", "/static/", "/static/../pyproject.toml", "/static/form.html",
                 "/templates/form.html", "/jobs/1-abc", "/jobs/1-abc/files/results.json",
                 "/compare/run", "/plan"):
        response = client.get(path)
        assert response.status_code in (404, 405), path
    assert client.get("/?scenario=../../etc/passwd").status_code == 404


def test_a_post_from_another_site_or_another_host_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "plan", lambda scenario: ({"results.json": b"{}"}, ""))
    with TestClient(web_app.create_app(tmp_path), follow_redirects=False) as local:
        assert local.get("/").status_code == 400            # Host: testserver is not local
        local.base_url = "http://127.0.0.1"
        local.headers["host"] = "127.0.0.1"
        page = local.get("/")
        assert page.status_code == 200
        token = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text).group(1)
        assert page.text.count(f'name="csrf" value="{token}"') == 2     # the upload, the form
        signed = dict(form_of(), csrf=token)
        for headers in ({"origin": "http://evil.example"},
                        {"origin": "null"},                  # a sandboxed frame, a data: page
                        {"sec-fetch-site": "cross-site"},    # no Origin, but from elsewhere
                        {"sec-fetch-site": "same-site"}):
            for path in ("/plan", "/compare/add", "/compare/run", "/compare/remove"):
                refused = local.post(path, data=signed, headers=headers)
                assert refused.status_code == 403, (headers, path)
            assert local.post("/upload", data={"csrf": token}, headers=headers,
                              files={"file": ("s.yaml", SEVERE.encode())}).status_code == 403
        for data in (form_of(), dict(form_of(), csrf="0" * 64)):     # no token, a wrong one
            for path in ("/plan", "/compare/add", "/compare/run", "/compare/remove"):
                assert local.post(path, data=data).status_code == 403, path
            assert local.post("/upload", data={k: v for k, v in data.items() if k == "csrf"},
                              files={"file": ("s.yaml", SEVERE.encode())}).status_code == 403
        for headers in ({}, {"origin": "http://127.0.0.1"}, {"sec-fetch-site": "same-origin"},
                        {"sec-fetch-site": "none"}):
            assert local.post("/plan", data=signed, headers=headers).status_code == 303, headers


@pytest.mark.slow
def test_an_oversized_upload_is_refused_with_the_command_lines_error(client, tmp_path):
    big = SEVERE.encode() + b"#" * (MAX_FILE_BYTES + 1 - len(SEVERE))
    (tmp_path / "big.yaml").write_bytes(big)
    expected = cli("--scenario", tmp_path / "big.yaml").stderr.strip()
    assert expected == "simulate: error: big.yaml: file is larger than 1,000,000 bytes"
    refused = upload(client, "big.yaml", big)
    assert refused.status_code == 413
    assert errors_on(refused) == [expected.removeprefix("simulate: error: ")]
    huge = upload(client, "huge.yaml", b"#" * (3 * MAX_FILE_BYTES))     # refused unread
    assert huge.status_code == 413
    assert errors_on(huge) == ["the upload is larger than 1,000,000 bytes, the largest "
                               "scenario file read"]       # (its name is not read)
    assert client.post("/plan", content=b"x" * (2 * MAX_FILE_BYTES)).status_code == 413
    assert not (client.work / "uploads").exists() or not list((client.work / "uploads").iterdir())


@pytest.mark.slow
def test_an_invalid_uploaded_file_shows_the_command_lines_error(client, tmp_path):
    for name, text in (("bad.yaml", "name: x\narms: {control: [\n"),
                       ("alpha.yaml", SEVERE.replace("alpha: 0.05", "alpha: 2"))):
        (tmp_path / name).write_text(text)
        expected = cli("--scenario", tmp_path / name).stderr.strip()
        refused = upload(client, name, text.encode())
        assert refused.status_code == 400
        assert errors_on(refused) == [expected.removeprefix("simulate: error: ")]
    assert list((client.work / "uploads").iterdir()) == []     # not kept


@pytest.mark.slow
def test_an_uploaded_file_is_planned_as_the_command_plans_it(client, tmp_path):
    text = SEVERE.replace("rate: 0.69", "rate: 0.6")
    (tmp_path / "mine.yaml").write_text(text)
    done = upload(client, "mine.yaml", text.encode())
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "mine.yaml" in page.text
    source = f"upload:{done.headers['location'].split('=')[1]}"
    started = client.post("/plan", data={"source": source, "arms.treatment.rate": "0.6"})
    assert started.status_code == 303
    assert finished(client, started.headers["location"])["state"] == "done"
    got = client.get(started.headers["location"] + "/files/results.json").text
    assert got == cli("--scenario", tmp_path / "mine.yaml", "--format", "json").stdout


@pytest.mark.slow
def test_a_failing_run_shows_its_error_and_leaves_the_form_usable(client, tmp_path):
    text = SEVERE.replace("max_control: 5000", "max_control: 5")
    (tmp_path / "small.yaml").write_text(text)
    expected = cli("--scenario", tmp_path / "small.yaml").stderr.strip()
    assert "max_control" in expected
    done = upload(client, "small.yaml", text.encode())       # valid: it fails when run
    source = f"upload:{done.headers['location'].split('=')[1]}"
    started = client.post("/plan", data={"source": source})
    state = finished(client, started.headers["location"])
    assert state["state"] == "failed"
    assert expected.endswith(state["error"])
    page = client.get(started.headers["location"])
    assert page.status_code == 200 and 'id="scenario-form"' in page.text
    assert 'id="top-errors"' in page.text
    again = client.post("/plan", data=form_of())              # and the page still plans
    assert finished(client, again.headers["location"])["state"] == "done"


def test_at_most_two_plans_run_at_once_and_a_third_is_refused_politely(client, monkeypatch):
    release = threading.Event()

    def slow(scenario):
        release.wait(30)
        return {"results.json": b"{}"}, "<p>done</p>"
    monkeypatch.setattr(web_app, "plan", slow)
    first, second = (client.post("/plan", data=form_of()) for _ in range(2))
    assert first.status_code == second.status_code == 303
    third = client.post("/plan", data=form_of())
    assert third.status_code == 503
    assert "2 plans or comparisons are running already" in third.text
    assert 'id="scenario-form"' in third.text
    release.set()
    for job in (first, second):
        assert finished(client, job.headers["location"])["state"] == "done"
    assert client.post("/plan", data=form_of()).status_code == 303


@pytest.mark.slow
def test_the_page_writes_only_inside_its_temporary_directory_and_removes_it(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = web_app.create_app(allowed_hosts=None)
    workdir = app.state.site.workdir
    before = os.environ.get("JOBLIB_TEMP_FOLDER")
    with PageClient(app, follow_redirects=False) as client:
        assert workdir.is_dir() and workdir.name.startswith("simulate-serve-")
        assert os.environ["JOBLIB_TEMP_FOLDER"] == str(workdir / "joblib")   # not /dev/shm
        upload(client, "mine.yaml", SEVERE.encode())
        started = client.post("/plan", data=form_of())
        assert finished(client, started.headers["location"])["state"] == "done"
        written = {p.relative_to(workdir).parts[0] for p in workdir.rglob("*")}
        assert {"uploads", "jobs"} <= written <= {"uploads", "jobs", "joblib"}
    assert list(tmp_path.iterdir()) == []                     # nothing in the working directory
    assert not workdir.exists()                               # removed when the server stops
    assert os.environ.get("JOBLIB_TEMP_FOLDER") == before


def test_a_job_that_finishes_after_the_server_stopped_writes_nothing(tmp_path):
    app = web_app.create_app(allowed_hosts=None)
    workdir = app.state.site.workdir
    release = threading.Event()
    with PageClient(app, follow_redirects=False):
        job = app.state.site.jobs.start("plan", "late", lambda: (
            release.wait(30), ({"results.json": b"{}"}, ""))[1])
    assert not workdir.exists()                               # removed at shutdown
    release.set()
    end = time.monotonic() + 30
    while job.state == "running":
        assert time.monotonic() < end
        time.sleep(0.05)
    assert job.state == "cancelled" and not workdir.exists()  # not made again


def test_the_plan_form_takes_no_file_and_no_large_field(client, monkeypatch):
    monkeypatch.setattr(web_app, "plan", lambda scenario: ({"results.json": b"{}"}, ""))
    token = client.app.state.site.csrf
    with_file = client.post("/plan", data=form_of(), files={"x": ("a.yaml", b"x: 1")})
    assert with_file.status_code == 400
    big = TestClient.post(client, "/plan", files={"note": (None, "x" * (128 * 1024))},
                          data=dict(form_of(), csrf=token))
    assert big.status_code == 400
    assert client.post("/plan", data=form_of()).status_code == 303


def test_the_server_listens_on_127_0_0_1_unless_told_otherwise(monkeypatch, capsys):
    from simulator.web import server
    bound = []
    monkeypatch.setattr(server.uvicorn.Server, "run", lambda self, sockets: bound.extend(
        s.getsockname() for s in sockets))
    server.serve(port=0)
    assert bound[0][0] == "127.0.0.1" and bound[0][1] > 0       # (the URL: when it serves)
    assert "warning" not in capsys.readouterr().err
    server.serve(host="0.0.0.0", port=0)
    assert bound[1][0] == "0.0.0.0"
    assert "not only this computer" in capsys.readouterr().err


@pytest.mark.slow
def test_serve_without_the_web_extra_says_how_to_install_it():
    code = ("import sys; sys.modules['starlette'] = None; from simulator.cli import main; "
            "main(['serve', '--port', '0'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "pip install '.[web]'" in proc.stderr and proc.stderr.startswith("simulate: error:")


@pytest.mark.slow
def test_a_comparison_is_simulate_compare(client):
    client.post("/compare/add", data=form_of())
    client.post("/compare/add", data=form_of(analysis__test="boschloo"))
    listing = client.get("/compare")
    assert listing.text.count("<li>") == 2
    started = client.post("/compare/run")
    assert finished(client, started.headers["location"])["state"] == "done"
    got = client.get(started.headers["location"] + "/files/results.json").text
    expected = cli("compare", "severe", "--vary", "analysis.test=fisher,boschloo",
                   "--format", "json").stdout
    assert got == expected
    assert json.loads(got)["comparison"]["fewest_women"] == ["B"]
    import io
    import zipfile
    scenarios = client.get(started.headers["location"] + "/files/scenarios.zip")
    with zipfile.ZipFile(io.BytesIO(scenarios.content)) as archive:
        assert archive.namelist() == ["A-severe.yaml", "B-severe.yaml"]
        assert "test: boschloo" in archive.read("B-severe.yaml").decode()


def test_the_comparison_shows_the_simulate_compare_command_that_plans_it(client):
    client.post("/compare/add", data=form_of())
    client.post("/compare/add", data=form_of(analysis__test="boschloo"))
    listing = client.get("/compare").text
    assert ('<code id="command">simulate compare severe --vary analysis.test=fisher,boschloo'
            '</code>') in listing
    assert "Test boschloo <code>analysis.test</code>" in listing       # the input's label
    client.post("/compare/add", data=form_of(arms__treatment__rate="0.45"))   # not a grid
    assert 'id="command"' not in client.get("/compare").text


def test_a_comparison_of_the_same_design_twice_says_so(client):
    client.post("/compare/add", data=form_of())
    client.post("/compare/add", data=form_of())
    refused = client.post("/compare/run")
    assert refused.status_code == 400
    with pytest.raises(ScenarioError, match="are the same design"):
        from simulator.planning.compare import listed
        listed([("severe", {}), ("severe", {})])
    assert "are the same design" in refused.text


@pytest.mark.slow
def test_ctrl_c_stops_the_server_cleanly():
    import signal
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", "0"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("simulate: serving http://127.0.0.1:")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (0, "simulate: the web page has stopped\n")


def test_a_cancelled_monte_carlo_plan_stops_and_frees_its_slot(client):
    started = client.post("/plan", data=form_of("bundled:multicentre"))   # ~20 s of chunks
    assert started.status_code == 303
    job = started.headers["location"]
    end = time.monotonic() + 60
    while client.get(job + "/progress").json()["done"] == 0:      # a chunk done: it runs
        assert time.monotonic() < end
        time.sleep(0.05)
    assert 'id="cancel"' in client.get(job).text
    asked = time.monotonic()
    assert client.post(job + "/cancel", data={}).status_code == 303
    state = finished(client, job, timeout=30)
    assert state["state"] == "cancelled"
    assert time.monotonic() - asked < 10            # at its next chunk, not at its end
    page = client.get(job)
    assert "The run was cancelled" in page.text and 'id="scenario-form"' in page.text
    assert client.post(job + "/cancel").status_code == 303          # again: nothing to do
    # both slots are free again: two plans start, a third is refused
    release = threading.Event()
    site = client.app.state.site
    held = [site.jobs.start("plan", "held", lambda: (release.wait(30), ({}, ""))[1])
            for _ in range(2)]
    with pytest.raises(web_app.Busy):
        site.jobs.start("plan", "third", lambda: ({}, ""))
    release.set()
    assert all(finished(client, f"/jobs/{j.id}")["state"] == "done" for j in held)
    assert client.post(job + "/cancel", data={"csrf": "x"}).status_code == 403


def test_an_arms_rate_is_a_rate_or_a_prior_from_counts_or_an_effect_not_yaml(client,
                                                                             monkeypatch):
    monkeypatch.setattr(web_app, "plan", lambda scenario: ({"results.json": b"{}"}, ""))
    prior = client.get("/?scenario=severe_prior").text
    assert re.search(r'<option value="counts" selected>a prior from counts</option>', prior)
    for box, value in (("events", "5"), ("n", "25"), ("discount", "0.5")):
        assert f'id="f-arms-control-rate-{box}" name="arms.control.rate:{box}" value="{value}"' \
            in prior
    assert ':yaml"' not in prior                        # no box of YAML for a simple prior
    effect = client.get("/?scenario=rct_evidence").text
    assert '<option value="effect" selected>an effect against control</option>' in effect
    assert 'name="arms.treatment.effect:upper" value="1.56"' in effect
    strata = client.get("/?scenario=multicentre").text
    assert "gives the rates per stratum" in strata and 'name="arms.control.rate"' not in strata

    def planned(source, **changes):
        started = client.post("/plan", data=form_of(source, **changes))
        assert started.status_code == 303, errors_on(started)
        job = client.app.state.site.jobs.get(started.headers["location"].split("/")[-1])
        job.changed = {k: v for k, v in job.design.overrides.items() if k != "title"}
        return job
    for source in ("bundled:severe_prior", "bundled:rct_evidence", "bundled:multicentre"):
        assert planned(source).design.overrides == {}          # unchanged: nothing set
    job = planned("bundled:severe", **{"arms.treatment.rate:as": "counts",
                                       "arms.treatment.rate:events": "20",
                                       "arms.treatment.rate:n": "29",
                                       "arms.treatment.rate:discount": "0.5",
                                       "arms.treatment.rate": "0.9"})     # (not the way chosen)
    assert job.changed == {"arms.treatment.rate": {"events": 20, "n": 29,
                                                            "discount": 0.5}}
    assert job.design.command().startswith(
        "simulate --scenario severe "
        "--set 'arms.treatment.rate={discount: 0.5, events: 20, n: 29}' --set \"title=")
    job = planned("bundled:rct_evidence", **{"arms.treatment.rate:as": "counts",
                                             "arms.treatment.rate:events": "10",
                                             "arms.treatment.rate:n": "25"})
    assert job.changed == {"arms.treatment.rate": {"events": 10, "n": 25},
                                    "arms.treatment.effect": None}
    job = planned("bundled:severe", **{"arms.treatment.rate:as": "effect",
                                       "arms.treatment.effect:scale": "odds_ratio",
                                       "arms.treatment.effect:value": "2",
                                       "arms.treatment.effect:lower": "1.1",
                                       "arms.treatment.effect:upper": "3.5"})
    assert job.design.scenario().to_dict()["arms"]["treatment"]["effect"] == {
        "odds_ratio": 2.0, "ci95": [1.1, 3.5], "shrink": 1.0}
    refused = client.post("/plan", data=form_of(**{"arms.treatment.rate:as": "counts",
                                                   "arms.treatment.rate:n": "29"}))
    assert refused.status_code == 400
    assert re.search(r'id="f-arms-treatment-rate-error"[^>]*>`arms.treatment.rate.events` is '
                     r'required', html.unescape(refused.text))


def test_every_invalid_value_is_shown_beside_its_input_at_once(client):
    bad = {"analysis.alpha": "0.7", "target_power": "1.5", "dropout": "abc",
           "simulation.n_sims": "5"}
    refused = client.post("/plan", data=form_of(**bad))
    assert refused.status_code == 400
    page = html.unescape(refused.text)
    for key, value in bad.items():
        with pytest.raises(ScenarioError) as expected:
            load_scenario("severe", {key: FIELDS[key].read(value)})
        shown = re.search(rf'id="f-{key.replace(".", "-")}-error"[^>]*>(.*?)</p>', page)
        assert shown and shown.group(1) == str(expected.value).split(": ", 1)[1], key
        assert f"{FIELDS[key].label}</a>: {shown.group(1)}" in page       # and in the summary
    assert "these 4 values break" in page
    assert 'id="top-errors"' not in page             # no rule between keys was checked yet


def test_an_error_about_an_arm_is_shown_beside_its_rate_not_its_label(client):
    refused = client.post("/plan", data=form_of(**{"arms.treatment.rate": ""}))
    assert refused.status_code == 400
    with pytest.raises(ScenarioError) as expected:
        load_scenario("severe", {"arms.treatment.rate": None})
    assert expected.value.field == "arms.treatment"
    shown = re.search(r'id="f-arms-treatment-rate-error"[^>]*>(.*?)</p>',
                      html.unescape(refused.text))
    assert shown and shown.group(1) == str(expected.value).split(": ", 1)[1]
    assert 'id="f-arms-treatment-label-error"' not in refused.text


def test_a_run_that_fails_says_so_not_that_nothing_was_run(client, monkeypatch):
    def failing(scenario):
        raise ScenarioError("must be smaller for this run", field="analysis.alpha")
    monkeypatch.setattr(web_app, "plan", failing)
    started = client.post("/plan", data=form_of())
    assert finished(client, started.headers["location"])["state"] == "failed"
    page = client.get(started.headers["location"]).text
    assert "The run stopped with the error beside the input below" in page
    assert "Nothing was run" not in page and 'id="error-summary"' not in page
    assert 'id="f-analysis-alpha-error"' in page


def test_an_input_says_what_empty_means(client):
    page = client.get("/").text
    assert re.search(r'name="analysis.alpha" value="0.05" placeholder="default 0.05"', page)
    assert re.search(r'name="target_assurance" value="" placeholder="empty: none"', page)
    assert "Empty means the default (0.05). significance level" in page
    assert load_scenario("severe", {"analysis.alpha": None}).analysis.alpha == 0.05


def test_a_changed_design_says_it_is_a_variant_and_its_yaml_has_its_own_name(client,
                                                                             monkeypatch):
    monkeypatch.setattr(web_app, "plan", lambda scenario: (
        {"scenario.yaml": scenario.to_yaml().encode()}, ""))
    title = load_scenario("severe").title

    def planned(**changes):
        started = client.post("/plan", data=form_of(**changes))
        job = started.headers["location"]
        assert finished(client, job)["state"] == "done"
        got = client.get(job + "/files/scenario.yaml")
        name = re.search(r'filename="(.*)"', got.headers["content-disposition"]).group(1)
        return html.unescape(client.get(job).text), name, got.text
    page, name, text = planned()
    assert name == "severe.yaml" and f"<h1>{title}</h1>" in page
    page, name, text = planned(analysis__alpha="0.025")
    variant = f"{title} (changed: analysis.alpha=0.025)"
    assert f"<h1>{variant}</h1>" in page
    assert re.fullmatch(r"severe-[0-9a-f]{8}\.yaml", name)
    assert f"title: {variant}" in text or f"title: '{variant}'" in text
    _, other, _ = planned(analysis__alpha="0.01")
    assert other != name and re.fullmatch(r"severe-[0-9a-f]{8}\.yaml", other)


def test_an_invalid_form_keeps_its_title_and_a_comparison_id_leads_to_the_comparison(
        client, monkeypatch):
    refused = client.post("/plan", data=form_of(analysis__alpha="0.7"))
    assert refused.status_code == 400
    assert re.search(r'id="design-name">severe: Severe uRIF', refused.text)
    monkeypatch.setattr(web_app, "plan_comparison", lambda candidates: ({}, ""))
    client.post("/compare/add", data=form_of())
    client.post("/compare/add", data=form_of(analysis__test="boschloo"))
    job = client.post("/compare/run").headers["location"].split("/")[-1]
    back = client.get(f"/?job={job}")
    assert back.status_code == 303 and back.headers["location"] == "/compare"


def test_a_percentage_gets_the_command_lines_message_and_a_plain_hint(client):
    page = client.get("/").text
    assert "Target power (proportion)" in page and "0.9 for 90%" in page
    assert 'placeholder="proportion, e.g. 0.45 for 45%"' in page
    refused = client.post("/plan", data=form_of(**{"arms.treatment.rate": "45%",
                                                   "target_power": "90 %"}))
    assert refused.status_code == 400
    page = html.unescape(refused.text)
    with pytest.raises(ScenarioError) as expected:
        load_scenario("severe", {"arms.treatment.rate": "45%"})        # --set ...rate=45%
    assert str(expected.value).split(": ", 1)[1] in errors_on(refused)
    assert re.search(r'id="f-arms-treatment-rate-advice">write 0.45 for 45%', page)
    assert re.search(r'id="f-target_power-advice">write 0.9 for 90 %', page)
    assert 'name="arms.treatment.rate" value="45%"' in page          # kept, not converted
