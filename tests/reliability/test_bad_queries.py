"""Item 1, bad queries: Hypothesis-made hostile text through the engine, the CLI (in process and a
real process) and the HTTP API. Always an answer or a clear 4xx-class refusal, in bounded time;
never an unhandled error, a crash or a 500."""
from __future__ import annotations

import json
import math
import subprocess
import time
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from reliability._support import PY, ROOT, LineProcess, child_env, count, hostile_text, raw_http
from search import cli
from search.errors import UsageError

pytestmark = pytest.mark.reliability

ENGINE_SECONDS = 1.0  # the engine's own bound for one query; its p99 budget is 15 ms
HTTP_SECONDS = 5.0
MAX_QUERY = 1000  # characters: longer is refused everywhere (DESIGN.md: every input has a size limit)
# what a caller may pass beside the text: valid values, and hostile ones
LANGS = st.none() | st.sampled_from(["fr", "es", "zh", "pt-BR", "zh-Hant", "ar", "EN", "xx", "", "../..", "\x00",
                                     "fr" * 300, "\u202efr"])
COUNTRIES = st.none() | st.sampled_from(["MA", "dz", "Maroc", "Deutschland", "中国", "ZZ", "", "\x00", "M" * 5000])
SERVICES = st.none() | st.sampled_from(["treatment", "second_opinion", "teleconsultation", "spa", "", "\u200b"])
AGES = st.none() | st.sampled_from(["adult", "pediatric", "child", ""])
LIMITS = st.sampled_from([1, 3, 10, 50, 0, -1, 51, 10**9])

# always tried, whatever Hypothesis draws: the classics of each kind
CLASSICS = ["\ud800", "cancer \udc00 du sein", "\x00", "\x00" * 50, "\u202e\u202e\u202e", "\u200d" * 20,
            "e\u0301" * 400, "\U0001f468\u200d\U0001f469\u200d\U0001f467" * 30, "a" * 10_000, "!?.,;:" * 20,
            "\u0663\u0664\u0665 0123456789", "cancer \u4e73\u817a\u764c \u0633\u0631\u0637\u0627\u0646 \u0440\u0430\u043a",
            "", " ", "\n", "\r\n\t", "\ufeff", "\U0010ffff"]


def with_classics(surrogates: bool = True, **fixed):
    """Add each classic as an explicit example (with ``fixed`` for the other arguments)."""
    def decorate(test):
        for q in CLASSICS:
            if surrogates or not any(0xD800 <= ord(c) <= 0xDFFF for c in q):
                test = example(q=q, **fixed)(test)
        return test
    return decorate


def check_answer(out: dict, q: str) -> None:
    """The output contract (DESIGN.md) holds whatever the text."""
    assert out["query"] == q
    assert set(out) >= {"query", "language", "concepts", "intent", "results", "took_ms", "index"}
    assert isinstance(out["results"], list) and isinstance(out["concepts"], list)
    for r in out["results"]:
        assert isinstance(r["offer_id"], str) and r["offer_id"]
        assert math.isfinite(r["score"])
    json.dumps(out, allow_nan=False)  # serialisable as it is, no NaN or infinity


# --- the engine -----------------------------------------------------------------------------------

@with_classics(lang=None, country=None, service=None, age=None, limit=10)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=hostile_text(surrogates=True), lang=LANGS, country=COUNTRIES, service=SERVICES, age=AGES, limit=LIMITS)
def test_engine_answers_any_text_or_refuses_it_clearly(engine, q, lang, country, service, age, limit):
    count("inputs.engine")
    t0 = time.perf_counter()
    try:
        out = engine.search(q, lang=lang, country=country, service=service, age_group=age, limit=limit)
    except UsageError as e:  # QueryError is one: the HTTP API answers it with a 400
        assert e.http_status == 400 and e.code in ("bad_query", "bad_request")
        assert e.message.strip() and "Traceback" not in e.message
    else:
        assert len(q) <= MAX_QUERY, f"a {len(q)}-character query was not refused"
        check_answer(out, q)
        assert len(out["results"]) <= limit
    assert time.perf_counter() - t0 < ENGINE_SECONDS, f"{time.perf_counter() - t0:.2f} s for {q[:80]!r}"


# --- the CLI: in process (many inputs) and a real process -----------------------------------------

@with_classics(surrogates=False, fmt="json", dashdash=True)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=hostile_text(surrogates=False), fmt=st.sampled_from(["text", "json", "jsonl"]),
       dashdash=st.booleans())
def test_cli_search_answers_or_exits_2_with_a_message(engine, monkeypatch, capsys, q, fmt, dashdash):
    count("inputs.cli")
    monkeypatch.setattr(cli, "_engine", lambda args: engine)
    capsys.readouterr()
    argv = ["search", "--format", fmt] + (["--", q] if dashdash else [q])
    try:
        rc = cli.main(argv)
    except SystemExit as e:  # argparse: a query that looks like an option, without "--"
        rc = e.code
        assert not dashdash and q.lstrip().startswith("-")
    out, err = capsys.readouterr()
    assert rc in (0, 2), (rc, err)
    assert "Traceback" not in err
    assert rc == 2 or len(q) <= MAX_QUERY, f"a {len(q)}-character query was not refused"
    if rc == 2:
        assert err.strip() and "error" in err
        return
    if fmt == "json":
        check_answer(json.loads(out), q)
    elif fmt == "jsonl":
        lines = out.splitlines()
        assert len(lines) == 1
        check_answer(json.loads(lines[0]), q)
    else:
        assert out.startswith("query: ") and "took " in out


@pytest.fixture(scope="module")
def batch_process(bundled_index):
    """One real ``carematch search --batch -`` kept running; restarted if it dies (which fails the
    example that killed it)."""
    args = ["search", "--batch", "-", "--format", "jsonl", "--index", str(bundled_index)]
    holder = {"proc": LineProcess(args), "args": args}
    yield holder
    proc = holder["proc"]
    rc = proc.close()
    assert rc == 0 and b"Traceback" not in proc.stderr, proc.stderr.decode("utf-8", "replace")[-2000:]


# no shrinking: each failure costs a process restart; the failing line is printed as it was
@with_classics(as_json=True, limit=None)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(q=hostile_text(surrogates=True), as_json=st.booleans(), limit=st.none() | LIMITS)
def test_cli_batch_process_answers_every_line_in_order(batch_process, q, as_json, limit):
    """A real process reading hostile lines one by one: one JSON line out for each line in."""
    count("inputs.cli_process")
    proc: LineProcess = batch_process["proc"]
    if proc.proc.poll() is not None:
        batch_process["proc"] = proc = LineProcess(batch_process["args"])
    raw_ok = not as_json and "\n" not in q and "\r" not in q and not any(0xD800 <= ord(c) <= 0xDFFF for c in q) \
        and not q.strip().startswith("{") and limit is None
    if raw_ok:
        line = q.encode("utf-8") + b"\n"
    else:
        obj = {"q": q} if limit is None else {"q": q, "limit": limit}
        line = json.dumps(obj).encode("ascii") + b"\n"  # ASCII escapes: NUL, line breaks, surrogates travel
    t0 = time.perf_counter()
    answer = proc.ask(line, timeout=30)
    stderr = proc.stderr.decode("utf-8", "replace")[-1500:]
    assert answer is not None, f"the batch process died on {q[:80]!r}:\n{stderr}"
    assert time.perf_counter() - t0 < HTTP_SECONDS
    out = json.loads(answer)
    if "error" in out:
        assert out["error"]["code"] in ("bad_query", "bad_request") and out["error"]["message"]
        assert out["query"] == q
    else:
        assert len(q) <= MAX_QUERY, f"a {len(q)}-character query was not refused"
        check_answer(out, q)


def test_cli_real_process_with_hostile_arguments(bundled_index):
    """What a shell passes: a real ``carematch search`` per argument list, bounded in time."""
    cases = [
        (["--format", "json", "--", "\u202e\u0633\u0631\u0637\u0627\u0646 \U0001f468\u200d\U0001f469\u200d\U0001f467 "
          "ca\u0301ncer\u0308\u0308\u0308 \u4e73\u817a\u764c \x1b[31m C50.9 \u200d\u200c"], 0),
        (["--format", "text", "--", "\U0001f9ec" * 10_000], 2),
        (["--format", "json", "--lang", "\u202ezz", "--country", "Atlantis", "--", "cancer"], 2),
    ]
    procs = [subprocess.Popen([PY, "-m", "search", "search", "--index", str(bundled_index), *argv],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(), cwd=str(ROOT))
             for argv, _ in cases]  # side by side: 2 cores
    for (argv, expected), p in zip(cases, procs):
        count("inputs.cli_process")
        out, err = p.communicate(timeout=120)
        text = err.decode("utf-8", "replace")
        assert p.returncode == expected, (argv[-1][:60], text[-1500:])
        assert "Traceback" not in text
        if expected == 2:
            assert text.startswith("carematch: error: ")
        elif argv[1] == "json":
            assert json.loads(out)["query"] == argv[-1]


# --- the HTTP API -----------------------------------------------------------------------------------

class Answer:
    """status, headers, text and json() of a response, whichever way it came."""

    def __init__(self, status: int, headers, body: bytes, target: str) -> None:
        self.status_code, self.headers, self.content, self.target = status, headers, body, target
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


def get(http, server, path: str, params: dict) -> Answer:
    """GET with the parameters percent-encoded as a browser would; a target longer than httpx
    accepts (64 KiB) goes out on a raw socket, as curl would send it."""
    target = path + "?" + urlencode(params, quote_via=quote)
    if len(target) < 60_000:
        resp = http.get(target)
        return Answer(resp.status_code, resp.headers, resp.content, target)
    status, headers, body = raw_http(server.port, f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Connection: close\r\n\r\n".encode("ascii"))
    return Answer(status, headers, body, target)


def check_http(resp, q: str | None = None) -> None:
    assert resp.status_code < 500, resp.text[:500]
    if resp.status_code == 200 and q is not None:
        check_answer(resp.json(), q)
    elif resp.status_code >= 400 and resp.headers.get("content-type", "").startswith("application/json"):
        err = resp.json()["error"]
        assert err["status"] == resp.status_code and err["code"] and err["message"]
    elif resp.status_code >= 400:  # only the HTTP parser refuses without the JSON shape: a head too big
        assert resp.status_code in (400, 414, 431) and len(getattr(resp, "target", "")) > 8000, resp.status_code


@with_classics(surrogates=False, lang=None, country=None, service=None, age=None, limit=None)
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=hostile_text(surrogates=False), lang=LANGS, country=COUNTRIES, service=SERVICES, age=AGES,
       limit=st.none() | st.sampled_from(["1", "50", "0", "-1", "abc", "1e3", "٣", " 5 ", "99999"]))
def test_http_search_answers_or_refuses_with_the_error_shape(http, server, q, lang, country, service, age, limit):
    count("inputs.http")
    params = {"q": q, **{k: v for k, v in (("lang", lang), ("country", country), ("service", service),
                                           ("age_group", age), ("limit", limit)) if v is not None}}
    t0 = time.perf_counter()
    resp = get(http, server, "/api/search", params)
    assert time.perf_counter() - t0 < HTTP_SECONDS
    check_http(resp, q)
    assert resp.status_code != 200 or len(q) <= MAX_QUERY, f"a {len(q)}-character query was not refused"


@example(queries=CLASSICS)
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(queries=st.lists(hostile_text(surrogates=True) | st.fixed_dictionaries(
    {"q": hostile_text(surrogates=True)}, optional={"lang": LANGS, "limit": LIMITS}), min_size=1, max_size=6))
def test_http_batch_answers_each_query_or_refuses_the_body(http, queries):
    """JSON bodies carry what a URL can't: NUL, line breaks, lone surrogates (as \\u escapes)."""
    count("inputs.http", len(queries))
    body = json.dumps({"queries": queries}).encode("ascii")
    t0 = time.perf_counter()
    resp = http.post("/api/search/batch", content=body, headers={"content-type": "application/json"})
    assert time.perf_counter() - t0 < HTTP_SECONDS * 2
    check_http(resp)
    if resp.status_code == 200:
        results = resp.json()["results"]
        assert len(results) == len(queries)
        for item, r in zip(queries, results):
            q = item if isinstance(item, str) else item["q"]
            assert r["query"] == q
            assert "error" in r or len(q) <= MAX_QUERY, f"a {len(q)}-character query was not refused"
            if "error" in r:
                assert 400 <= r["error"]["status"] < 500, r


@with_classics(surrogates=False, ui=None)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(q=hostile_text(surrogates=False), ui=st.none() | st.sampled_from(["ar", "zh", "../etc", "\u202e", "x" * 500]))
def test_the_page_shows_any_text_or_a_message(http, server, q, ui):
    count("inputs.http")
    params = {"q": q} if ui is None else {"q": q, "ui": ui}
    resp = get(http, server, "/", params)
    assert resp.status_code != 200 or len(q) <= MAX_QUERY, f"a {len(q)}-character query was not refused"
    assert resp.status_code in (200, 400) or (resp.status_code in (414, 431) and len(resp.target) > 8000), \
        resp.status_code
    if resp.headers.get("content-type", "").startswith("text/html"):
        assert "<html" in resp.text and "</html>" in resp.text
