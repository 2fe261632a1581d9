"""Item 7, security, against the real 2-worker server: scripts in queries and corpus texts shown
as text in a real browser, path traversal on static files refused, triage refused without the
right token, oversized bodies refused with 413, security headers on every answer. (The API
fuzzed from its own OpenAPI description: ``test_schemathesis.py``.)"""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability._support import TOKEN, XSS, count, raw_http, xss_centre
from samples import chromium

pytestmark = pytest.mark.reliability

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "x-frame-options": "DENY", "cross-origin-opener-policy": "same-origin",
           "permissions-policy": "camera=(), microphone=(), geolocation=()"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_BODY = 256 * 1024


# --- scripts in queries and in corpus texts, in a real browser ---------------------------------------

QUERY_PAYLOADS = [
    "<script>window.__pwned='q-script'</script>",
    "\"><img src=x onerror=\"window.__pwned='q-img'\">",
    "' autofocus onfocus='window.__pwned=\"q-attr\"' x='",
    "</q></p></section><svg/onload=\"window.__pwned='q-svg'\">",
    "javascript:window.__pwned='q-js'",
    "{{ 7*7 }} {% if 1 %}j2{% endif %} ${7*7}",
    "<iframe srcdoc=\"<script>parent.__pwned='q-iframe'</script>\"></iframe>",
]
# what a page holding these payloads must not hold: elements or attributes a payload brought
DOM_PROBE = """() => {
  const all = [...document.querySelectorAll('*')];
  return {
    pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
    handlers: all.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).map(e => e.outerHTML.slice(0, 120)),
    scripts: [...document.scripts].map(s => s.getAttribute('src')),
    injected: document.querySelectorAll('img[src="x"], iframe, svg[onload], [autofocus], [srcdoc]').length,
    searched: (document.querySelector('#searched-q') || {}).textContent,
    names: [...document.querySelectorAll('#cards li.card h3')].map(e => e.textContent),
    titles: [...document.querySelectorAll('#cards li.card .title')].map(e => e.textContent),
    more: [...document.querySelectorAll('#cards li.card details.more li')].map(e => e.textContent),
    cities: [...document.querySelectorAll('#cards li.card .city')].map(e => e.textContent),
    links: [...document.querySelectorAll('#cards a[href]')].map(a => a.href),
  };
}"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [False, True], ids=["server-rendered", "script-rendered"])
def test_scripts_in_queries_and_corpus_texts_are_shown_as_text(server, browser, javascript):
    """Each payload typed as a query that also finds the hostile centre (whose name, city,
    titles, region, networks and links carry scripts): the page shows them as text, runs none,
    and gains no element or event handler from them."""
    ctx = browser.new_context(java_script_enabled=javascript)
    problems: list[str] = []
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        for payload in QUERY_PAYLOADS:
            q = f"{payload} quokkaxss"
            if javascript:
                page.goto(server.url + "/?ui=en")
                page.fill("#q", q)
                page.press("#q", "Enter")
                page.wait_for_selector("#searched-q:not(:empty)")  # (no wait_for_function: the CSP forbids eval)
            else:
                page.goto(server.url + "/?" + urlencode({"q": q, "ui": "en"}))
            page.wait_for_selector("#cards li.card")
            seen = page.evaluate(DOM_PROBE)
            count("inputs.xss_pages")
            assert seen["pwned"] is None, (payload, seen["pwned"])
            assert seen["handlers"] == [], (payload, seen["handlers"])
            assert seen["injected"] == 0, payload
            assert len(seen["scripts"]) == 1 and seen["scripts"][0].startswith("/static/app.js"), seen["scripts"]
            assert seen["searched"] == q
            i = next(i for i, n in enumerate(seen["names"]) if "quokkaxss" in n)
            assert seen["names"][i] == f"Centre quokkaxss {XSS['script']} {XSS['attr']}"
            assert seen["cities"][i] == f"Lyon{XSS['img']}"
            shown = [seen["titles"][i], *seen["more"]]  # the centre's two offers: one on the card, one under "more"
            assert any(XSS["svg"] in t for t in shown) and any(XSS["iframe"] + XSS["template"] in t for t in shown)
            assert all(link.startswith(("https://", server.url)) for link in seen["links"]), seen["links"]
        assert "49" not in page.inner_text("#searched-q")
    finally:
        ctx.close()
    assert problems == [], problems  # a blocked inline script would show here as a CSP error


def test_the_api_answers_scripts_as_json_never_as_a_page(http):
    for payload in QUERY_PAYLOADS[:3]:
        resp = http.get("/api/search", params={"q": payload})
        count("inputs.xss_api")
        assert resp.headers["content-type"].startswith("application/json")
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.json()["query"] == payload


def test_the_hostile_centre_is_a_valid_corpus_record(tmp_path):
    from search.corpus import load_corpus
    (tmp_path / "c.toml").write_text(xss_centre(), encoding="utf-8")
    corpus = load_corpus([tmp_path])
    assert corpus.centres["centre-xss"].name.startswith("Centre quokkaxss <script>")


# --- static files: no way out of the static directory --------------------------------------------------

TRAVERSALS = [
    "/static/../app.py", "/static/../../engine.py", "/static/../../../../../../etc/passwd",
    "/static/%2e%2e/app.py", "/static/%2e%2e/%2e%2e/engine.py", "/static/%2e%2e%2fapp.py", "/static/..%2fapp.py",
    "/static/..%2f..%2fengine.py", "/static/..%252fapp.py", "/static/%252e%252e/app.py", "/static/....//app.py",
    "/static/..\\app.py", "/static/%5c..%5capp.py", "/static/..%5c..%5cengine.py", "/static//etc/passwd",
    "/static/%2fetc%2fpasswd", "/static/..%00/app.py", "/static/app.css%00.py", "/static/%c0%ae%c0%ae/app.py",
    "/static/%e0%80%ae%e0%80%ae/app.py", "/static/./../templates/index.html", "/static/.%2e/templates/index.html",
    "/static/app.css/../../app.py", "/static/../static/../app.py", "/static/%2e%2e/%2e%2e/%2e%2e/etc/shadow",
    "/static/~/.bashrc", "/static/..;/app.py", "//etc/passwd", "/..%2f..%2fetc%2fpasswd", "/static/../openapi.py",
]
OUTSIDE = [b"root:x:0:", b"def create_app", b"import ", b"{% for", b"from __future__", b"[centre]"]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_on_static_files_is_refused(server, target):
    status, headers, body = raw_http(server.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Connection: close\r\n\r\n".encode("latin-1"))
    count("inputs.traversal")
    assert status in (400, 404), (target, status)
    assert not any(marker in body for marker in OUTSIDE), (target, body[:200])


def test_static_files_are_served_from_their_directory_only(http):
    assert http.get("/static/app.css").status_code == 200
    assert http.get("/static/app.js").status_code == 200
    assert http.get("/static/").status_code == 404  # no directory listing


def _raw_post(port: int, path: str, head: str, body: bytes = b"") -> tuple[int, dict, bytes]:
    return raw_http(port, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{head}\r\n"
                    .encode("latin-1") + body)


# --- the operator token ---------------------------------------------------------------------------------

RECORDS = {"records": [{"id": "1", "text": "cancer du sein, deuxième avis"}]}
WRONG = [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Bearer x{TOKEN}",
         f"Bearer {TOKEN.upper()}", f"Basic {base64.b64encode(f'operator:{TOKEN}'.encode()).decode()}",
         f"Basic {TOKEN}", f"Token {TOKEN}", f"Bearer{TOKEN}", f"{TOKEN}", f"Bearer {TOKEN}\u00e9"[:-1] + "\u00e9",
         "Bearer null", "Bearer undefined", "Bearer *", f"Bearer {TOKEN[:8]}"]


def _triage_with(port: int, authorization: str | None) -> tuple[int, dict, bytes]:
    """POST /api/triage with exactly this Authorization header (sent raw: httpx would refuse
    some of these values)."""
    body = json.dumps(RECORDS).encode()
    head = "" if authorization is None else f"Authorization: {authorization}\r\n"
    return _raw_post(port, "/api/triage", f"{head}Content-Type: application/json\r\nContent-Length: {len(body)}\r\n",
                     body)


@pytest.mark.parametrize("authorization", WRONG, ids=[f"wrong-{i}" for i in range(len(WRONG))])
def test_triage_without_or_with_a_wrong_token_is_refused(server, authorization):
    status, headers, body = _triage_with(server.port, authorization)
    count("inputs.token")
    assert status == 401, body[:300]
    assert json.loads(body)["error"]["code"] == "unauthorized"
    assert headers["www-authenticate"].startswith("Bearer")
    assert TOKEN.encode() not in body


def test_the_token_elsewhere_than_the_header_is_refused(http):
    assert http.post("/api/triage", params={"token": TOKEN}, json=RECORDS).status_code in (400, 401)
    assert http.post("/api/triage", json={**RECORDS, "token": TOKEN}).status_code == 401
    assert http.post("/api/triage", json=RECORDS, headers={"Cookie": f"token={TOKEN}"}).status_code == 401
    for header in ("X-Api-Key", "X-Token", "Proxy-Authorization"):
        assert http.post("/api/triage", json=RECORDS, headers={header: f"Bearer {TOKEN}"}).status_code == 401


def test_the_right_token_is_accepted(server):
    for value in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer  {TOKEN} "):
        status, _, body = _triage_with(server.port, value)
        assert status == 200, (value, body[:300])


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)
       | st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40).map(
           lambda t: f"Bearer {t}") | st.sampled_from([TOKEN, TOKEN[1:], TOKEN + "\t", f"Bearer\t{TOKEN}x"]))
def test_no_made_up_authorization_gets_in(server, value):
    scheme, _, given_token = value.strip().partition(" ")
    if scheme.lower() == "bearer" and given_token.strip() == TOKEN:
        return
    count("inputs.token")
    status, _, body = _triage_with(server.port, value)
    assert status in (400, 401), (value, status, body[:200])  # 400: the HTTP parser refused the header


# --- oversized bodies -------------------------------------------------------------------------------------

def test_oversized_bodies_are_refused_with_413(http, server):
    big = json.dumps({"queries": ["x" * (MAX_BODY + 10)]}).encode()
    big_records = json.dumps({"records": [{"id": "1", "text": "x" * (MAX_BODY + 10)}]}).encode()
    json_type = {"content-type": "application/json"}
    answers = {
        "batch": http.post("/api/search/batch", content=big, headers=json_type),
        "triage": http.post("/api/triage", content=big_records, headers={**json_type, **AUTH}),
        "batch chunked": http.post("/api/search/batch", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                                   headers=json_type),
        "triage chunked": http.post("/api/triage", content=iter([big_records[:MAX_BODY // 2],
                                                                 big_records[MAX_BODY // 2:]]),
                                    headers={**json_type, **AUTH}),
    }
    count("inputs.oversized", len(answers) + 3)
    for name, resp in answers.items():
        assert resp.status_code == 413, (name, resp.status_code, resp.text[:200])
        assert resp.json()["error"]["code"] == "body_too_large", name
    # a length announced, not sent: refused on the header alone, without waiting for the body
    status, headers, body = _raw_post(server.port, "/api/search/batch",
                                      "Content-Type: application/json\r\nContent-Length: 1000000000000\r\n")
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    status, _, _ = _raw_post(server.port, "/api/triage", f"Authorization: Bearer {TOKEN}\r\n"
                             "Content-Type: application/json\r\nContent-Length: 300000\r\n")
    assert status == 413
    # without the token, an oversized triage body is refused before it is read
    status, _, _ = _raw_post(server.port, "/api/triage", "Content-Type: application/json\r\nContent-Length: 300000\r\n")
    assert status == 401
    # and the server is still there
    assert http.get("/healthz").status_code == 200


def test_hostile_bodies_under_the_limit_are_4xx(http):
    json_type = {"content-type": "application/json"}
    bodies = [b"[" * 100_000 + b"]" * 100_000, b'{"queries": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
              b"\xff\xfe{}", b'{"queries": ["\xc3\x28"]}', b"{" * 1000, b'{"queries": "' + b"\\u0000" * 10000 + b'"}',
              json.dumps({"queries": [{"q": "x"}] * 101}).encode(), b"null", b"1e999999", b'"' + b"a" * 200_000 + b'"']
    for body in bodies:
        for path, headers in (("/api/search/batch", json_type), ("/api/triage", {**json_type, **AUTH})):
            resp = http.post(path, content=body, headers=headers)
            count("inputs.oversized")
            assert 400 <= resp.status_code < 500, (path, body[:40], resp.status_code)
            assert resp.json()["error"]["status"] == resp.status_code


def test_huge_heads_are_refused_and_the_server_stays_up(server, http):
    for request in (f"GET /api/search?q={'a' * 300_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                    b"GET /api/search?q=x HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 200_000 + b"\r\n\r\n",
                    b"GET /api/search?q=x HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
                    + b"\r\n"):
        try:
            status, _, _ = raw_http(server.port, request, timeout=30)
        except (ConnectionError, OSError):
            status = 0  # the server hung up: also a refusal
        count("inputs.oversized")
        assert status < 500, status  # refused, or answered when it fits uvicorn's read (no 5xx either way)
    assert http.get("/healthz").status_code == 200


# --- security headers ------------------------------------------------------------------------------------

def test_security_headers_on_every_kind_of_answer(http, server):
    answers = {
        "page": http.get("/", params={"q": "cancer du sein"}),
        "page 400": http.get("/", params={"q": "x" * 1001}),
        "api": http.get("/api/search", params={"q": "C50"}),
        "api 400": http.get("/api/search"),
        "batch 422": http.post("/api/search/batch", json={"nope": 1}),
        "triage 401": http.post("/api/triage", json=RECORDS),
        "triage 200": http.post("/api/triage", json=RECORDS, headers=AUTH),
        "concept 404": http.get("/api/concepts/ZZZ"),
        "static": http.get("/static/app.css"),
        "static 404": http.get("/static/nope.js"),
        "openapi": http.get("/openapi.json"),
        "health": http.get("/healthz"),
        "405": http.delete("/api/search"),
        "404": http.get("/nope"),
        "413": http.post("/api/search/batch", content=b"x" * (MAX_BODY + 1), headers={"content-type": "application/json"}),
    }
    count("inputs.headers", len(answers))
    for name, resp in answers.items():
        for header, value in HEADERS.items():
            assert resp.headers.get(header) == value, (name, header, resp.headers.get(header))
        assert "server" not in resp.headers, name  # no software banner
        if not name.startswith("static") or name == "static 404":
            assert resp.headers.get("cache-control") == "no-store", (name, resp.headers.get("cache-control"))
    assert answers["page"].headers["content-type"] == "text/html; charset=utf-8"
    assert answers["api"].headers["content-type"] == "application/json"
