"""The web page's routes (a Starlette application, pages rendered on the
server with Jinja2; no script).

Routes, and nothing else (any other path is 404; no directory is served):

``GET /``                       the form: a bundled scenario (``?scenario=NAME``), an
                                uploaded file (``?upload=TOKEN``) or a job's design (``?job=ID``)
``POST /upload``                a scenario file, checked as ``simulate --scenario FILE``
``POST /plan``                  validate the form; if valid, start the plan
``POST /compare/add``           validate the form; if valid, add it to the comparison
``GET /compare``                the designs to compare
``POST /compare/remove``        remove one (``index``), or all (``index=all``)
``POST /compare/run``           start the comparison
``GET /jobs/{id}``              progress, then the answer (or the error and the form)
``POST /jobs/{id}/cancel``      stop a running job (at its next chunk of simulated trials)
``GET /jobs/{id}/progress``     progress as JSON
``GET /jobs/{id}/files/{name}`` a file of the answer (the names the job made, only)
``GET /static/style.css``       the page's style
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
from collections import OrderedDict
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse,
                                 Response)
from starlette.routing import Route

from ..errors import ScenarioError
from ..planning.compare import MAX_DESIGNS, listed
from ..scenario.build import DEFAULT_SCENARIO, bundled_scenarios, load_scenario
from ..scenario.reading import MAX_FILE_BYTES
from ..version import __version__
from .form import (FIELDS, GROUPS, KEYS, SCALES, Design, advice_for, compare_command, field_of,
                   message, overrides_of, rate_ways, values_of)
from .jobs import RUNNING, Busy, Jobs, plan, plan_comparison

# a form or an upload: the largest scenario file the command reads, and its multipart wrapping
MAX_BODY = MAX_FILE_BYTES + 64 * 1024
MAX_UPLOADS = 100           # uploaded files kept (the oldest is forgotten first)
MAX_LISTS = 100             # browsers' comparison lists kept
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # (not no-referrer: with it a browser sends `Origin: null` on the page's own forms)
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
DOWNLOADS = (("report.html", "Report (HTML)"), ("report-markdown.zip", "Report (Markdown, "
             "figures as PNG, zip)"), ("report.docx", "Report (Word)"),
             ("results.json", "Results (JSON)"), ("scenario.yaml", "Scenario (YAML)"),
             ("scenarios.zip", "Scenarios (YAML, one per design, zip)"))
TYPES = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
         ".json": "application/json", ".csv": "text/csv; charset=utf-8",
         ".yaml": "application/yaml; charset=utf-8", ".png": "image/png",
         ".zip": "application/zip",
         ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


class BodyLimit:
    """ASGI middleware: every response gets the security headers; a request
    whose body is larger than ``MAX_BODY``, or that does not say its size,
    is refused before it is read; a POST from another site is refused: its
    Origin is not this server, or ``null`` (a sandboxed frame, a ``data:``
    page), or without an Origin the browser's ``Sec-Fetch-Site`` says it
    comes from elsewhere.  (A request with neither header is left to the
    form's token, checked by each route.)"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}

        async def send_secured(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await send(message)

        refusal = None
        if scope["method"] == "POST":
            origin = headers.get("origin")
            fetched_from = headers.get("sec-fetch-site")
            if origin is not None and (origin == "null"
                                       or urlsplit(origin).netloc != headers.get("host")):
                refusal = (403, "a form of another site cannot post to this page")
            elif origin is None and fetched_from not in (None, "same-origin", "none"):
                refusal = (403, "a form of another site cannot post to this page")
            elif "content-length" not in headers:
                refusal = (411, "a request must say its length")
            elif not headers["content-length"].isdigit():
                refusal = (400, "the request's length is not a number")
            elif int(headers["content-length"]) > MAX_BODY:
                scope["state"] = dict(scope.get("state") or {}, too_large=True)
                if scope["path"] != "/upload":
                    refusal = (413, f"the request is larger than {MAX_BODY:,} bytes")
        if refusal:
            response = PlainTextResponse(refusal[1] + "\n", status_code=refusal[0])
            return await response(scope, receive, send_secured)
        return await self.app(scope, receive, send_secured)


class Refused(Exception):
    """A POST without this server's form token: not from the page's own form."""


class Site:
    """The page's state: the bundled scenarios, the uploads, the jobs and
    each browser's comparison list, all inside one temporary directory."""

    def __init__(self, workdir: Path, running: int):
        self.workdir = workdir
        # every form of the page carries this token; a POST without it is refused, so that
        # another site cannot post here even from a client that sends no Origin header
        self.csrf = hmac.new(secrets.token_bytes(32), b"simulate serve form",
                             hashlib.sha256).hexdigest()
        self.jobs = Jobs(workdir / "jobs", running=running)
        self.uploads: OrderedDict[str, tuple[str, str]] = OrderedDict()   # token -> (path, name)
        self.lists: OrderedDict[str, list[Design]] = OrderedDict()
        self.bundled = [(n.removesuffix(".yaml"), load_scenario(n).title or "")
                        for n in bundled_scenarios()]
        self.env = Environment(loader=PackageLoader("simulator.web", "templates"),
                               autoescape=select_autoescape(default=True),
                               trim_blocks=True, lstrip_blocks=True)

    # -- where a design starts
    def design_from(self, source: str, overrides=None) -> Design:
        """A design from the form's ``source`` (``bundled:NAME`` or
        ``upload:TOKEN``): only a bundled name or a file this server holds."""
        kind, _, value = source.partition(":")
        if kind == "bundled" and value in {n for n, _ in self.bundled}:
            return Design(value, value, dict(overrides or {}))
        if kind == "upload" and value in self.uploads:
            path, name = self.uploads[value]
            return Design(path, name, dict(overrides or {}))
        raise ScenarioError("is not a bundled scenario or a file uploaded to this page; "
                            "choose one again", field="source")

    def source_key(self, design: Design) -> str:
        token = next((t for t, (path, _) in self.uploads.items() if path == design.source), None)
        return f"upload:{token}" if token else f"bundled:{design.source}"

    def keep_upload(self, name: str, data: bytes) -> str:
        token = secrets.token_hex(8)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[:100] or "scenario.yaml"
        directory = self.workdir / "uploads" / token
        directory.mkdir(parents=True)
        path = directory / safe
        path.write_bytes(data)
        self.uploads[token] = (str(path), safe)
        while len(self.uploads) > MAX_UPLOADS:
            self.forget_upload(next(iter(self.uploads)))
        return token

    def forget_upload(self, token: str) -> None:
        path, _ = self.uploads.pop(token)
        shutil.rmtree(Path(path).parent, ignore_errors=True)

    def comparison(self, request: Request) -> list[Design]:
        return self.lists.get(request.cookies.get("designs", ""), [])

    async def posted(self, request: Request, **limits):
        """The submitted form, if it carries this server's token (else ``Refused``)."""
        form = await request.form(**limits)
        if not hmac.compare_digest(str(form.get("csrf", "")), self.csrf):
            raise Refused()
        return form

    # -- rendering
    def page(self, template: str, status: int = 200, **context) -> HTMLResponse:
        text = self.env.get_template(template).render(version=__version__, csrf=self.csrf,
                                                      **context)
        return HTMLResponse(text, status_code=status)

    def form_page(self, request: Request, design: Design, values: dict | None = None,
                  errors: dict | None = None, top: list | None = None, status: int = 200,
                  job=None) -> HTMLResponse:
        """The form of ``design`` (``values``: the text submitted, kept as typed)."""
        base = load_scenario(design.source)
        try:
            scenario = design.scenario()
            shown = values_of(scenario.to_dict())
        except ScenarioError:
            scenario, shown = None, values_of(base.to_dict())
        shown.update(values or {})
        return self.page("form.html", status, groups=GROUPS, values=shown, scales=SCALES,
                         labels={k: f.label for k, f in FIELDS.items()},
                         advice=advice_for(values or {}, errors or {}),
                         rate_ways=rate_ways,
                         errors=errors or {}, top=top or [], design=design,
                         source=self.source_key(design), bundled=self.bundled,
                         scenario=scenario, base=base, designs=self.comparison(request), job=job,
                         max_bytes=MAX_FILE_BYTES, max_designs=MAX_DESIGNS)

    def checked(self, request: Request, form) -> tuple[Design | None, HTMLResponse | None]:
        """The submitted form as a validated design, or the form again with
        every error beside its input."""
        submitted = {k: str(v) for k, v in form.items()
                     if k in FIELDS or k.partition(":")[0] in KEYS}
        try:
            base = self.design_from(str(form.get("source", "")))
        except ScenarioError as err:
            return None, self.chooser(request, [message(err)], 400)
        overrides, errors = overrides_of(submitted, base.source)
        design = Design(base.source, base.name, overrides)
        top = []
        if not errors:
            try:
                design.scenario()
                return design, None
            except ScenarioError as err:
                where = field_of(err.field)
                if where is None:
                    top.append(message(err))
                else:
                    errors[where] = message(err)
        return None, self.form_page(request, design, submitted, errors, top, 400)

    def chooser(self, request: Request, top: list, status: int) -> HTMLResponse:
        design = Design(DEFAULT_SCENARIO.removesuffix(".yaml"),
                        DEFAULT_SCENARIO.removesuffix(".yaml"), {})
        return self.form_page(request, design, top=top, status=status)


def create_app(workdir: str | Path | None = None, running: int = RUNNING,
               allowed_hosts=("127.0.0.1", "localhost"), started=None) -> Starlette:
    """The application.  ``workdir``: where uploads and the jobs' files go
    (default: a temporary directory removed when the server stops);
    ``running``: plans computed at once; ``allowed_hosts``: the Host
    headers answered (another is refused, against DNS rebinding);
    ``started``: called once the server is ready."""
    temporary = None
    if workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="simulate-serve-")
        workdir = temporary.name
    site = Site(Path(workdir), running)

    def index(request: Request):
        query = request.query_params
        try:
            if "job" in query:
                job = site.jobs.get(query["job"])
                if job is not None and job.kind == "compare":
                    return RedirectResponse("/compare", status_code=303)   # its designs
                if job is None:
                    return site.chooser(request, ["that plan is no longer kept; start again"],
                                        404)
                return site.form_page(request, job.design)
            if "upload" in query:
                return site.form_page(request, site.design_from("upload:" + query["upload"]))
            name = query.get("scenario", DEFAULT_SCENARIO).removesuffix(".yaml")
            return site.form_page(request, site.design_from("bundled:" + name))
        except ScenarioError as err:
            return site.chooser(request, [message(err)], 404)

    async def upload(request: Request):
        if getattr(request.state, "too_large", False):
            return site.chooser(request, [f"the upload is larger than {MAX_FILE_BYTES:,} "
                                          "bytes, the largest scenario file read"], 413)
        form = await site.posted(request, max_files=1, max_fields=5)
        return await run_in_threadpool(upload_read, request, form)

    def upload_read(request: Request, form):
        item = form.get("file")
        if not isinstance(item, UploadFile) or not item.filename:
            return site.chooser(request, ["choose a scenario file to upload"], 400)
        item.file.seek(0)
        data = item.file.read(MAX_FILE_BYTES + 1)
        name = Path(item.filename).name
        if len(data) > MAX_FILE_BYTES:
            return site.chooser(request, [str(ScenarioError(
                f"file is larger than {MAX_FILE_BYTES:,} bytes", file=name))], 413)
        token = site.keep_upload(name, data)
        path, _ = site.uploads[token]
        try:
            load_scenario(path)             # as simulate --scenario FILE reads and checks it
        except ScenarioError as err:
            site.forget_upload(token)
            return site.chooser(request, [str(err)], 400)
        return RedirectResponse(f"/?upload={token}", status_code=303)

    def start_plan(request: Request, form):
        design, refused = site.checked(request, form)
        if refused:
            return refused
        design = design.variant()
        scenario = design.scenario()
        try:
            job = site.jobs.start("plan", scenario.title or scenario.name,
                                  lambda: plan(scenario), design)
        except Busy as err:
            return site.form_page(request, design, top=[str(err)], status=503)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def compare_add(request: Request, form):
        design, refused = site.checked(request, form)
        if refused:
            return refused
        key = request.cookies.get("designs") or secrets.token_hex(12)
        designs = site.lists.setdefault(key, [])
        site.lists.move_to_end(key)
        while len(site.lists) > MAX_LISTS:
            site.lists.popitem(last=False)
        if len(designs) >= MAX_DESIGNS:
            return site.form_page(request, design, top=[
                f"the comparison has {MAX_DESIGNS} designs, the most it shows; remove one "
                "first"], status=400)
        designs.append(design)
        response = RedirectResponse("/compare", status_code=303)
        response.set_cookie("designs", key, httponly=True, samesite="strict")
        return response

    def command_of(designs) -> str | None:
        try:
            return compare_command(designs, listed([(d.source, d.overrides) for d in designs]))
        except ScenarioError:
            return None

    def compare_page(request: Request, top=(), status=200):
        designs = site.comparison(request)
        return site.page("compare.html", status, designs=designs, top=list(top),
                         labels={k: f.label for k, f in FIELDS.items()},
                         command=command_of(designs) if len(designs) > 1 else None,
                         sources=[site.source_key(d) for d in designs], max_designs=MAX_DESIGNS)

    def compare_view(request: Request):
        return compare_page(request)

    def compare_remove(request: Request, form):
        designs = site.comparison(request)
        index = str(form.get("index", ""))
        if index == "all":
            designs.clear()
        elif index.isdigit() and int(index) < len(designs):
            del designs[int(index)]
        return RedirectResponse("/compare", status_code=303)

    def compare_run(request: Request, form):
        designs = list(site.comparison(request))
        try:
            candidates = listed([(d.source, d.overrides) for d in designs])
        except ScenarioError as err:
            return compare_page(request, [message(err)], 400)
        try:
            job = site.jobs.start("compare", f"{len(candidates)} designs compared",
                                  lambda: plan_comparison(candidates), designs)
        except Busy as err:
            return compare_page(request, [str(err)], 503)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def job_of(request: Request):
        return site.jobs.get(request.path_params["job"])

    def job_view(request: Request):
        job = job_of(request)
        if job is None:
            return site.chooser(request, ["that plan is no longer kept; start again"], 404)
        if job.state == "failed" and job.kind == "plan":
            where = field_of(job.error.field)
            errors = {where: message(job.error)} if where else {}
            return site.form_page(request, job.design, errors=errors,
                                  top=[] if where else [message(job.error)], job=job)
        if job.state == "failed":
            return compare_page(request, [message(job.error)])
        if job.state == "cancelled":
            words = "The run was cancelled; nothing was kept. Change the design or run it again."
            if job.kind == "plan":
                return site.form_page(request, job.design, top=[words], job=job)
            return compare_page(request, [words])
        return site.page("job.html", job=job, downloads=[(n, t) for n, t in DOWNLOADS
                                                         if n in job.files],
                         compare_command=command_of(job.design) if job.kind == "compare"
                         else None)

    def job_cancel(request: Request, form):
        job = site.jobs.cancel(request.path_params["job"])
        if job is None:
            return site.chooser(request, ["that plan is no longer kept; start again"], 404)
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)

    def job_progress(request: Request):
        job = job_of(request)
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse({"state": job.state, "unit": job.progress.unit,
                             "done": job.progress.done, "total": job.progress.total,
                             "seconds": job.seconds,
                             "error": message(job.error) if job.error else None})

    def job_file(request: Request):
        job = job_of(request)
        name = request.path_params["name"]
        path = job.file(name) if job is not None else None
        if path is None:
            return PlainTextResponse("not found\n", status_code=404)
        suffix = Path(name).suffix
        shown = name
        if name == "scenario.yaml" and job.kind == "plan":
            shown = job.design.file_name()
        disposition = "inline" if suffix == ".png" else f'attachment; filename="{shown}"'
        return Response(path.read_bytes(), media_type=TYPES.get(suffix, "application/octet-stream"),
                        headers={"Content-Disposition": disposition})

    def style(request: Request):
        css = resources.files("simulator.web").joinpath("static", "style.css").read_bytes()
        return Response(css, media_type="text/css")

    async def not_found(request: Request, exc):
        return PlainTextResponse("not found\n", status_code=404)

    async def refused(request: Request, exc):
        return PlainTextResponse("this form is not one of this page's (reload the page and "
                                 "submit it again)\n", status_code=403)

    @asynccontextmanager
    async def lifespan(app):
        # joblib's memory-mapped arrays go inside the temporary directory too (by
        # default they go to /dev/shm); restored when the server stops
        before = os.environ.get("JOBLIB_TEMP_FOLDER")
        os.environ["JOBLIB_TEMP_FOLDER"] = str(site.workdir / "joblib")
        if started is not None:
            started()
        try:
            yield
        finally:
            site.jobs.stop()
            if before is None:
                os.environ.pop("JOBLIB_TEMP_FOLDER", None)
            else:
                os.environ["JOBLIB_TEMP_FOLDER"] = before
            if temporary is not None:
                temporary.cleanup()

    def posting(handler):
        """An endpoint that reads the form (with the page's token, no file, small
        fields), then runs ``handler(request, form)`` in Starlette's thread pool:
        validation and rendering read files and must not block the event loop."""
        async def endpoint(request: Request):
            form = await site.posted(request, max_files=0, max_fields=200,
                                     max_part_size=64 * 1024)
            return await run_in_threadpool(handler, request, form)
        return endpoint

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/plan", posting(start_plan), methods=["POST"]),
        Route("/compare", compare_view, methods=["GET"]),
        Route("/compare/add", posting(compare_add), methods=["POST"]),
        Route("/compare/remove", posting(compare_remove), methods=["POST"]),
        Route("/compare/run", posting(compare_run), methods=["POST"]),
        Route("/jobs/{job}", job_view, methods=["GET"]),
        Route("/jobs/{job}/cancel", posting(job_cancel), methods=["POST"]),
        Route("/jobs/{job}/progress", job_progress, methods=["GET"]),
        Route("/jobs/{job}/files/{name}", job_file, methods=["GET"]),
        Route("/static/style.css", style, methods=["GET"]),
    ]
    middleware = [Middleware(BodyLimit)]
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={404: not_found, Refused: refused})
    app.state.site = site
    return app
