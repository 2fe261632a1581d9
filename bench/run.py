"""Every benchmark in one command: ``python -m bench.run`` (``make bench``) and ``--quick``.

Contract: runs, each measurement in its own fresh process and one after the other (so that no
two timings share the CPU, apart from the engine and baseline index builds of one corpus, which
run side by side, one per core):
1. terminology load and matching (``bench.terminology_bench``);
2. language identification (``bench/langid_bench.py``, another engineer's; full run only);
3. for the bundled corpus and synthetic corpora of 1,000 / 10,000 / 100,000 offers
   (``bench.synthetic``, seed 1): index build (``bench.build_bench``) and latency, cold and warm,
   engine beside plain Whoosh BM25 (``bench.latency``);
4. relevance (``bench.relevance``) and HTTP load (``bench/load.py``, full run only) when present;
and writes ``bench/results/<date>-<commit>.json``, ``latest.md`` (the budgets of DESIGN.md beside
the measured figures, "met" / "not met", and the machine) and ``latency.svg`` (latency against
corpus size). ``--quick`` (< 1 minute): bundled corpus and 1,000 offers, fewer queries, no
langid/load bench, relevance without the dev set; it writes ``*-quick.json``, ``latest-quick.md``
and ``latency-quick.svg`` so that it never replaces the full figures.

The run keeps to a time budget (full 9.5 minutes, quick 55 s): 100,000 offers come last and are
skipped, saying why, when their projected build and measurement (from this run's 10,000-offer
rates) would not fit; synthetic indexes are cached in ``bench/results/tmp/`` (git-ignored, see
``bench.build_bench``; ``python -m bench.build_bench --offers 100000`` fills it), so a later run
can measure 100,000 offers in a minute or two. Exit status: 0, or 1 when a result check failed or a step crashed (the files are written all
the same).
"""
from __future__ import annotations

import argparse
import html
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TMP = RESULTS / "tmp"
SEED = 1
FULL_SIZES = (1000, 10000, 100000)
QUICK_SIZES = (1000,)
FULL_BUDGET_S = 570.0
QUICK_BUDGET_S = 55.0
BENCH_VERSION = 1


# --- the machine and the code -----------------------------------------------------------------

def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True, timeout=5).stdout.strip())
    except (OSError, ValueError, subprocess.SubprocessError):
        nproc = os.cpu_count() or 0
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    try:
        import whoosh
        whoosh_version = whoosh.versionstring()
    except ImportError:
        whoosh_version = "?"
    return {"nproc": nproc, "cpu": cpu or platform.processor() or "?", "python": platform.python_version(),
            "platform": platform.platform(), "mem_mib": mem, "whoosh": whoosh_version}


def loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def commit() -> tuple[str, bool]:
    """The short commit id and whether the tree has changes (read-only git commands)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "nogit", False
    return sha or "nogit", dirty


# --- running the parts --------------------------------------------------------------------------

class Runner:
    def __init__(self, quick: bool, budget_s: float, log=print) -> None:
        self.quick = quick
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + budget_s
        self.log = log
        self.skipped: list[str] = []
        self.errors: list[str] = []
        self.env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def json_step(self, name: str, cmd: list[str], out: Path, timeout: float, optional: bool = False) -> dict | None:
        """Run ``cmd`` (which writes JSON to ``out``) in a fresh process; its JSON or None. An
        optional step is also cut short at the end of the time budget; the others run to the end."""
        out.unlink(missing_ok=True)
        if optional:
            timeout = max(5.0, min(timeout, self.left()))
        t0 = time.perf_counter()
        self.log(f"[{self.elapsed():5.0f} s] {name} ...")
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            self.errors.append(f"{name}: stopped after {timeout:.0f} s" + (" (time budget)" if optional else ""))
            return None
        data = None
        if out.exists():
            try:
                data = json.loads(out.read_text(encoding="utf-8"))
            except ValueError:
                data = None
        if data is None:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            self.errors.append(f"{name}: failed (exit {proc.returncode}): {' | '.join(tail)}")
            return None
        if isinstance(data, dict):
            data.setdefault("_seconds", round(time.perf_counter() - t0, 2))
            data.setdefault("_exit", proc.returncode)
        summary = [line for line in proc.stderr.strip().splitlines() if line][-2:]
        for line in summary:
            self.log(f"          {line}")
        return data


def latency_step(r: Runner, name: str, build: dict, rounds: int, timeout: float) -> dict | None:
    out = TMP / f"latency-{name}.json"
    cmd = [sys.executable, "-m", "bench.latency", "--index", build["index"], "--baseline", build["baseline_dir"],
           "--rounds", str(rounds), "--json", str(out)]
    la = loadavg()
    res = r.json_step(f"latency {name} ({rounds} rounds)", cmd, out, timeout)
    if res is not None:
        res["loadavg_before"] = la
        res["loadavg_after"] = loadavg()
    return res


def build_step(r: Runner, name: str, size: int | None, use_cache: bool) -> dict | None:
    r.log(f"[{r.elapsed():5.0f} s] build {name} ...")
    sys.path.insert(0, str(ROOT))
    from bench import build_bench
    try:
        if size is None:
            res = build_bench.prepare(name, [ROOT / "corpus" / "centres"], TMP / "bundled",
                                      timeout=max(30.0, r.left()))
        else:
            res = build_bench.synthetic(size, SEED, TMP, use_cache=use_cache)
    except Exception as e:  # noqa: BLE001 - reported, the rest of the run goes on
        r.errors.append(f"build {name}: {e}")
        return None
    e, b = res["engine"], res["baseline"]
    r.log(f"          engine {e['offers']} offers in {e['seconds']:.1f} s ({e['offers_per_s']:.0f}/s), "
          f"baseline {b['seconds']:.1f} s" + (f" (cached, built {res.get('built_at')})" if res.get("cached") else ""))
    return res


def project_100k(ten: dict | None) -> tuple[float, float] | None:
    """(build s, measure s) that 100,000 offers would take, scaled from this run's 10,000 figures
    (build linear in offers; query time linear in the offers a query ranks)."""
    if not ten or not ten.get("build") or not ten.get("latency"):
        return None
    b, lat = ten["build"], ten["latency"]
    build = 1.15 * (10 * max(b["engine"]["seconds"], b["baseline"]["seconds"]) + 10 * b.get("generate_s", 3))
    e_mean = lat["engine"]["warm"]["mean"]
    b_mean = lat.get("baseline", {}).get("warm", {}).get("mean", 0)
    passes = 2 * lat["queries"]  # the warm-up pass and one timed round
    measure = (passes * 10 * (e_mean + b_mean) + 10 * 10 * e_mean) / 1000 + 10 * lat["engine"]["open_s"] + 20
    return build, measure


# --- budgets ------------------------------------------------------------------------------------

def _fmt(v, unit="", nd=2) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{nd}f}{unit}"
    return f"{v:,}{unit}"


def budgets(res: dict) -> list[dict]:
    """Each budget of DESIGN.md (and issues 3 / 4 / 5) beside the figure measured in this run."""
    rows: list[dict] = []

    def add(what, target, value, ok, unit, note=""):
        rows.append({"budget": what, "target": target, "measured": value, "unit": unit,
                     "verdict": "not measured" if ok is None else ("met" if ok else "not met"), "note": note})

    corpora = res.get("corpora", {})

    def lat(name):
        c = corpora.get(name) or {}
        return c.get("latency")

    def latency_rows(name, label, limits):
        L = lat(name)
        for p, limit in limits:
            target = f"p{p[1:]} <= {limit} ms"
            if not L:
                add(f"End to end, {label}", target, None, None, "ms",
                    (corpora.get(name) or {}).get("skipped", "not run"))
                continue
            v = L["engine"]["warm"][p]
            failed = L["engine"]["checks"]["failed"]
            note = f"{failed} result checks failed" if failed else ""
            add(f"End to end, {label}", target, v, (v <= limit) and not failed, "ms", note)

    latency_rows("bundled", "bundled corpus", (("p50", 3), ("p99", 15)))
    latency_rows("10000", "10,000 synthetic offers", (("p50", 8), ("p99", 30)))
    latency_rows("100000", "100,000 synthetic offers", (("p99", 150),))
    L = lat("bundled")
    add("Engine open (index + terminology), bundled corpus", "<= 1.5 s",
        L["engine"]["open_s"] if L else None, (L["engine"]["open_s"] <= 1.5) if L else None, "s",
        "fresh process, imports excluded" if L else "")
    add("Resident memory, bundled corpus", "<= 300 MiB", L["engine"]["rss_peak_mib"] if L else None,
        (L["engine"]["rss_peak_mib"] <= 300) if L else None, "MiB", "peak (VmHWM) of the engine process" if L else "")
    built = [(int(k), v["build"]) for k, v in corpora.items() if k.isdigit() and v.get("build")]
    if built:
        n, b = max(built)
        rate = b["engine"]["offers_per_s"]
        add(f"Index build, {n:,} offers", ">= 500 offers/s", rate, rate >= 500, " offers/s",
            "validation included" + (f"; cached build of {b.get('built_at')}" if b.get("cached") else ""))
    else:
        add("Index build", ">= 500 offers/s", None, None, " offers/s")
    load = res.get("load") or {}
    http = load.get("_budget") if isinstance(load, dict) else None
    if http:
        add("HTTP search, 2 workers, loopback", ">= 300 requests/s", http["rps"], http["rps"] >= 300, " req/s",
            http.get("note", ""))
        add("HTTP search, 2 workers, loopback", "p99 <= 50 ms", http["p99_ms"], http["p99_ms"] <= 50, "ms",
            http.get("note", ""))
    else:
        note = res.get("load_note") or "bench/load.py not run"
        add("HTTP search, 2 workers, loopback", ">= 300 requests/s", None, None, " req/s", note)
        add("HTTP search, 2 workers, loopback", "p99 <= 50 ms", None, None, "ms", note)
    t = res.get("terminology")
    add("Terminology load from its files (backbone + lexicon)", "<= 0.5 s", t["load_cold_s"] if t else None,
        (t["load_cold_s"] <= 0.5) if t else None, "s", "first load in a fresh process" if t else "")
    if t and t.get("load_compiled_s") is not None:
        add("Terminology load, compiled copy in the snapshot (Engine.open)", "<= 0.5 s", t["load_compiled_s"],
            t["load_compiled_s"] <= 0.5, "s")
    if t:
        failed = t["checks"]["failed_queries"]
        add("Concept matching, median warm", "<= 0.5 ms", t["match"]["p50"], t["match"]["p50"] <= 0.5 and not failed,
            "ms", f"{failed} result checks failed" if failed else "")
    else:
        add("Concept matching, median warm", "<= 0.5 ms", None, None, "ms")
    lid = res.get("langid")
    pipe = next((x for x in lid if x.get("name") == "pipeline"), None) if isinstance(lid, list) else None
    add("Language identification, median warm", "<= 0.3 ms", pipe["ms_median"] if pipe else None,
        (pipe["ms_median"] <= 0.3) if pipe else None, "ms",
        f"accuracy {pipe['ok'] / pipe['n']:.3f} on the dev set" if pipe else (res.get("langid_note") or ""))
    rel = res.get("relevance")
    if rel and rel.get("margin"):
        langs = [lg for lg in rel["margin"] if lg != "ALL"]
        ahead = [lg for lg in langs if rel["margin"][lg]["ndcg@10"] > 0]
        add("Relevance: nDCG@10 above plain BM25 in every language", f"{len(langs)} of {len(langs)}",
            len(ahead), len(ahead) == len(langs), f" of {len(langs)}",
            f"overall {rel['engine']['ALL']['ndcg@10']:.3f} vs {rel['baseline']['ALL']['ndcg@10']:.3f}")
    else:
        add("Relevance: nDCG@10 above plain BM25 in every language", "all languages", None, None, "",
            res.get("relevance_note") or "bench/relevance.py not run")
    return rows


def http_budget(load) -> dict | None:
    """The 2-worker, cold-cache figure of bench/load.py's JSON: its target's best step (the most
    requests/s with p99 within 50 ms), else the 2-worker step with the most requests/s."""
    if not isinstance(load, dict):
        return None
    best = (load.get("target") or {}).get("best")
    note = "best 2-worker step with p99 <= 50 ms"
    if not best:
        two = [s for s in load.get("steps", []) if s.get("workers") == 2 and s.get("cache", "cold") == "cold"]
        if not two:
            return None
        best = max(two, key=lambda s: s.get("rps", 0))
        note = "no 2-worker step had p99 <= 50 ms; the one with the most requests/s"
    return {"rps": best["rps"], "p99_ms": best["p99_ms"],
            "note": f"{note}: concurrency {best.get('concurrency', '?')}"}


# --- output ------------------------------------------------------------------------------------

SIZE_ORDER = ("bundled", "1000", "10000", "100000")


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [f"# carematch benchmarks{' (quick)' if res['quick'] else ''}", "",
             f"{res['date']} · commit `{res['commit']}`{' (with uncommitted changes)' if res['dirty'] else ''} · "
             f"`{'make bench-quick' if res['quick'] else 'make bench'}` · {res['duration_s']:.0f} s", "",
             f"Machine: {m['nproc']} CPUs (`nproc`), {m['cpu']}, {m['mem_mib']:,} MiB RAM, Python {m['python']}, "
             f"Whoosh {m['whoosh']}, {m['platform']}. Load average at start {res['loadavg_start']}, "
             f"at end {res['loadavg_end']}."]
    busy = [x for x in (res["loadavg_start"], res["loadavg_end"]) if x is not None and x > 0.5 * max(1, m["nproc"])]
    if busy:
        lines += ["", f"**Warning: the machine was busy during this run (load average up to {max(busy)} on "
                      f"{m['nproc']} CPUs); timings are upper bounds.**"]
    lines += ["", "## Budgets (DESIGN.md)", "", "| budget | target | measured | verdict | note |", "|---|---|---|---|---|"]
    for b in res["budgets"]:
        v = "—" if b["measured"] is None else f"{_fmt(b['measured'])}{'' if b['unit'].startswith(' ') else ' '}{b['unit']}".strip()
        lines.append(f"| {b['budget']} | {b['target']} | {v} | {b['verdict']} | {b['note']} |")

    lines += ["", "## Latency", "",
              "Warm, one process, end to end (understanding + retrieval + ranking), ms per query over the fixed "
              f"mix of `bench/latency.py` ({res.get('queries', '?')} queries in 22 languages: concepts, typos, "
              "ICD-10 codes, free text); the engine's result cache is emptied before each query. Plain BM25 = "
              "`bench/baseline.py` over the same offers, same queries, same process. Ratio = BM25 / engine "
              "(> 1: the engine is faster).", "",
              "| corpus | offers | open s | 1st query ms | p50 | p95 | p99 | max | q/s | cached p50 | BM25 p50 | BM25 p99 | "
              "BM25 q/s | ratio p50 | ratio p99 | peak RSS MiB | checks |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in SIZE_ORDER:
        c = res["corpora"].get(name)
        if not c:
            continue
        L = c.get("latency")
        if not L:
            lines.append(f"| {name} | | | | | | | | | | | | | | | | {c.get('skipped') or 'not measured'} |")
            continue
        e, w = L["engine"], L["engine"]["warm"]
        b = L.get("baseline", {}).get("warm", {})
        fails = e["checks"]["failed"] + L.get("baseline", {}).get("checks", {}).get("failed", 0)
        lines.append(
            f"| {name} | {L['offers']:,} | {e['open_s']:.2f} | {e['first_query_ms']:.0f} | {w['p50']:.2f} | {w['p95']:.2f} | "
            f"{w['p99']:.2f} | {w['max']:.1f} | {w['qps']:.0f} | {e['cached']['p50']:.3f} | {_fmt(b.get('p50'))} | "
            f"{_fmt(b.get('p99'))} | {_fmt(b.get('qps'), nd=0)} | {_fmt(L.get('ratio', {}).get('p50'))} | "
            f"{_fmt(L.get('ratio', {}).get('p99'))} | {e['rss_peak_mib']:.0f} | "
            f"{'ok' if not fails else f'{fails} FAILED'} ({e['checks']['timed']}) |")
    lines += ["", "![latency against corpus size](" + res["svg"] + ")", "",
              "By query kind, engine p50 / p99 ms (BM25 p50 / p99):", "",
              "| corpus | concept | typo | code | free text |", "|---|---|---|---|---|"]
    for name in SIZE_ORDER:
        L = (res["corpora"].get(name) or {}).get("latency")
        if not L:
            continue
        cells = []
        for k in ("concept", "typo", "code", "free"):
            e = L["engine"]["by_kind"].get(k)
            b = L.get("baseline", {}).get("by_kind", {}).get(k)
            cells.append(f"{e['p50']:.1f} / {e['p99']:.1f}" + (f" ({b['p50']:.1f} / {b['p99']:.1f})" if b else "")
                         if e else "—")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    slow = []
    for name in SIZE_ORDER:
        L = (res["corpora"].get(name) or {}).get("latency")
        for q in (L or {}).get("engine", {}).get("slowest", [])[:3]:
            scored = f"{q['scored']:,}" if isinstance(q.get("scored"), int) else "—"
            slow.append(f"| {name} | {q['query']} | {q['kind']} | {q['median_ms']:.1f} | {q['max_ms']:.1f} | {scored} |")
    if slow:
        lines += ["", "Slowest queries of the engine (median over the rounds; offers ranked = the output's `total`):", "",
                  "| corpus | query | kind | median ms | max ms | offers ranked |", "|---|---|---|---:|---:|---:|"] + slow
    lines += ["", "## Index build", "",
              "Fresh process each; the engine build (`search.indexer.build_index`, corpus validation included) and the "
              "BM25 build run side by side, one per core.", "",
              "| corpus | offers | engine s | engine offers/s | engine MiB | build peak RSS MiB | BM25 s | BM25 offers/s | "
              "BM25 MiB | generate s | note |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name in SIZE_ORDER:
        b = (res["corpora"].get(name) or {}).get("build")
        if not b:
            continue
        e, p = b["engine"], b["baseline"]
        note = f"cached build of {b.get('built_at')}" if b.get("cached") else ""
        lines.append(f"| {name} | {e['offers']:,} | {e['seconds']:.1f} | {e['offers_per_s']:,.0f} | {e['bytes'] / 2**20:.1f} | "
                     f"{e['peak_rss_mib']:.0f} | {p['seconds']:.1f} | {p['offers_per_s']:,.0f} | {p['bytes'] / 2**20:.1f} | "
                     f"{_fmt(b.get('generate_s'), nd=1)} | {note} |")

    t = res.get("terminology")
    if t:
        k = t["match_by_kind"]
        lines += ["", "## Terminology", "",
                  "| concepts | aliases | load cold s (backbone + lexicon) | load warm s | compiled copy s | "
                  "matcher compile s | match p50 ms | p95 | p99 | p50 by kind (concept / typo / code / free) | checks |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
                  f"| {t['concepts']} | {t['aliases']:,} | {t['load_cold_s']:.3f} ({t['backbone_load_s']:.3f} + "
                  f"{t['lexicon_load_s']:.3f}) | {t['load_warm_s']:.3f} | {_fmt(t.get('load_compiled_s'), nd=3)} | "
                  f"{t['matcher_compile_s']:.3f} | "
                  f"{t['match']['p50']:.3f} | {t['match']['p95']:.3f} | {t['match']['p99']:.3f} | "
                  + " / ".join(f"{k[x]['p50']:.3f}" if x in k else "—" for x in ("concept", "typo", "code", "free"))
                  + f" | {'ok' if not t['checks']['failed_queries'] else str(t['checks']['failed_queries']) + ' FAILED'} |"]
    lid = res.get("langid")
    if isinstance(lid, list) and lid:
        lines += ["", "## Language identification (`bench/langid_bench.py`, dev set)", "",
                  "| contender | accuracy | 1-2 word Latin | ms median | ms p95 | load s | RSS MiB |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for x in lid:
            lines.append(f"| {x['name']} | {x['ok'] / x['n']:.3f} | {x['short_ok'] / max(1, x['short_n']):.3f} | "
                         f"{x['ms_median']:.3f} | {x['ms_p95']:.3f} | {x['load_s']:.2f} | {x['rss_mib']:.0f} |")
    rel = res.get("relevance")
    if rel and rel.get("engine"):
        lines += ["", f"## Relevance (`bench/relevance.py`: {rel.get('topics')} topics, {rel.get('judgments')} "
                      "judgments, bundled corpus)", "",
                  "| language | engine nDCG@10 | BM25 nDCG@10 | margin | engine RR | BM25 RR | engine R@5 | BM25 R@5 |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for lg in sorted(rel["engine"], key=lambda x: (x != "ALL", x)):
            e, b = rel["engine"][lg], rel["baseline"][lg]
            lines.append(f"| {lg} | {e['ndcg@10']:.3f} | {b['ndcg@10']:.3f} | {e['ndcg@10'] - b['ndcg@10']:+.3f} | "
                         f"{e['rr']:.3f} | {b['rr']:.3f} | {e['r@5']:.3f} | {b['r@5']:.3f} |")
        dev = rel.get("dev") or {}
        if dev.get("summary"):
            summary = str(dev["summary"]).removeprefix("summary:").strip()
            lines += ["", f"Shared dev set (`../shared/eval/score.py`): {summary}"]
    load = res.get("load")
    if load and load.get("_budget"):
        lines += ["", "## HTTP load (`bench/load.py`)", "", f"2 workers: {load['_budget']['rps']} requests/s, "
                  f"p99 {load['_budget']['p99_ms']} ms ({load['_budget']['note']}); full figures in the JSON."]
    notes = res["skipped"] + res["errors"]
    fails = []
    for name in SIZE_ORDER:
        L = (res["corpora"].get(name) or {}).get("latency") or {}
        for who in ("engine", "baseline"):
            for f in (L.get(who) or {}).get("checks", {}).get("failures", []):
                fails.append(f"{name} {who}: {f['query']!r} ({f.get('lang', '')}): {f['why']}")
    if t:
        fails += [f"terminology: {f['query']!r}: {f['why']}" for f in t["checks"]["failures"]]
    if notes:
        lines += ["", "## Not measured, skipped or failed", ""] + [f"- {n}" for n in notes]
    if fails:
        lines += ["", "## Result check failures (their timings do not count as met)", ""] + [f"- {f}" for f in fails[:40]]
    lines += ["", f"Raw figures: `{res['json']}`. Reproduce: `{'make bench-quick' if res['quick'] else 'make bench'}`.", ""]
    return "\n".join(lines)


def svg(res: dict) -> str:
    """Latency against corpus size, log-log, hand-written SVG (no plotting dependency)."""
    import math

    W, H, L, R, T, B = 760, 440, 70, 190, 50, 60
    points: dict[str, list[tuple[int, float]]] = {"engine p50": [], "engine p99": [], "BM25 p50": [], "BM25 p99": []}
    for name in SIZE_ORDER:
        lat = (res["corpora"].get(name) or {}).get("latency")
        if not lat:
            continue
        n = lat["offers"]
        points["engine p50"].append((n, lat["engine"]["warm"]["p50"]))
        points["engine p99"].append((n, lat["engine"]["warm"]["p99"]))
        if lat.get("baseline"):
            points["BM25 p50"].append((n, lat["baseline"]["warm"]["p50"]))
            points["BM25 p99"].append((n, lat["baseline"]["warm"]["p99"]))
    bundled = ((res["corpora"].get("bundled") or {}).get("latency") or {}).get("offers") or 372
    budgets = [(bundled, 3, "p50"), (bundled, 15, "p99"), (10000, 8, "p50"), (10000, 30, "p99"), (100000, 150, "p99")]
    ys = [y for s in points.values() for _, y in s if y > 0] + [b[1] for b in budgets]
    lo = 10 ** math.floor(math.log10(max(min(ys), 0.01)))
    hi = 10 ** math.ceil(math.log10(max(ys)))
    xlo, xhi = 100, 100000 * 1.5

    def X(n):
        return L + (math.log10(n) - math.log10(xlo)) / (math.log10(xhi) - math.log10(xlo)) * (W - L - R)

    def Y(v):
        v = max(v, lo)
        return T + (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))) * (H - T - B)

    style = {"engine p50": ("#1f6feb", ""), "engine p99": ("#1f6feb", "6 4"),
             "BM25 p50": ("#d97706", ""), "BM25 p99": ("#d97706", "6 4")}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="22" font-size="15" font-weight="bold">carematch: warm query latency against corpus size'
           f'{" (quick)" if res["quick"] else ""}</text>',
           f'<text x="{L}" y="38" fill="#555">{html.escape(res["date"])} · {html.escape(res["commit"])} · '
           f'{res["machine"]["nproc"]} CPUs {html.escape(res["machine"]["cpu"])} · Python {res["machine"]["python"]}'
           '</text>']
    decade = lo
    while decade <= hi * 1.0001:
        y = Y(decade)
        out.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        label = f"{decade:g}"
        out.append(f'<text x="{L - 8}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        decade *= 10
    for n, label in ((bundled, f"bundled\n{bundled:,}"), (1000, "1,000"), (10000, "10,000"), (100000, "100,000")):
        x = X(n)
        out.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#f0f0f0"/>')
        for i, part in enumerate(label.split("\n")):
            out.append(f'<text x="{x:.1f}" y="{H - B + 16 + 13 * i}" text-anchor="middle">{part}</text>')
    out.append(f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{(L + W - R) / 2:.0f}" y="{H - 8}" text-anchor="middle">offers in the index (log scale)</text>')
    out.append(f'<text x="16" y="{(T + H - B) / 2:.0f}" transform="rotate(-90 16 {(T + H - B) / 2:.0f})" '
               'text-anchor="middle">ms per query (log scale)</text>')
    for n, v, p in budgets:
        x, y = X(n), Y(v)
        out.append(f'<path d="M{x - 7:.1f},{y:.1f} H{x + 7:.1f}" stroke="#dc2626" stroke-width="2.5"/>')
        left = n >= 100000  # keep the label inside the plot
        anchor = ' text-anchor="end"' if left else ""
        out.append(f'<text x="{x - 9 if left else x + 9:.1f}" y="{y + 4:.1f}" fill="#dc2626" font-size="10"{anchor}>'
                   f'budget {p} {v:g}</text>')
    for name, pts in points.items():
        if not pts:
            continue
        color, dash = style[name]
        d = " ".join(f"{'M' if i == 0 else 'L'}{X(n):.1f},{Y(v):.1f}" for i, (n, v) in enumerate(pts))
        out.append(f'<path d="{d}" fill="none" stroke="{color}" stroke-width="2"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        for n, v in pts:
            out.append(f'<circle cx="{X(n):.1f}" cy="{Y(v):.1f}" r="3.5" fill="{color}"><title>{name}, {n:,} offers: '
                       f'{v:.2f} ms</title></circle>')
    lx = W - R + 16
    for i, name in enumerate(points):
        color, dash = style[name]
        y = T + 14 + 20 * i
        out.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 28}" y2="{y}" stroke="{color}" stroke-width="2"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        out.append(f'<text x="{lx + 34}" y="{y + 4}">{name}</text>')
    y = T + 14 + 20 * len(points)
    out.append(f'<path d="M{lx},{y} H{lx + 28}" stroke="#dc2626" stroke-width="2.5"/>')
    out.append(f'<text x="{lx + 34}" y="{y + 4}">DESIGN.md budget</text>')
    out.append(f'<text x="{lx}" y="{y + 28}" fill="#555" font-size="10">BM25: plain Whoosh,</text>')
    out.append(f'<text x="{lx}" y="{y + 41}" fill="#555" font-size="10">same offers and queries</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# --- the run -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run every benchmark and write bench/results/. "
                                             "Example: python -m bench.run --quick")
    ap.add_argument("--quick", action="store_true", help="bundled corpus + 1,000 offers, fewer queries (< 1 minute)")
    ap.add_argument("--sizes", help="comma-separated synthetic sizes (default 1000,10000,100000; quick 1000)")
    ap.add_argument("--no-cache", action="store_true", help="rebuild synthetic indexes even when cached")
    ap.add_argument("--budget", type=float, help="seconds the run may take (default 570; quick 55)")
    ap.add_argument("--out", default=str(RESULTS), help="results directory (default bench/results)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    quick = args.quick
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else (QUICK_SIZES if quick else FULL_SIZES)
    r = Runner(quick, args.budget or (QUICK_BUDGET_S if quick else FULL_BUDGET_S),
               log=lambda s: print(s, file=sys.stderr, flush=True))
    TMP.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sha, dirty = commit()
    res: dict = {"bench_version": BENCH_VERSION, "date": time.strftime("%Y-%m-%d"), "started_at":
                 time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commit": sha + ("-dirty" if dirty else ""), "dirty": dirty,
                 "quick": quick, "machine": machine(), "loadavg_start": loadavg(), "seed": SEED, "corpora": {}}
    from bench.latency import QUERIES
    res["queries"] = len(QUERIES)

    # 1. terminology
    res["terminology"] = r.json_step("terminology", [sys.executable, "-m", "bench.terminology_bench", "--rounds",
                                                     "5" if quick else "20", "--json", str(TMP / "terminology.json")],
                                     TMP / "terminology.json", 120)
    # 2. language identification (its own bench prints JSON on stdout)
    if quick:
        res["langid_note"] = "not run by --quick"
    elif not (ROOT / "bench" / "langid_bench.py").exists():
        res["langid_note"] = "bench/langid_bench.py not present"
    else:
        r.log(f"[{r.elapsed():5.0f} s] langid ...")
        try:
            proc = subprocess.run([sys.executable, "bench/langid_bench.py", "--json"], cwd=ROOT, env=r.env,
                                  capture_output=True, text=True, timeout=min(150, max(5, r.left() - 300)))
            res["langid"] = json.loads(proc.stdout) if proc.returncode == 0 else None
            if res["langid"] is None:
                res["langid_note"] = f"bench/langid_bench.py exit {proc.returncode}: {proc.stderr.strip()[-200:]}"
        except (subprocess.TimeoutExpired, ValueError) as e:
            res["langid_note"] = f"bench/langid_bench.py: {type(e).__name__}"
        if res.get("langid_note"):
            r.errors.append("langid: " + res["langid_note"])

    # 3. corpora, smallest first; 100,000 last and only if it fits
    rounds = {"bundled": 2 if quick else 5, 1000: 1 if quick else 5, 10000: 3, 100000: 1}
    plan = [("bundled", None)] + [(str(n), n) for n in sizes if n < 100000]
    for name, size in plan:
        c = res["corpora"][name] = {}
        c["build"] = build_step(r, name, size, not args.no_cache)
        if c["build"]:
            c["latency"] = latency_step(r, name, c["build"], rounds.get(size or "bundled", 3), timeout=300)

    # 4. relevance and load
    bundled_index = (res["corpora"].get("bundled", {}).get("build") or {}).get("index")
    if (ROOT / "bench" / "relevance.py").exists() and r.left() > (20 if quick else 120):
        cmd = [sys.executable, "-m", "bench.relevance", "--json", str(TMP / "relevance.json")]
        if bundled_index:
            cmd += ["--index", bundled_index]
        if quick:
            cmd.append("--no-dev")
        res["relevance"] = r.json_step("relevance" + (" (no dev set)" if quick else ""), cmd, TMP / "relevance.json",
                                       timeout=r.left() - (5 if quick else 60), optional=True)
        if res["relevance"] is None:
            res["relevance_note"] = "bench/relevance.py failed (see below)"
    else:
        res["relevance_note"] = "bench/relevance.py not present" if not (ROOT / "bench" / "relevance.py").exists() \
            else "skipped: not enough of the time budget left"
    if quick:
        res["load_note"] = "not run by --quick"
    elif not (ROOT / "bench" / "load.py").exists():
        res["load_note"] = "bench/load.py not present"
    elif r.left() < 150:
        res["load_note"] = "skipped: not enough of the time budget left"
        r.skipped.append("HTTP load: " + res["load_note"])
    else:
        cmd = [sys.executable, "-m", "bench.load", "--json", str(TMP / "load.json")]
        if bundled_index:
            cmd += ["--index", bundled_index]
        load = r.json_step("load", cmd, TMP / "load.json", timeout=min(240, r.left() - 60), optional=True)
        if load is not None:
            load["_budget"] = http_budget(load)
        else:
            res["load_note"] = "bench/load.py failed (see below)"
        res["load"] = load

    # 5. 100,000 offers: cached, or built if this run's 10,000 figures say it fits
    if 100000 in sizes:
        c = res["corpora"]["100000"] = {}
        from bench import build_bench
        cached = not args.no_cache and build_bench.cached(100000, SEED, TMP) is not None
        projected = project_100k(res["corpora"].get("10000"))
        need = None if projected is None else projected[1] + (0 if cached else projected[0])
        if need is None and args.budget is None:
            c["skipped"] = "not measured: no 10,000-offer figures to project its cost from"
        elif need is not None and need > r.left():
            what = "measuring it" if cached else "building and measuring it"
            c["skipped"] = (f"not measured: {what} would take ~{need:.0f} s (from this run's 10,000-offer figures), "
                            f"{max(0, r.left()):.0f} s of the time budget left"
                            + ("" if cached else "; `python -m bench.build_bench --offers 100000` builds and "
                               "caches it, then `make bench` measures it when its queries are fast enough"))
        else:
            c["build"] = build_step(r, "100000", 100000, not args.no_cache)
            if c["build"]:
                c["latency"] = latency_step(r, "100000", c["build"], rounds[100000], timeout=max(30, r.left()))
        if c.get("skipped"):
            r.skipped.append(f"100,000 offers: {c['skipped']}")
    for name, c in res["corpora"].items():
        if c.get("build") and not c.get("latency") and not c.get("skipped"):
            c["skipped"] = "latency not measured (see errors)"

    # 6. write
    res["loadavg_end"] = loadavg()
    res["duration_s"] = round(r.elapsed(), 1)
    res["skipped"], res["errors"] = r.skipped, r.errors
    # a quick or partial run never replaces the full run's latest.md / latency.svg
    suffix = "-quick" if quick else ("" if sizes == FULL_SIZES else "-sizes-" + "-".join(map(str, sizes)))
    json_name = f"{res['date']}-{res['commit']}{suffix}.json"
    res["json"] = json_name
    res["svg"] = f"latency{suffix}.svg"
    res["budgets"] = budgets(res)
    md = markdown(res)
    _write(out_dir / json_name, json.dumps(res, indent=1, ensure_ascii=False) + "\n")
    _write(out_dir / f"latest{suffix}.md", md)
    _write(out_dir / res["svg"], svg(res))
    print(md)
    print(f"wrote {out_dir / json_name}, latest{suffix}.md, {res['svg']} in {res['duration_s']:.0f} s", file=sys.stderr)
    failed = bool(r.errors)
    for c in res["corpora"].values():
        if c.get("latency") and not c["latency"].get("valid", False):
            failed = True
    if res.get("terminology") and res["terminology"]["checks"]["failed_queries"]:
        failed = True
    return 1 if failed else 0


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
