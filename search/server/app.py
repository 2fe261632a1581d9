"""The Starlette application: JSON API, patient web page, health check, OpenAPI description.

Every error, on every route, has one JSON shape::

    {"error": {"code": "bad_query", "message": "query: longer than 1000 characters (1200)", "status": 400}}

(the page at ``/`` shows a bad search in the page itself, in the reader's language). A 500 says
nothing of internals: no exception text, no traceback, no query text.

Health data: the server logs one line per request (method, route, status, duration) and never
the query string, the path parameters or a body, unless the operator sets ``--log-queries``
(``CAREMATCH_LOG_QUERIES=1``). uvicorn's own access log is turned off by :func:`search.server.run`.

Settings come from arguments of :func:`create_app` or, for uvicorn workers, the environment:
``CAREMATCH_INDEX`` (index link, default ``indexes/default``), ``CAREMATCH_LOG_QUERIES``,
``CAREMATCH_TRIAGE_TOKEN`` (operator token of ``POST /api/triage``; unset: the endpoint is off
and answers 404) and ``CAREMATCH_ENGINE_CALLS`` (``direct``, the default, calls the engine on
the event loop; ``thread`` through Starlette's thread pool; see ``bench/load.py``).
"""
from __future__ import annotations

import gc
import hashlib
import hmac
import json
import logging
import os
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import __version__
from ..errors import CarematchError, UsageError
from ..locales import normalize_lang
from ..textnorm import clean
from . import i18n
from .openapi import openapi_document

log = logging.getLogger("carematch.http")

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

MAX_QUERY_CHARS = 1000
MAX_BATCH = 100
MAX_BODY_BYTES = 256 * 1024
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
PAGE_LIMIT = 10
SEARCH_OPTIONS = ("lang", "country", "service", "age_group", "limit")
SEARCH_PARAMS = ("q", *SEARCH_OPTIONS)
WARM_UP = ("cancer du sein", "breast cancer second opinion", "乳腺癌", "سرطان الثدي", "C50")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple((k.encode(), v.encode()) for k, v in (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
))
STATUS_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 415: "unsupported_media_type", 422: "invalid_body",
                500: "internal_error", 503: "unavailable"}


def _dumps(value) -> bytes:
    """Compact UTF-8 JSON, by orjson (the standard encoder took a seventh of a search request's
    server time); text that is not valid Unicode (a lone surrogate sent as ``\\ud800`` in a JSON
    body), which orjson refuses, is written back as the same ``\\u`` escape rather than failing."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


class JSON(JSONResponse):
    def render(self, content) -> bytes:
        return _dumps(content)


# --- errors ------------------------------------------------------------------------------------

class ApiError(CarematchError):
    """An HTTP-level error with its own status and code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status = status
        self.code = code
        self.headers = headers


def error_body(status: int, code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSON(error_body(status, code, message), status_code=status, headers=headers)


def _public(e: CarematchError) -> tuple[int, str, str]:
    """Status, code and message of an error as a client may see them: server-side failures
    (index missing or damaged...) carry file paths, so they get a fixed message."""
    status = getattr(e, "http_status", 500)
    if status >= 500:
        if status == 503:
            return 503, "unavailable", "the search index is not available right now; try again later"
        return 500, "internal_error", "internal error; it has been logged without your data"
    return status, e.code, e.message


async def carematch_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CarematchError)
    status, code, message = _public(exc)
    if status >= 500:
        log.error("%s while serving %s", type(exc).__name__, _route_name(request.scope))
    return error_response(status, code, message, getattr(exc, "headers", None))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = STATUS_CODES.get(status, "error")
    if status == 404:
        message = "nothing here: see /openapi.json for the API and / for the search page"
    elif status == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or ""
        message = f"method {request.method} is not allowed here" + (f"; use {allowed}" if allowed else "")
    else:
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
    return error_response(status, code, message, exc.headers)


# --- the edge: security headers, request log, last-resort 500 --------------------------------

def _route_name(scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(route, Mount):
        return f"{path}/{{path}}"  # a file name asked for could be any text: the pattern only
    return path or "-"  # the route's template: /api/concepts/{code}, never the code asked for


class Edge:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) around every HTTP request."""

    def __init__(self, app, log_queries: bool = False) -> None:
        self.app = app
        self.log_queries = log_queries

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        state = {"status": 500, "started": False}
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message["status"]
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS:
                    headers.raw.append((k, v))
                if "cache-control" not in headers:
                    headers.raw.append((b"cache-control", b"public, max-age=86400" if static and message["status"] == 200
                                        else b"no-store"))
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as e:  # noqa: BLE001 - the one place that turns any failure into a clean 500
            log.error("internal error: %s while serving %s %s", type(e).__name__, scope.get("method"),
                      _route_name(scope))
            if self.log_queries:
                log.exception("details (--log-queries is on)")
            if not state["started"]:
                resp = error_response(500, "internal_error", "internal error; it has been logged without your data")
                await resp(scope, receive, send_with_headers)
        finally:
            ms = (time.perf_counter() - t0) * 1000
            if self.log_queries:
                qs = scope.get("query_string", b"").decode("latin-1")
                where = scope.get("path", "") + (f"?{qs}" if qs else "")
            else:
                where = _route_name(scope)
            log.info("%s %s %d %.1fms", scope.get("method"), where, state["status"], ms)


# --- settings and request helpers --------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    index: Path | None
    log_queries: bool
    triage_token: str | None
    engine_calls: str


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def settings_from_env(index=None, log_queries=None, triage_token=None, engine_calls=None) -> Settings:
    idx = index if index is not None else os.environ.get("CAREMATCH_INDEX") or None
    token = triage_token if triage_token is not None else os.environ.get("CAREMATCH_TRIAGE_TOKEN", "")
    calls = (engine_calls or os.environ.get("CAREMATCH_ENGINE_CALLS") or "direct").strip().lower()
    if calls not in ("direct", "thread"):
        raise UsageError(f"CAREMATCH_ENGINE_CALLS: {calls!r} is not 'direct' or 'thread'")
    return Settings(index=Path(idx) if idx else None,
                    log_queries=_env_flag("CAREMATCH_LOG_QUERIES") if log_queries is None else bool(log_queries),
                    triage_token=token.strip() or None, engine_calls=calls)


def _params(request: Request, allowed: tuple[str, ...], strict: bool = True) -> dict[str, str]:
    """Query parameters, each at most once; with ``strict`` an unknown one is a 400."""
    out: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            if strict:
                raise ApiError(400, "bad_request", f"unknown parameter {key[:40]!r} (expected {', '.join(allowed)})")
            continue
        if key in out and strict:
            raise ApiError(400, "bad_request", f"{key}: given more than once")
        out[key] = value
    return out


def _limit(value, where: str = "limit") -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if isinstance(value, str):
        if not value.strip().isascii() or not value.strip().isdigit() or len(value.strip()) > 4:
            raise ApiError(400, "bad_request", f"{where}: must be a whole number from 1 to {MAX_LIMIT}")
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, "bad_request", f"{where}: must be a whole number from 1 to {MAX_LIMIT}")
    return value


def _options(params: dict, where: str = "") -> dict:
    """Engine keyword arguments from query parameters or a batch item (empty strings: not given)."""
    opts = {}
    for key in ("lang", "country", "service", "age_group"):
        value = params.get(key)
        if value is not None and value != "":
            opts[key] = value
    opts["limit"] = _limit(params.get("limit"), f"{where}limit")
    return opts


async def _read_json(request: Request):
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise ApiError(400, "bad_request", "Content-Length: not a number")
        if int(length) > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"body: larger than {MAX_BODY_BYTES // 1024} KiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "body_too_large", f"body: larger than {MAX_BODY_BYTES // 1024} KiB")
    if not body.strip():
        raise ApiError(400, "bad_request", "body: empty; send a JSON object")
    try:
        return json.loads(bytes(body))
    except json.JSONDecodeError as e:
        raise ApiError(400, "bad_request", f"body: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except (ValueError, RecursionError):  # undecodable bytes, absurd nesting
        raise ApiError(400, "bad_request", "body: not valid JSON (UTF-8 text expected)") from None


def _batch_item(i: int, item) -> tuple[str, dict]:
    where = f"queries[{i}]: "
    if isinstance(item, str):
        return item, {"limit": DEFAULT_LIMIT}
    if not isinstance(item, dict):
        raise ApiError(422, "invalid_body", f"queries[{i}]: expected a string or an object with \"q\"")
    unknown = sorted(set(item) - set(SEARCH_PARAMS))
    if unknown:
        raise ApiError(422, "invalid_body", f"{where}unknown field {unknown[0][:40]!r} (expected {', '.join(SEARCH_PARAMS)})")
    q = item.get("q")
    if not isinstance(q, str):
        raise ApiError(422, "invalid_body", f"{where}\"q\" must be a string")
    for key in ("lang", "country", "service", "age_group"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise ApiError(422, "invalid_body", f"{where}\"{key}\" must be a string or null")
    limit = item.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise ApiError(422, "invalid_body", f"{where}\"limit\" must be an integer from 1 to {MAX_LIMIT}")
    return q, _options(item, where)


def _safe_url(url) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("https", "http") and parts.hostname else None


class EncodedAnswers:
    """JSON of the engine's answers, encoded once per cached answer.

    Encoding a search output (about 16 KB) costs ~20 times what the engine spends on a cached
    answer. The engine returns a shallow copy of its cached answer with a new ``query`` and
    ``took_ms``; every other value is the very same object as before, so the JSON between those
    two fields is kept here, keyed on those objects' identity (held, so an id cannot be reused
    while cached). An engine that copied deeper would simply never hit. Event-loop thread only.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[int, tuple] = OrderedDict()

    def encode(self, out: dict) -> bytes:
        keys = tuple(k for k in out if k not in ("query", "took_ms"))
        values = tuple(out[k] for k in keys)
        key = id(out.get("results"))
        entry = self.entries.get(key)
        if entry is not None and entry[0] == keys and all(a is b for a, b in zip(entry[1], values)):
            self.entries.move_to_end(key)
            middle = entry[2]
        else:
            middle = _dumps(dict(zip(keys, values)))[1:-1]
            self.entries[key] = (keys, values, middle)
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        parts = [b'{"query":', _dumps(out.get("query"))]
        if middle:
            parts += [b",", middle]
        if "took_ms" in out:
            parts += [b',"took_ms":', _dumps(out["took_ms"])]
        parts.append(b"}")
        return b"".join(parts)


def _file_version(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


# --- the application ---------------------------------------------------------------------------

def create_app(index: str | Path | None = None, *, log_queries: bool | None = None,
               triage_token: str | None = None, engine=None, engine_calls: str | None = None) -> Starlette:
    """The ASGI application. Each process opens one Engine at start-up (lifespan), from
    ``index`` or ``CAREMATCH_INDEX``; ``engine`` serves an already-open one instead."""
    settings = settings_from_env(index, log_queries, triage_token, engine_calls)
    templates = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True, trim_blocks=True,
                            lstrip_blocks=True, undefined=StrictUndefined, auto_reload=False)
    page_template = templates.get_template("index.html")
    static_urls = {name: f"/static/{name}?v={_file_version(STATIC_DIR / name)}"
                   for name in ("app.css", "app.js", "favicon.svg")}
    openapi_body = json.dumps(openapi_document(), ensure_ascii=False).encode()
    threaded = settings.engine_calls == "thread"
    answers = EncodedAnswers()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        for code in i18n.UI_LANGUAGES:  # load every catalog now, not on a patient's first request
            i18n.ui(code).script_strings()
        if engine is not None:
            app.state.engine = engine
        else:
            from ..engine import Engine
            try:
                app.state.engine = Engine.open(settings.index) if settings.index else Engine.open()
            except CarematchError as e:
                log.error("cannot open the index: %s", e.message)
                raise
            for text in WARM_UP:  # the language models load on first use: not on a patient's time
                try:
                    app.state.engine.search(text, limit=1)
                except CarematchError:
                    pass
            # The index, terminology and models are ~200,000 long-lived objects: keep them out of
            # the cyclic collector's full passes, which land on random requests (engine alone,
            # bench/load.py's cold mix: p99 8.3 -> 5.7 ms, worst 157 -> 69 ms).
            gc.collect()
            gc.freeze()
        yield

    async def call(fn, *args, **kwargs):
        if threaded:
            return await run_in_threadpool(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    # --- API ---------------------------------------------------------------------------------

    async def api_search(request: Request) -> Response:
        params = _params(request, SEARCH_PARAMS)
        q = params.get("q")
        if q is None:
            raise ApiError(400, "bad_request", f"q: required: the patient's words, at most {MAX_QUERY_CHARS} characters")
        out = await call(request.app.state.engine.search, q, **_options(params))
        return Response(answers.encode(out), media_type="application/json")

    async def api_batch(request: Request) -> Response:
        t0 = time.perf_counter()
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise ApiError(422, "invalid_body", 'body: expected a JSON object {"queries": [...]}')
        unknown = sorted(set(body) - {"queries"})
        if unknown:
            raise ApiError(422, "invalid_body", f"body: unknown field {unknown[0][:40]!r} (expected \"queries\")")
        queries = body.get("queries")
        if not isinstance(queries, list):
            raise ApiError(422, "invalid_body", "queries: expected a list of strings or objects with \"q\"")
        if len(queries) > MAX_BATCH:
            raise ApiError(413, "batch_too_large", f"queries: {len(queries)} given, at most {MAX_BATCH} per request")
        if not queries:
            raise ApiError(422, "invalid_body", "queries: empty; give 1 to 100 queries")
        items = [_batch_item(i, item) for i, item in enumerate(queries)]
        engine = request.app.state.engine

        def run_all() -> list[dict]:
            out = []
            for i, (q, opts) in enumerate(items):
                if settings.log_queries:
                    log.info("batch query %d: %s", i, q)
                try:
                    out.append(engine.search(q, **opts))
                except CarematchError as e:
                    status, code, message = _public(e)
                    out.append({"query": q, **error_body(status, code, message)})
            return out

        results = await run_in_threadpool(run_all)  # up to 100 queries: off the event loop
        return JSON({"results": results, "count": len(results),
                             "took_ms": round((time.perf_counter() - t0) * 1000, 3)})

    async def api_concept(request: Request) -> Response:
        params = _params(request, ("lang",))
        code = request.path_params["code"]
        lang = normalize_lang(params["lang"]) if params.get("lang") else None
        info = request.app.state.engine.concept_info(code.strip(), lang) if 0 < len(code) <= 64 else None
        if info is None:
            raise ApiError(404, "not_found", f"no concept or ICD-10 code {code[:64]!r}")
        return JSON(info)

    async def healthz(request: Request) -> Response:
        _params(request, ())
        engine = request.app.state.engine
        engine.refresh()
        manifest = engine.manifest
        index = {"digest": engine.digest, "built_at": manifest.get("built_at"), "counts": manifest.get("counts", {})}
        if engine.refused:  # a newer snapshot failed its checks: still serving this one
            index["refused"] = engine.refused
        return JSON({"status": "ok", "version": __version__, "index": index})

    async def openapi(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json")

    async def api_triage(request: Request) -> Response:
        token = settings.triage_token or ""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise ApiError(401, "unauthorized", "an operator token is required: Authorization: Bearer <token>",
                           headers={"WWW-Authenticate": 'Bearer realm="carematch-triage"'})
        body = await _read_json(request)
        if not isinstance(body, dict) or set(body) != {"records"} or not isinstance(body["records"], list):
            raise ApiError(422, "invalid_body", 'body: expected a JSON object {"records": [{...}, ...]}')
        records = body["records"]
        if len(records) > MAX_BATCH:
            raise ApiError(413, "batch_too_large", f"records: {len(records)} given, at most {MAX_BATCH} per request")
        if not records:
            raise ApiError(422, "invalid_body", "records: empty; give 1 to 100 records")
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise ApiError(422, "invalid_body", f"records[{i}]: expected an object")
        try:
            from ..triage import triage_records
        except ImportError:
            raise ApiError(503, "unavailable", "triage is not available on this server") from None
        results = await run_in_threadpool(triage_records, request.app.state.engine, records)
        return JSON({"results": results, "count": len(results)})

    # --- the page ----------------------------------------------------------------------------

    async def page(request: Request) -> Response:
        qp = _params(request, ("q", "country", "service", "ui"), strict=False)
        code, explicit = i18n.choose(qp.get("ui"), request.headers.get("accept-language"))
        ui = i18n.ui(code)
        q = qp.get("q", "")
        country = qp.get("country", "").strip()
        service = qp.get("service", "").strip()
        status, error, out = 200, None, None
        if len(q) > MAX_QUERY_CHARS:
            status, error = 400, ui.gettext("Your text is too long: at most %(num)s characters.",
                                            num=ui.number(MAX_QUERY_CHARS))
        elif service and service not in i18n.SERVICE_LABELS:
            status, error = 400, ui.gettext("The search did not work. Please try again.")
        elif clean(q) or service:
            try:
                out = await call(request.app.state.engine.search, q, country=country or None,
                                 service=service or None, limit=PAGE_LIMIT)
            except UsageError:
                status, error = 400, ui.gettext("The search did not work. Please try again.")
        html = page_template.render(**_page_context(request, ui, explicit, q, country, service, out, error))
        return HTMLResponse(html, status_code=status, headers={"Vary": "Accept-Language"})

    def _page_context(request, ui, explicit, q, country, service, out, error) -> dict:
        engine = request.app.state.engine
        keep = {k: v for k, v in (("q", q), ("country", country), ("service", service)) if v}
        qlang = (out or {}).get("language", {}).get("code") or ""
        cards = []
        for r in (out or {}).get("results", []):
            centre = r["centre"]
            url = _safe_url(r.get("url")) or _safe_url(centre.get("website"))
            host = (urlsplit(url).hostname or "") if url else ""
            cards.append({
                "name": centre["name"], "city": centre["city"], "service": ui.service(r["service"]),
                "delivery": ui.delivery(r.get("delivery")), "title": r["title"],
                "why": [w["text"] for w in r.get("why", [])],
                "languages": ui.language_names(r.get("languages", [])),
                "url": url, "host": host.removeprefix("www."),
                "more": [m["title"] for m in r.get("more", [])],
            })
        understood = [{"label": c["label"], "codes": ", ".join(c["icd10"])} for c in (out or {}).get("concepts", [])[:3]]
        manifest = engine.manifest
        counts = manifest.get("counts", {})
        built = manifest.get("built_at")
        try:
            built_date = ui.date(datetime.strptime(built, "%Y-%m-%dT%H:%M:%SZ").date()) if built else ""
        except ValueError:
            built_date = ""
        return {
            "_": ui.gettext, "ui": ui, "q": q, "country": country.upper() if len(country) == 2 else country,
            "service": service, "explicit_ui": explicit, "error": error, "searched": out is not None,
            "cards": cards, "qlang": qlang, "understood": understood,
            "count": ui.number(len(cards)), "form_services": [(s, ui.service(s)) for s in i18n.FORM_SERVICES],
            "switcher": [(c, name, "/?" + urlencode({**keep, "ui": c})) for c, name in i18n.switcher()],
            "static": static_urls, "strings": json.dumps(ui.script_strings(), ensure_ascii=False),
            "max_query": MAX_QUERY_CHARS, "log_queries": settings.log_queries,
            "stats": {"centres": ui.number(counts.get("centres", 0)), "offers": ui.number(counts.get("offers", 0)),
                      "date": built_date},
        }

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/search", api_search, methods=["GET"]),
        Route("/api/search/batch", api_batch, methods=["POST"]),
        Route("/api/concepts/{code}", api_concept, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(STATIC_DIR)), name="static"),
    ]
    if settings.triage_token:
        routes.append(Route("/api/triage", api_triage, methods=["POST"]))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Edge, log_queries=settings.log_queries)],
        exception_handlers={HTTPException: http_error, CarematchError: carematch_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
