"""Item 6, privacy: with every outgoing connection made to fail (in process, and in child
processes through a sitecustomize), search, index, triage and serve work and try none; and at
the default log level no query or request text reaches a log."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from reliability._support import SECRET, SECRET_QUERY, TOKEN, count, guard_report, guarded_env, run
from reliability.netguard import Guard, is_local_address
from search import Engine, cli, triage

pytestmark = pytest.mark.reliability

QUERIES = [SECRET_QUERY, f"{SECRET} Brustkrebs Zweitmeinung", f"\u4e73\u817a\u764c {SECRET}",
           f"\u0633\u0631\u0637\u0627\u0646 \u0627\u0644\u062b\u062f\u064a {SECRET}", f"{SECRET} C50.9",
           f"leucémie enfant {SECRET} Lyon", SECRET]
RECORDS = [{"id": "p1", "subject": f"second opinion {SECRET}", "text": f"My wife has breast cancer. {SECRET}"},
           {"id": "p2", "text": f"Mon fils a une leucémie, {SECRET}, nous cherchons un traitement."},
           {"id": "p3", "text": ""}, {"text": SECRET}]


@pytest.fixture
def no_network():
    guard = Guard().install()
    yield guard
    guard.uninstall()


def test_the_guard_refuses_outgoing_connections_before_any_packet(monkeypatch):
    """The guard itself: the real connect and name look-up are replaced by recorders first, so
    that even a broken guard sends nothing; then every way out is tried."""
    reached: list = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: reached.append(address))
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: reached.append(host) or
                        [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))])
    guard = Guard().install()
    try:
        with pytest.raises(OSError):
            socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: no one there
        with pytest.raises(OSError):
            urllib.request.urlopen("http://example.invalid/", timeout=1)
        with socket.socket() as s, pytest.raises(OSError):
            s.connect(("198.51.100.7", 80))
        with socket.socket(socket.AF_INET6) as s, pytest.raises(OSError):
            s.connect(("2001:db8::1", 80, 0, 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(OSError):
            s.sendto(b"x", ("203.0.113.9", 53))
        with socket.socket() as s:
            s.connect(("127.0.0.1", 9))  # loopback goes through (to the recorder)
    finally:
        guard.uninstall()
    assert reached == [("127.0.0.1", 9)]
    assert len(guard.attempts) == 5, guard.attempts
    assert all(is_local_address(a) for a in [("127.0.0.1", 1), ("::1", 1, 0, 0), ("localhost", 1), "/tmp/s"])
    assert not any(is_local_address(a) for a in [("10.0.0.1", 1), ("example.org", 1), ("::ffff:8.8.8.8", 1)])


def test_in_process_search_triage_cli_and_api_make_no_connection_and_log_no_text(
        no_network, rel_index, caplog, capfd):
    caplog.set_level(logging.DEBUG)  # everything any logger says, more than any default
    engine = Engine.open(rel_index)  # a fresh engine: its first-use loads happen under the guard
    for q in QUERIES:
        engine.search(q)
        engine.search(q, lang="de", country="MA", service="second_opinion")
    results = triage.triage_records(engine, RECORDS)
    assert len(results) == len(RECORDS)
    assert cli.main(["search", "--index", str(rel_index), "--format", "json", SECRET_QUERY]) == 0

    from search.server import create_app
    app = create_app(engine=engine, log_queries=False, triage_token=TOKEN)

    async def requests():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
                out = [await c.get("/api/search", params={"q": q}) for q in QUERIES]
                out.append(await c.get("/", params={"q": SECRET_QUERY}))
                out.append(await c.post("/api/search/batch", json={"queries": QUERIES}))
                out.append(await c.post("/api/triage", json={"records": RECORDS[:3]},
                                        headers={"Authorization": f"Bearer {TOKEN}"}))
                out.append(await c.get("/api/search", params={"q": SECRET, "country": SECRET}))
                out.append(await c.get(f"/api/concepts/{SECRET}"))
                return out

    responses = asyncio.run(requests())
    count("inputs.privacy", len(QUERIES) * 3 + len(RECORDS) + len(responses))
    assert [r.status_code for r in responses][: len(QUERIES) + 3] == [200] * (len(QUERIES) + 3)
    assert no_network.attempts == [], no_network.attempts
    out, err = capfd.readouterr()
    ours = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]  # not the test's client
    assert not [r.getMessage() for r in ours if SECRET in r.getMessage()]
    assert SECRET not in err
    assert any("GET /api/search 200" in r.getMessage() for r in ours)  # the request log is there, without the text


def test_child_processes_make_no_connection_and_log_no_text(rel_index, guard_dir, tmp_path):
    """The real commands in child processes, each with the sitecustomize guard: search (one
    query and a batch) and triage. Their logs (stderr) never hold the request text."""
    log = tmp_path / "netguard.log"
    env = guarded_env(guard_dir, log)
    batch = "".join(json.dumps({"q": q}) + "\n" for q in QUERIES).encode()
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    commands = {
        "search": (["search", "--index", str(rel_index), "--format", "json", SECRET_QUERY], None),
        "batch": (["search", "--index", str(rel_index), "--batch", "-", "--format", "jsonl"], batch),
        "triage": (["triage", str(inbox), "--out", str(tmp_path / "routed.jsonl"), "--csv", str(tmp_path / "routed.csv"),
                    "--report", str(tmp_path / "report.html"), "--index", str(rel_index)], None),
    }
    with ThreadPoolExecutor(2) as pool:  # two at a time: two cores
        futures = {name: pool.submit(run, argv, env=env, input=data) for name, (argv, data) in commands.items()}
        runs = {name: f.result() for name, f in futures.items()}
    count("inputs.privacy", len(QUERIES) + 1 + len(RECORDS))
    for name, proc in runs.items():
        assert proc.returncode == 0, (name, proc.stderr.decode()[-2000:])
        assert SECRET.encode() not in proc.stderr, name
    assert SECRET.encode() not in runs["triage"].stdout  # its summary line
    loaded, blocked = guard_report(log)
    assert loaded >= len(runs), f"the guard ran in {loaded} processes"
    assert blocked == [], blocked


def test_the_server_makes_no_connection_and_logs_no_request_text(server, http, server_netlog):
    """The 2-worker server started with the guard (see conftest): every kind of request with the
    secret in it, good and bad; then its log is read."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    sent = [
        http.get("/api/search", params={"q": SECRET_QUERY}),
        http.get("/api/search", params={"q": SECRET_QUERY, "lang": SECRET, "country": SECRET}),
        http.get("/api/search", params={"q": SECRET * 100}),
        http.get("/api/search", params={SECRET: "1", "q": "x"}),
        http.get("/", params={"q": SECRET_QUERY}),
        http.get("/", params={"q": SECRET * 200}),
        http.post("/api/search/batch", json={"queries": QUERIES}),
        http.post("/api/search/batch", content=f'{{"queries": ["{SECRET}"'.encode(),
                  headers={"content-type": "application/json"}),
        http.post("/api/search/batch", content=json.dumps({"queries": [SECRET * 20000]}).encode()),
        http.post("/api/triage", json={"records": RECORDS}, headers=auth),
        http.post("/api/triage", json={"records": RECORDS}, headers={"Authorization": f"Bearer {SECRET}"}),
        http.get(f"/api/concepts/{SECRET}"),
        http.get(f"/{SECRET}"),
        http.delete("/api/search", params={"q": SECRET}),
    ]
    count("inputs.privacy", len(sent))
    assert all(r.status_code < 500 for r in sent), [(r.request.url.path, r.status_code) for r in sent]
    loaded, blocked = guard_report(server_netlog)
    assert loaded >= 3, f"the guard ran in {loaded} server processes (1 + 2 workers expected)"
    assert blocked == [], blocked
    text = server.log_text()
    assert SECRET not in text, [ln for ln in text.splitlines() if SECRET in ln][:5]
    assert "GET /api/search 200" in text and "POST /api/triage 200" in text
