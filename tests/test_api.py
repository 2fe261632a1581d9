"""The HTTP API over a real running server (``python -m search serve`` in a subprocess), plus a few
in-process checks of failures a real server can't be made to produce on demand (a 500)."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import httpx
import pytest

from search.server.testing import start_server

TOKEN = "test-operator-token-7f3c"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECRET_QUERY = "zebrafish-carcinoma-4471 cancer du sein"


@pytest.fixture(scope="module")
def server(bundled_index: Path, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    srv = start_server(bundled_index, env={"CAREMATCH_TRIAGE_TOKEN": TOKEN, "CAREMATCH_LOG_QUERIES": None},
                       log_path=log)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    """The one error shape: {"error": {"code", "message", "status"}}, JSON, security headers."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == {"code", "message", "status"}
    assert err["status"] == status
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["code"], str) and err["code"].replace("_", "").isalpha()
    if code:
        assert err["code"] == code
    assert_security_headers(resp)
    return err


def assert_security_headers(resp: httpx.Response) -> None:
    assert resp.headers["content-security-policy"] == CSP
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"


# --- health and description -------------------------------------------------------------------

def test_healthz_reports_the_served_snapshot(client, bundled_index):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.json()
    manifest = json.loads((bundled_index.parent / bundled_index.readlink() / "manifest.json").read_text())
    assert body["status"] == "ok"
    assert body["index"]["digest"] == manifest["digest"]
    assert body["index"]["counts"]["offers"] == manifest["counts"]["offers"] > 0
    assert_security_headers(resp)
    assert_error(client.post("/healthz"), 405, "method_not_allowed")
    assert_error(client.get("/healthz", params={"x": "1"}), 400, "bad_request")


def test_openapi_describes_every_route(client, server):
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/", "/healthz", "/openapi.json", "/api/search", "/api/search/batch",
                                 "/api/concepts/{code}", "/api/triage", "/static/{path}"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            # every error response is the shared Error schema (the page's own 400 is HTML)
            for status, r in op["responses"].items():
                if int(status) >= 400 and path != "/":
                    assert r["$ref"].startswith("#/components/responses/"), (path, method, status)
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "status"]
    for ref in doc["components"]["responses"].values():
        assert ref["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    names = [p["name"] for p in doc["paths"]["/api/search"]["get"]["parameters"]]
    assert names == ["q", "lang", "country", "service", "age_group", "limit"]
    # every $ref resolves
    text = json.dumps(doc)
    for schema in {s.split('"')[0] for s in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert schema in doc["components"]["schemas"], schema
    assert_error(client.delete("/openapi.json"), 405)


TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def violations(value, schema: dict, doc: dict, where: str = "$") -> list[str]:
    """The JSON Schema keywords the OpenAPI document uses, checked by hand (no validator library)."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        section = "responses" if "/responses/" in schema["$ref"] else "schemas"
        return violations(value, doc["components"][section][name], doc, where)
    if "anyOf" in schema:
        options = [violations(value, s, doc, where) for s in schema["anyOf"]]
        return [] if any(not o for o in options) else [f"{where}: matches no anyOf option: {options}"]
    out = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any((t == "integer" and isinstance(value, int) and not isinstance(value, bool))
                 or (t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool))
                 or (t in TYPES and isinstance(value, TYPES[t]) and not (t != "boolean" and isinstance(value, bool)))
                 for t in types)
        if not ok:
            return [f"{where}: {value!r} is not {types}"]
    if "const" in schema and value != schema["const"]:
        out.append(f"{where}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        out += [f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                out += violations(v, props[k], doc, f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{where}: unexpected {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += violations(v, schema["additionalProperties"], doc, f"{where}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += violations(item, schema["items"], doc, f"{where}[{i}]")
    return out


def test_responses_conform_to_the_openapi_document(client):
    doc = client.get("/openapi.json").json()

    def check(resp, path, method="get"):
        spec = doc["paths"][path][method]["responses"][str(resp.status_code)]
        if "$ref" in spec:
            spec = doc["components"]["responses"][spec["$ref"].split("/")[-1]]
        schema = spec["content"]["application/json"]["schema"]
        assert violations(resp.json(), schema, doc) == [], (path, resp.status_code)

    for q in ("cáncer de mama segunda opinión", "乳腺癌", "leucémie enfant", "C34.1", "xyzzy", "Hodgkin"):
        check(client.get("/api/search", params={"q": q}), "/api/search")
    check(client.get("/api/search", params={"q": "cancer", "service": "training", "age_group": "pediatric",
                                            "country": "MA", "limit": 50}), "/api/search")
    check(client.get("/api/search", params={"q": ""}), "/api/search")
    check(client.post("/api/search/batch", json={"queries": ["C50", {"q": " "}, {"q": "sarcoma", "limit": 1}]}),
          "/api/search/batch", "post")
    check(client.post("/api/search/batch", json={"queries": ["x"] * 101}), "/api/search/batch", "post")
    check(client.post("/api/search/batch", json={"queries": [2]}), "/api/search/batch", "post")
    check(client.get("/api/concepts/C50", params={"lang": "fr"}), "/api/concepts/{code}")
    check(client.get("/api/concepts/C91-C95"), "/api/concepts/{code}")
    check(client.get("/api/concepts/nothing"), "/api/concepts/{code}")
    check(client.get("/healthz"), "/healthz")
    check(client.post("/api/triage", json={"records": [{"text": "x"}]}), "/api/triage", "post")


# --- search -----------------------------------------------------------------------------------

def test_search_returns_the_output_object(client):
    resp = client.get("/api/search", params={"q": "cáncer de mama segunda opinión", "limit": 3})
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert_security_headers(resp)
    out = resp.json()
    assert out["query"] == "cáncer de mama segunda opinión"
    assert out["language"]["code"] == "es"
    assert [c["id"] for c in out["concepts"]][:1] == ["C50"]
    assert out["intent"]["service"] == "second_opinion"
    assert 1 <= len(out["results"]) <= 3
    for r in out["results"]:
        assert {"offer_id", "service", "title", "centre", "concepts", "languages", "score", "why"} <= set(r)
        assert r["why"] and all(w["text"] for w in r["why"])
    assert isinstance(out["took_ms"], float)


def test_search_passes_filters_to_the_engine(client):
    out = client.get("/api/search", params={"q": "leucemia", "age_group": "pediatric", "service": "treatment",
                                            "country": "MA", "lang": "es"}).json()
    assert out["intent"]["age_group"] == "pediatric"
    assert out["intent"]["service"] == "treatment"
    assert out["intent"]["country"] == "MA"
    assert out["language"]["code"] == "es" and out["language"]["source"] == "declared"


@pytest.mark.parametrize("params, fragment", [
    ({}, "q: required"),
    ({"q": "cancer", "limit": "abc"}, "limit"),
    ({"q": "cancer", "limit": "0"}, "limit"),
    ({"q": "cancer", "limit": "51"}, "limit"),
    ({"q": "cancer", "limit": "-3"}, "limit"),
    ({"q": "cancer", "servce": "treatment"}, "unknown parameter 'servce'"),
    ({"q": "cancer", "service": "massage"}, "service"),
    ({"q": "cancer", "age_group": "teen"}, "age_group"),
    ({"q": "cancer", "country": "Atlantis"}, "country"),
    ({"q": "cancer", "lang": "klingon-xx-yy"}, "language"),
    ({"q": "   "}, "empty"),
    ({"q": "x" * 1001}, "1000"),
])
def test_search_rejects_bad_requests_with_what_was_wrong(client, params, fragment):
    err = assert_error(client.get("/api/search", params=params), 400)
    assert fragment in err["message"]


def test_search_limits(client):
    assert client.get("/api/search", params={"q": "é" * 1000}).status_code in (200, 400)
    err = assert_error(client.get("/api/search", params={"q": "乳" * 1001}), 400, "bad_query")
    assert "乳" not in err["message"]  # the message says what was wrong, it does not echo the text
    assert_error(client.get("/api/search?q=a&q=b"), 400, "bad_request")
    assert_error(client.post("/api/search", json={"q": "cancer"}), 405, "method_not_allowed")
    assert set(client.post("/api/search").headers["allow"].split(", ")) == {"GET", "HEAD"}


# --- batch ------------------------------------------------------------------------------------

def test_batch_answers_in_order_with_per_query_errors(client):
    queries = ["cancer du sein", {"q": "Lungenkrebs", "limit": 2}, {"q": "  "},
               {"q": "sarcoma", "service": "second_opinion", "lang": None}]
    resp = client.post("/api/search/batch", json={"queries": queries})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["count"] == 4 and len(body["results"]) == 4
    first, second, bad, fourth = body["results"]
    assert first["query"] == "cancer du sein" and first["concepts"][0]["id"] == "C50"
    assert second["query"] == "Lungenkrebs" and len(second["results"]) <= 2
    assert bad["query"] == "  " and bad["error"]["code"] == "bad_query" and bad["error"]["status"] == 400
    assert fourth["intent"]["service"] == "second_opinion"
    single = client.get("/api/search", params={"q": "cancer du sein"}).json()
    assert [r["offer_id"] for r in first["results"]] == [r["offer_id"] for r in single["results"]]


def test_batch_limits_and_shapes(client):
    assert_error(client.post("/api/search/batch", json={"queries": ["cancer"] * 101}), 413, "batch_too_large")
    big = json.dumps({"queries": ["x" * 900] * 100}) + " " * (256 * 1024)
    assert_error(client.post("/api/search/batch", content=big, headers={"content-type": "application/json"}),
                 413, "body_too_large")
    assert_error(client.post("/api/search/batch", content=b"{not json", headers={"content-type": "application/json"}),
                 400, "bad_request")
    assert_error(client.post("/api/search/batch", content=b""), 400, "bad_request")
    assert_error(client.post("/api/search/batch", content=b"[" * 100_000), 400, "bad_request")
    assert_error(client.post("/api/search/batch", content=b"\xff\xfe\x00"), 400, "bad_request")
    for body in ([], {"queries": "cancer"}, {"queries": []}, {"queries": [1]}, {"queries": [{"text": "x"}]},
                 {"queries": [{"q": 3}]}, {"queries": [{"q": "x", "limit": "5"}]}, {"queries": ["x"], "extra": 1},
                 {"queries": [{"q": "x", "limit": True}]}):
        assert_error(client.post("/api/search/batch", json=body), 422, "invalid_body")
    err = assert_error(client.post("/api/search/batch", json={"queries": [{"q": "x", "limit": 99}]}), 400)
    assert "limit" in err["message"]
    assert_error(client.get("/api/search/batch"), 405, "method_not_allowed")


def test_chunked_body_over_the_limit_is_refused(server):
    """No Content-Length: the server counts what arrives and stops at 256 KiB."""
    def chunks():
        yield b'{"queries": ["'
        for _ in range(40):
            yield b"x" * 8192
        yield b'"]}'
    with httpx.Client(base_url=server.url, timeout=30) as c:
        assert_error(c.post("/api/search/batch", content=chunks()), 413, "body_too_large")


# --- concepts ---------------------------------------------------------------------------------

def test_concepts(client):
    resp = client.get("/api/concepts/C50", params={"lang": "de"})
    assert resp.status_code == 200, resp.text
    info = resp.json()
    assert info["id"] == "C50" and "C50" in info["icd10"]
    assert info["label"]
    err = assert_error(client.get("/api/concepts/Q99.99X"), 404, "not_found")
    assert "Q99.99X" in err["message"]
    assert_error(client.get("/api/concepts/C50", params={"lang": "not a language!"}), 400)
    assert_error(client.get("/api/concepts/C50", params={"foo": "1"}), 400)
    assert_error(client.get("/api/concepts/" + "C" * 300), 404)
    assert_error(client.put("/api/concepts/C50"), 405)


# --- triage -----------------------------------------------------------------------------------

def test_triage_needs_the_operator_token(client):
    records = {"records": [{"id": "1", "text": "cancer du sein, deuxième avis"}]}
    err = assert_error(client.post("/api/triage", json=records), 401, "unauthorized")
    assert "Bearer" in err["message"]
    resp = client.post("/api/triage", json=records, headers={"Authorization": "Bearer wrong"})
    assert_error(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert_error(client.post("/api/triage", json=records, headers={"Authorization": f"Basic {TOKEN}"}), 401)
    assert_error(client.post("/api/triage", json=records, headers={"Authorization": "Bearer " + TOKEN[:-1]}), 401)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert_error(client.post("/api/triage", json={"records": [1]}, headers=auth), 422)
    assert_error(client.post("/api/triage", json={"records": [{}] * 101}, headers=auth), 413)
    assert_error(client.post("/api/triage", content=b"{", headers=auth), 400)
    assert_error(client.get("/api/triage", headers=auth), 405)


def test_triage_with_the_token_routes_records(client):
    records = [{"id": "a", "text": "cáncer de mama, segunda opinión", "lang": "es"},
               {"id": "b", "text": "Lungenkrebs Behandlung"}]
    resp = client.post("/api/triage", json={"records": records}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["count"] == 2 and len(body["results"]) == 2
    assert all(isinstance(r, dict) for r in body["results"])


def test_triage_is_off_without_a_token(bundled_index, tmp_path):
    with start_server(bundled_index, env={"CAREMATCH_TRIAGE_TOKEN": None}, log_path=tmp_path / "s.log") as srv:
        resp = httpx.post(srv.url + "/api/triage", json={"records": [{"text": "x"}]},
                          headers={"Authorization": "Bearer anything"})
        assert_error(resp, 404, "not_found")
        assert httpx.get(srv.url + "/healthz").status_code == 200


def test_two_workers_answer_without_the_nagle_delay(bundled_index, tmp_path):
    """With 2 workers uvicorn's own listening socket left Nagle's algorithm on: every keep-alive
    answer waited ~40 ms for a delayed ACK. The server sets TCP_NODELAY on each connection."""
    import statistics
    import time
    with start_server(bundled_index, workers=2, env={"CAREMATCH_TRIAGE_TOKEN": None},
                      log_path=tmp_path / "s.log") as srv:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            c.get("/api/search", params={"q": "cancer du sein"})
            times = []
            for _ in range(30):
                t0 = time.perf_counter()
                assert c.get("/api/search", params={"q": "cancer du sein"}).status_code == 200
                times.append(time.perf_counter() - t0)
        assert statistics.median(times) < 0.030, times
        assert srv.log_text().count("Application startup complete.") == 2


# --- page, static files, unknown routes -------------------------------------------------------

def test_page_is_served_and_escapes_the_query(client):
    resp = client.get("/", params={"q": "<script>alert(1)</script> cancer du sein", "ui": "fr"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert_security_headers(resp)
    html = resp.text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<html lang="fr" dir="ltr">' in html
    assert 'class="card"' in html
    assert "<script>" not in html.replace('<script src="/static/app.js', "")  # no inline script at all
    assert " style=" not in html  # the CSP has no 'unsafe-inline' for styles either


def test_page_language_from_switcher_and_accept_language(client):
    assert '<html lang="ar" dir="rtl">' in client.get("/", params={"ui": "ar"}).text
    assert '<html lang="he" dir="rtl">' in client.get("/", params={"ui": "he"}).text
    assert '<html lang="fa" dir="rtl">' in client.get("/", params={"ui": "fa"}).text
    resp = client.get("/", headers={"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"})
    assert '<html lang="de" dir="ltr">' in resp.text and "Zweitmeinung" in resp.text
    assert resp.headers["vary"] == "Accept-Language"
    assert '<html lang="en"' in client.get("/", headers={"Accept-Language": "xx, ;;;"}).text
    assert '<html lang="pt"' in client.get("/", params={"ui": "pt-BR"}).text
    assert '<html lang="en"' in client.get("/", params={"ui": "../../etc"}).text


def test_page_shows_a_bad_search_in_the_page(client):
    resp = client.get("/", params={"q": "x" * 1001, "ui": "es"})
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("text/html")
    assert "demasiado largo" in resp.text and 'role="alert"' in resp.text
    resp = client.get("/", params={"q": "cancer", "service": "spa"})
    assert resp.status_code == 400 and 'role="alert"' in resp.text
    assert_error(client.post("/"), 405)


def test_static_files_and_no_path_traversal(client, server):
    css = client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert_security_headers(css)
    assert "max-age" in css.headers["cache-control"]
    assert client.get("/static/app.js").status_code == 200
    assert_error(client.get("/static/nope.css"), 404, "not_found")
    assert_error(client.get("/static/%2e%2e/app.py"), 404)
    assert_error(client.get("/static/..%2f..%2fengine.py"), 404)
    # a raw request line, as no well-behaved client would send it
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /static/../../engine.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] in (b"404", b"400"), head
    assert b"Engine" not in body


def test_unknown_routes_and_methods(client):
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/api"), 404)
    assert_error(client.get("/api/search/batch/x"), 404)
    assert_error(client.request("PATCH", "/api/search/batch"), 405)
    assert_error(client.request("OPTIONS", "/api/search"), 405)


# --- health data: logs ------------------------------------------------------------------------

def test_no_query_text_in_the_logs(client, server):
    client.get("/api/search", params={"q": SECRET_QUERY})
    client.post("/api/search/batch", json={"queries": [SECRET_QUERY]})
    client.get("/", params={"q": SECRET_QUERY})
    client.get("/api/concepts/C34.1")
    log = server.log_text()
    assert "zebrafish" not in log and "4471" not in log
    assert "C34.1" not in log  # the concept asked for is health data too: the route template is logged
    assert "GET /api/search 200" in log
    assert "POST /api/search/batch 200" in log
    assert "GET /api/concepts/{code} 200" in log
    assert "uvicorn.access" not in log and '"GET /api/search?' not in log


# --- in process: what a real server can't be made to do on demand -----------------------------

class ExplodingEngine:
    digest = "0" * 64
    manifest = {"digest": "0" * 64, "counts": {}, "built_at": None}

    def search(self, text, **kwargs):
        raise RuntimeError(f"kaboom while reading {text!r} at /secret/path/engine.py")

    def concept_info(self, code, lang=None):
        raise KeyError(code)


def in_process(app, requests: list[tuple[str, str, dict]]) -> list[httpx.Response]:
    """Run the app's lifespan and send requests straight to it (no network)."""
    async def go():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                return [await c.request(method, url, **kw) for method, url, kw in requests]
    return asyncio.run(go())


def test_internal_errors_say_nothing_of_internals(caplog):
    from search.server import create_app
    app = create_app(engine=ExplodingEngine(), log_queries=False, triage_token="")
    caplog.set_level(logging.INFO, logger="carematch")
    search, concept, batch = in_process(app, [
        ("GET", "/api/search", {"params": {"q": "my private diagnosis"}}),
        ("GET", "/api/concepts/C50", {}),
        ("POST", "/api/search/batch", {"json": {"queries": ["my private diagnosis"]}}),
    ])
    for resp in (search, concept, batch):
        err = assert_error(resp, 500, "internal_error")
        assert err["message"]
        assert "kaboom" not in resp.text and "secret" not in resp.text and "private" not in resp.text
        assert "Traceback" not in resp.text
    logged = caplog.text
    assert "RuntimeError" in logged and "KeyError" in logged and " 500 " in logged
    assert "private" not in logged and "kaboom" not in logged


def test_log_queries_flag_is_an_explicit_opt_in(caplog, engine):
    from search.server import create_app
    caplog.set_level(logging.INFO, logger="carematch")
    request = [("GET", "/api/search", {"params": {"q": "Lungenkrebs 9917"}})]
    assert in_process(create_app(engine=engine, log_queries=True, triage_token=""), request)[0].status_code == 200
    assert "9917" in caplog.text
    caplog.clear()
    assert in_process(create_app(engine=engine, log_queries=False, triage_token=""), request)[0].status_code == 200
    assert "9917" not in caplog.text and "GET /api/search 200" in caplog.text


def test_encoded_answers_match_plain_json_and_never_go_stale():
    from search.server.app import EncodedAnswers, _dumps
    cached = {"language": {"code": "fr"}, "concepts": [{"id": "C50"}], "results": [{"offer_id": "a", "score": 0.5}],
              "total": 1}
    enc = EncodedAnswers(size=2)
    for took in (1.25, 0.5):  # the engine's cache hit: a shallow copy with a new query and time
        out = {"query": "cancer du sein", **cached, "took_ms": took}
        body = enc.encode(out)
        assert json.loads(body) == out and list(json.loads(body)) == list(out)
        assert body == _dumps(out)
    other = {"query": "cancer du sein", **{**cached, "results": [{"offer_id": "b", "score": 0.1}]}, "took_ms": 2.0}
    assert json.loads(enc.encode(other))["results"][0]["offer_id"] == "b"  # new objects: encoded anew
    for i in range(5):
        fresh = {"query": f"q{i}", "language": {"code": None}, "concepts": [], "results": [], "total": i,
                 "took_ms": 0.1}
        assert json.loads(enc.encode(fresh)) == fresh
    assert len(enc.entries) == 2
    assert json.loads(enc.encode({"query": "only"})) == {"query": "only"}


def test_text_that_is_not_unicode_comes_back_escaped(client):
    """A JSON body may carry a lone surrogate (\\ud800); the answer echoes it as JSON escapes."""
    body = b'{"queries": ["cancer du sein \\ud800", {"q": "\\udfff"}]}'
    resp = client.post("/api/search/batch", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    first, second = resp.json()["results"]
    assert first["query"] == "cancer du sein \ud800"
    assert second["query"] == "\udfff" and second["error"]["status"] == 400
