"""Item 5, triage never loses a request: failing items still give one output line each, in
order; a crash or a kill mid-run leaves the previous output (or none), never a truncated one."""
from __future__ import annotations

import argparse
import csv
import errno
import json
import os
import random
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability._support import PY, ROOT, child_env, count, hostile_text, run, wait_until
from search import triage

pytestmark = pytest.mark.reliability

BOOM = "\U0001f4a5"  # a request containing it makes routing itself fail (see Flaky)
GOOD_TEXTS = ["Bonjour, ma mère a un cancer du sein, nous souhaitons un deuxième avis.",
              "Mein Sohn (8) hat Leukämie, wir suchen eine Behandlung in Frankreich.",
              "\u0623\u0628\u064a \u0645\u0635\u0627\u0628 \u0628\u0633\u0631\u0637\u0627\u0646 \u0627\u0644\u0631\u0626\u0629",
              "\u6211\u6bcd\u4eb2\u60a3\u6709\u4e73\u817a\u764c\uff0c\u60f3\u8981\u7b2c\u4e8c\u610f\u89c1",
              "Sarcoma of the thigh, second opinion please"]


class Flaky:
    """The engine, except that routing a request with BOOM raises, as a bug deep inside would."""

    def __init__(self, engine) -> None:
        self._engine = engine

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def route(self, understanding, *a, **k):
        if BOOM in understanding.text:
            raise RuntimeError("routing exploded")
        return self._engine.route(understanding, *a, **k)


RECORD = st.one_of(
    st.fixed_dictionaries({"text": st.sampled_from(GOOD_TEXTS)}),
    st.fixed_dictionaries({"text": st.sampled_from(GOOD_TEXTS).map(lambda t: f"{t} {BOOM}")}),
    st.fixed_dictionaries({"text": hostile_text(surrogates=True)},
                          optional={"subject": hostile_text(surrogates=True), "lang": st.text(max_size=8),
                                    "country": st.text(max_size=12), "received_at": st.text(max_size=30)}),
    st.fixed_dictionaries({"text": st.none() | st.integers() | st.lists(st.text(max_size=3), max_size=2)
                           | st.just("") | st.just("   ") | st.just("x" * (triage.MAX_TEXT_CHARS + 1))}),
    st.just({}),
    st.integers() | st.none() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),  # not an object
)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(records=st.lists(RECORD, min_size=1, max_size=8), ids=st.data())
def test_every_request_gives_one_result_in_order_whatever_fails(engine, records, ids):
    recs = []
    for i, r in enumerate(records):
        if isinstance(r, dict):
            r = dict(r)
            r["id"] = ids.draw(st.sampled_from([f"req-{i}", i, None, "", f"req-{i}"]), label=f"id{i}")
            if r["id"] is None:
                del r["id"]
        recs.append(r)
    count("inputs.triage", len(recs))
    results = triage.triage_records(Flaky(engine), recs)
    assert len(results) == len(recs)
    for rec, res in zip(recs, results):
        assert isinstance(res, dict) and res.get("status") in ("ok", "error"), res
        if isinstance(rec, dict) and isinstance(rec.get("id"), (str, int)) and rec.get("id") != "":
            assert res["id"] == str(rec["id"])[: triage.MAX_ID_CHARS]
        if res["status"] == "error":
            assert res["error"]["code"] and res["error"]["message"] and res["needs_review"] is True
        if isinstance(rec, dict) and BOOM in str(rec.get("text")) and res["status"] == "error":
            assert "routing exploded" not in res["error"]["message"]  # no internals in the output
        json.dumps(res)  # every result can be written


def _inbox_lines() -> list[bytes]:
    lines = []
    for i in range(40):
        kind = i % 8
        if kind == 0:
            lines.append(b'{"id": "r%d", "text": "broken JSON' % i)
        elif kind == 1:
            lines.append(b'{"id": "r%d", "text": "caf\xe9 cancer du sein, latin-1"}' % i)
        elif kind == 2:
            lines.append(b'["not", "an", "object"]')
        elif kind == 3:
            lines.append(json.dumps({"id": f"r{i}", "text": ""}).encode())
        elif kind == 4:
            lines.append(json.dumps({"id": f"r{i}", "text": "x" * (triage.MAX_TEXT_CHARS + 5)}).encode())
        elif kind == 5:  # escapes that decode to NUL, a lone surrogate, bidi controls
            lines.append(json.dumps({"id": f"r{i}", "subject": "\ud83d re: \u202e",
                                     "text": "cancer\x00 du sein \udc00 \u202e deuxi\u00e8me avis"}).encode("ascii"))
        else:
            lines.append(json.dumps({"id": f"r{i}", "text": GOOD_TEXTS[i % len(GOOD_TEXTS)]},
                                    ensure_ascii=False).encode())
    return lines


def test_cli_writes_one_line_per_request_even_broken_ones(bundled_index, tmp_path):
    """The real ``carematch triage`` over an inbox where most lines are broken in some way."""
    lines = _inbox_lines()
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_bytes(b"\n".join(lines) + b"\n\n")
    out, table = tmp_path / "routed.jsonl", tmp_path / "routed.csv"
    proc = run(["triage", str(inbox), "--out", str(out), "--csv", str(table), "--index", str(bundled_index)],
               timeout=180)
    count("inputs.triage", len(lines))
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(results) == len(lines)
    assert [r["source"]["line"] for r in results] == list(range(1, len(lines) + 1))
    with table.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == len(lines) + 1
    assert sum(r["status"] == "error" for r in results) >= len(lines) // 2


# --- crashes and kills mid-run ------------------------------------------------------------------------

REAL = {"triage_one": triage.triage_one, "csv_row": triage.csv_row, "atomic_write": triage.atomic_write}


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(after=st.integers(0, 11), crash=st.sampled_from(["interrupt", "memory", "disk_full", "exit"]),
       which=st.sampled_from(["out", "csv", "report"]))
def test_crash_mid_run_keeps_the_previous_outputs_whole(engine, bundled_index, tmp_path_factory, after, crash,
                                                        which):
    """A run that dies (interrupt, out of memory, disk full while writing, exit) after ``after``
    requests: every output file holds its previous content, byte for byte, and no temporary file
    stays behind."""
    folder = tmp_path_factory.mktemp("crash")
    inbox = folder / "inbox.jsonl"
    inbox.write_text("".join(json.dumps({"id": str(i), "text": GOOD_TEXTS[i % 5]}) + "\n" for i in range(12)),
                     encoding="utf-8")
    outs = {"out": folder / "routed.jsonl", "csv": folder / "routed.csv", "report": folder / "report.html"}
    for name, path in outs.items():
        path.write_text(f"previous {name}\n", encoding="utf-8")
    exc = {"interrupt": KeyboardInterrupt(), "memory": MemoryError(), "exit": SystemExit(1),
           "disk_full": OSError(errno.ENOSPC, "No space left on device")}[crash]
    calls = {"n": 0}
    real_one = REAL["triage_one"]

    def crash_in_routing(engine, rec, **kw):
        calls["n"] += 1
        if which == "out" and calls["n"] > after:
            raise exc
        return real_one(engine, rec, **kw)

    monkeypatch = pytest.MonkeyPatch()  # one per example: Hypothesis runs the body many times
    monkeypatch.setattr(triage, "triage_one", crash_in_routing)
    from search.engine import Engine
    monkeypatch.setattr(Engine, "open", classmethod(lambda cls, *a, **k: engine))  # opened once, not per run
    if which == "csv":
        real_row = REAL["csv_row"]
        rows = {"n": 0}

        def crash_in_csv(r):
            rows["n"] += 1
            if rows["n"] > after:
                raise exc
            return real_row(r)
        monkeypatch.setattr(triage, "csv_row", crash_in_csv)
    if which == "report":  # the report's file write fails halfway (the real atomic_write around it)
        real_atomic = REAL["atomic_write"]

        class HalfWriter:
            def __init__(self, f) -> None:
                self.f = f

            def write(self, text: str) -> int:
                self.f.write(text[: len(text) // 2])
                self.f.flush()
                raise exc

            def __getattr__(self, name):
                return getattr(self.f, name)

        @contextmanager
        def atomic_write(path, *a, **k):
            with real_atomic(path, *a, **k) as f:
                yield HalfWriter(f) if Path(path) == outs["report"] else f
        monkeypatch.setattr(triage, "atomic_write", atomic_write)
    args = argparse.Namespace(input=str(inbox), out=str(outs["out"]), csv=str(outs["csv"]),
                              report=str(outs["report"]), index=str(bundled_index))
    count("faults.triage_crash")
    try:
        with pytest.raises(type(exc)):
            triage.run_cli(args)
    finally:
        monkeypatch.undo()
    crashed = {"out": ["out", "csv", "report"], "csv": ["csv", "report"], "report": ["report"]}[which]
    for name in crashed:  # the ones the run had not finished: untouched
        assert outs[name].read_text(encoding="utf-8") == f"previous {name}\n", name
    for name in set(outs) - set(crashed):  # the ones finished before: whole
        text = outs[name].read_text(encoding="utf-8")
        assert text != f"previous {name}\n"
        if name == "out":
            assert len(text.splitlines()) == 12
    assert sorted(p.name for p in folder.iterdir()) == sorted(["inbox.jsonl", *(p.name for p in outs.values())])


def test_killed_run_leaves_previous_output_or_a_whole_new_one(bundled_index, tmp_path):
    """The real ``carematch triage`` SIGKILLed at random moments while it writes: the output
    path holds the previous file byte for byte, or, if the run had finished, the whole new one."""
    n = 3000
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_text("".join(json.dumps({"id": str(i), "text": GOOD_TEXTS[i % 5]}) + "\n" for i in range(n)),
                     encoding="utf-8")
    out = tmp_path / "routed.jsonl"
    previous = "".join(json.dumps({"id": f"old-{i}", "status": "ok"}) + "\n" for i in range(5))
    out.write_text(previous, encoding="utf-8")
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    outcomes = []
    for _ in range(2):
        proc = subprocess.Popen([PY, "-m", "search", "triage", str(inbox), "--out", str(out), "--index",
                                 str(bundled_index)], cwd=str(ROOT), env=child_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = wait_until(lambda: any(tmp_path.glob(".routed.jsonl.*.tmp")) or proc.poll() is not None, 120)
            assert started
            time.sleep(rng.uniform(0.0, 1.5))
            proc.send_signal(signal.SIGKILL)
            rc = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        count("faults.sigkill")
        text = out.read_text(encoding="utf-8")
        outcomes.append(rc)
        if rc == 0:  # it finished first: the whole new file
            assert len(text.splitlines()) == n
            break
        assert text == previous, f"the output changed under a killed run (rc {rc})"
    # the partial temporary files of killed runs are hidden (dot files), never at the output path
    assert all(p.name.startswith(".routed.jsonl.") for p in tmp_path.iterdir()
               if p.name not in ("inbox.jsonl", "routed.jsonl")), outcomes
