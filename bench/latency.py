"""Query latency of the engine, cold and warm, beside plain Whoosh BM25 over the same offers.

Contract: ``measure(index, baseline=None, rounds=3)`` opens the engine once (cold: the time of
``Engine.open`` in this process, terminology included, and of the first query), then runs the
fixed query mix ``QUERIES`` ``rounds`` times (after one untimed warm-up pass) and returns a dict
of figures: per-query milliseconds p50 / p95 / p99 / max / mean, queries per second, the same
per query kind, resident memory (after opening, and the peak of the engine part), and, when a
PlainBM25 directory is given, the baseline's figures on the same mix and the ratios between the
two. Run it in a fresh process (``python -m bench.latency``, as ``bench.run`` does) so that
"cold" is cold and the memory is the engine's own.

Each timed query is checked against a result fixed in advance (the first concept's ICD-10
category for concept, typo and code queries; no concept for free text; a non-empty result list
where one is certain), outside the clock; a failed check is counted and listed, and the run's
figures are marked invalid, so a broken path cannot post a fast time.

The engine keeps a small result cache keyed by the normalised request; the warm figures are
measured with that cache emptied before each query (outside the clock), so they are the cost of
understanding + retrieval + ranking. Ten queries answered from the filled cache are reported as
``cached``. What the engine derives per snapshot and shares between requests (term postings and
BM25F scores, rule verdicts per feature id and request key) stays warm, as in a serving process.
Percentiles are nearest-rank over all timed queries.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Query:
    kind: str              # concept | typo | code | free
    lang: str              # the language it is written in ("-" for codes)
    text: str
    expect: frozenset[str] | None  # ICD-10 categories the first concept must cover; None: no concept
    results: bool = True   # the engine must return at least one result
    baseline: bool = False  # plain BM25 must return at least one result (its words are in the texts)


def _q(kind: str, lang: str, text: str, expect: str | None, results: bool = True, baseline: bool = False) -> Query:
    return Query(kind, lang, text, frozenset(expect.split("|")) if expect else None, results, baseline)


# The fixed mix: pathology in 22 languages and their scripts, lay and clinical words,
# abbreviations, typos, ICD-10 codes, and free text that names no pathology (the case where only
# the text index can answer, and where common words such as "cancer" make plain BM25 slow).
QUERIES: tuple[Query, ...] = (
    _q("concept", "fr", "cancer du sein deuxième avis", "C50", baseline=True),
    _q("concept", "fr", "leucémie aiguë lymphoblastique enfant", "C91", baseline=True),
    _q("concept", "fr", "lymphome de Hodgkin", "C81", baseline=True),
    _q("concept", "fr", "neuroblastome", "C74|C47|C48"),
    _q("concept", "en", "lung cancer treatment", "C34", baseline=True),
    _q("concept", "en", "soft tissue sarcoma second opinion", "C49", baseline=True),
    _q("concept", "en", "AML", "C92"),
    _q("concept", "en", "multiple myeloma", "C90", baseline=True),
    _q("concept", "en", "Ewing sarcoma in my daughter", "C40|C41|C49", baseline=True),
    _q("concept", "en", "glioblastoma", "C71"),
    _q("concept", "es", "cáncer de próstata", "C61", baseline=True),
    _q("concept", "es", "linfoma no Hodgkin segunda opinión", "C82|C83|C84|C85", baseline=True),
    _q("concept", "es", "cáncer de páncreas", "C25", baseline=True),
    _q("concept", "de", "Brustkrebs Zweitmeinung", "C50", baseline=True),
    _q("concept", "de", "Bauchspeicheldrüsenkrebs", "C25"),
    _q("concept", "de", "Leberkrebs", "C22"),
    _q("concept", "it", "tumore al polmone", "C34"),
    _q("concept", "it", "mieloma multiplo", "C90", baseline=True),
    _q("concept", "pt", "câncer de mama", "C50", baseline=True),
    _q("concept", "nl", "darmkanker", "C18|C19|C20"),
    _q("concept", "pl", "rak piersi", "C50"),
    _q("concept", "ro", "cancer de col uterin", "C53", baseline=True),
    _q("concept", "tr", "akciğer kanseri", "C34"),
    _q("concept", "ru", "рак молочной железы", "C50", baseline=True),
    _q("concept", "ru", "меланома кожи", "C43"),
    _q("concept", "uk", "рак легенів", "C34"),
    _q("concept", "ar", "سرطان الثدي", "C50", baseline=True),
    _q("concept", "ar", "سرطان القولون", "C18|C19|C20"),
    _q("concept", "fa", "سرطان پستان", "C50"),
    _q("concept", "he", "סרטן השד", "C50"),
    _q("concept", "zh", "乳腺癌", "C50"),
    _q("concept", "zh", "肺癌", "C34"),
    _q("concept", "ja", "乳がん", "C50"),
    _q("concept", "ja", "悪性リンパ腫", "C81|C82|C83|C84|C85"),
    _q("concept", "ko", "유방암", "C50"),
    _q("concept", "ko", "위암", "C16"),
    _q("concept", "vi", "ung thư vú", "C50"),
    _q("concept", "hi", "स्तन कैंसर", "C50"),
    _q("concept", "el", "καρκίνος του μαστού", "C50"),
    _q("concept", "id", "kanker payudara", "C50"),
    _q("typo", "fr", "mélanone", "C43"),
    _q("typo", "en", "leukemai", "C91|C92|C93|C94|C95"),
    _q("typo", "en", "lymphona", "C81|C82|C83|C84|C85"),
    _q("typo", "de", "Melanon", "C43"),
    _q("typo", "ru", "меланомма", "C43"),
    _q("typo", "es", "osteosarcona", "C40|C41"),
    _q("typo", "it", "mesoteliona pleurico", "C45"),
    _q("typo", "pt", "linfonma", "C81|C82|C83|C84|C85"),
    _q("code", "-", "C50", "C50"),
    _q("code", "-", "CIM-10 C92.0", "C92"),
    _q("code", "en", "ICD-10 C61 second opinion", "C61"),
    _q("code", "-", "C34.1", "C34"),
    _q("code", "-", "C71", "C71"),
    _q("free", "fr", "consultation à distance pour mon enfant", None),
    _q("free", "en", "international patient office Paris", None, baseline=True),
    _q("free", "en", "second opinion", None, baseline=True),
    _q("free", "es", "segunda opinión médica en Francia", None, baseline=True),
    _q("free", "de", "Behandlung in Frankreich", None, baseline=True),
    _q("free", "ar", "مكتب المرضى الدوليين", None, baseline=True),
    _q("free", "en", "my mother has cancer, which hospital in France can treat her", None, baseline=True),
    _q("free", "fr", "mon père a un cancer, quel hôpital en France peut le soigner", None, baseline=True),
    _q("free", "es", "mi madre tiene cáncer y busca tratamiento en Francia", None, baseline=True),
    _q("free", "ru", "онлайн консультация онколога", None),
)
KINDS = ("concept", "typo", "code", "free")


def rss_mib(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    (2.0, 4.0)
    """
    if not sorted_ms:
        return float("nan")
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


def summarize(ms: list[float]) -> dict:
    """p50 / p95 / p99 / max / mean (ms) and queries per second of a list of per-query times."""
    s = sorted(ms)
    total = sum(s)
    return {"n": len(s), "p50": round(percentile(s, 0.50), 3), "p95": round(percentile(s, 0.95), 3),
            "p99": round(percentile(s, 0.99), 3), "max": round(s[-1], 3) if s else float("nan"),
            "mean": round(total / len(s), 3) if s else float("nan"),
            "qps": round(len(s) / (total / 1000), 1) if total else float("nan")}


def check_engine(q: Query, out: dict) -> str | None:
    """Why the engine's answer to ``q`` is wrong, or None."""
    from search.icd10 import categories

    concepts = out.get("concepts") or []
    if q.expect is None:
        if concepts:
            return f"expected no concept, got {concepts[0].get('id')}"
    else:
        if not concepts:
            return f"expected a concept in {'|'.join(sorted(q.expect))}, got none"
        cats = set().union(*(categories(c) for c in concepts[0].get("icd10") or [concepts[0]["id"]]))
        if not cats & q.expect:
            return f"expected a concept in {'|'.join(sorted(q.expect))}, got {concepts[0].get('id')}"
    if q.results and not out.get("results"):
        return "no result"
    return None


def check_baseline(q: Query, ids: list[str]) -> str | None:
    if q.baseline and not ids:
        return "no result"
    return None


def _clear_cache(engine) -> None:
    """Empty the engine's result cache (outside the clock) so each timed query is computed."""
    engine.clear_cache()


def _timed_loop(run, check, queries: list[Query], rounds: int, seed: int, before=None
                ) -> tuple[list[float], dict, list, dict]:
    """Run every query ``rounds`` times in a seeded order; ms, ms by kind, failures, ms by query."""
    rng = random.Random(seed)
    ms: list[float] = []
    by_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    by_query: dict[str, list[float]] = {}
    failures: list[dict] = []
    gc.collect()
    for _ in range(rounds):
        order = list(queries)
        rng.shuffle(order)
        for q in order:
            if before:
                before()
            t0 = time.perf_counter()
            out = run(q.text)
            dt = (time.perf_counter() - t0) * 1000
            why = check(q, out)  # outside the clock, inside the loop
            if why:
                failures.append({"query": q.text, "lang": q.lang, "kind": q.kind, "why": why})
            ms.append(dt)
            by_kind[q.kind].append(dt)
            by_query.setdefault(q.text, []).append(dt)
    return ms, by_kind, failures, by_query


def slowest(by_query: dict[str, list[float]], queries: list[Query], extra: dict | None = None, n: int = 5) -> list[dict]:
    """The ``n`` queries with the highest median time (where to look first)."""
    kinds = {q.text: q for q in queries}
    rows = sorted(((sorted(v)[(len(v) - 1) // 2], max(v), text) for text, v in by_query.items()), reverse=True)[:n]
    return [{"query": text, "kind": kinds[text].kind, "lang": kinds[text].lang, "median_ms": round(med, 2),
             "max_ms": round(mx, 2), **({"scored": extra.get(text)} if extra else {})} for med, mx, text in rows]


def _dedupe(failures: list[dict]) -> list[dict]:
    seen, out = set(), []
    for f in failures:
        key = (f["query"], f["why"])
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def measure(index: str | Path, baseline: str | Path | None = None, rounds: int = 3,
            queries: list[Query] | tuple[Query, ...] = QUERIES, seed: int = 1) -> dict:
    """Cold and warm latency of the engine (and of the baseline) over ``queries``."""
    queries = list(queries)
    rss_start = rss_mib()
    t0 = time.perf_counter()
    from search.engine import Engine
    import_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    engine = Engine.open(index)
    open_s = time.perf_counter() - t0
    rss_open = rss_mib()
    t0 = time.perf_counter()
    first = engine.search(queries[0].text)
    first_ms = (time.perf_counter() - t0) * 1000
    docs = engine.manifest.get("counts", {}).get("offers")

    # warm-up: every query once, untimed (lazy models, OS cache, CPU caches)
    scored = {}
    for q in queries:
        _clear_cache(engine)
        scored[q.text] = engine.search(q.text).get("total")  # offers the engine ranked for it
    ms, by_kind, failures, by_query = _timed_loop(lambda text: engine.search(text), check_engine, queries, rounds, seed,
                                        before=lambda: _clear_cache(engine))
    # the cache path: ten queries answered from the filled cache
    cached_ms = []
    for q in queries[:10]:
        engine.search(q.text)
        t0 = time.perf_counter()
        out = engine.search(q.text)
        cached_ms.append((time.perf_counter() - t0) * 1000)
        if check_engine(q, out):
            failures.append({"query": q.text, "lang": q.lang, "kind": q.kind, "why": "cached: " + check_engine(q, out)})
    failures = _dedupe(failures)
    result = {
        "offers": docs,
        "queries": len(queries), "rounds": rounds,
        "engine": {
            "import_s": round(import_s, 4), "open_s": round(open_s, 4), "first_query_ms": round(first_ms, 2),
            "first_query_ok": check_engine(queries[0], first) is None,
            "warm": summarize(ms), "by_kind": {k: summarize(v) for k, v in by_kind.items() if v},
            "cached": summarize(cached_ms),
            "slowest": slowest(by_query, queries, scored),
            "checks": {"timed": len(ms), "failed": len(failures), "failures": failures[:50]},
            "rss_start_mib": round(rss_start, 1), "rss_open_mib": round(rss_open, 1),
            "rss_after_mib": round(rss_mib(), 1), "rss_peak_mib": round(rss_mib("VmHWM"), 1),
        },
        "valid": not failures,
    }
    del engine
    gc.collect()

    if baseline:
        from bench.baseline import PlainBM25

        t0 = time.perf_counter()
        bm25 = PlainBM25.open(baseline)
        b_open = time.perf_counter() - t0
        for q in queries:
            bm25.search(q.text)
        b_ms, b_kind, b_fail, b_query = _timed_loop(lambda text: bm25.search(text), check_baseline, queries, rounds, seed)
        bm25.close()
        b_fail = _dedupe(b_fail)
        e, b = result["engine"]["warm"], summarize(b_ms)
        result["baseline"] = {
            "open_s": round(b_open, 4), "warm": b, "by_kind": {k: summarize(v) for k, v in b_kind.items() if v},
            "slowest": slowest(b_query, queries),
            "checks": {"timed": len(b_ms), "failed": len(b_fail), "failures": b_fail[:50]},
        }
        # > 1: the engine is that many times faster than plain BM25 on the same offers and queries
        result["ratio"] = {p: round(b[p] / e[p], 2) if e[p] else None for p in ("p50", "p95", "p99", "mean")}
        result["valid"] = result["valid"] and not b_fail
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Latency of carematch (cold and warm) beside plain Whoosh BM25. "
                                             "Example: python -m bench.latency --index indexes/default")
    ap.add_argument("--index", required=True, help="engine index (the link or a snapshot)")
    ap.add_argument("--baseline", help="PlainBM25 directory over the same offers")
    ap.add_argument("--rounds", type=int, default=3, help="timed passes over the query mix (default 3)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    res = measure(args.index, args.baseline, rounds=args.rounds)
    text = json.dumps(res, ensure_ascii=False, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    e = res["engine"]
    print(f"engine: open {e['open_s']:.3f} s, first query {e['first_query_ms']:.1f} ms, warm p50 "
          f"{e['warm']['p50']:.2f} / p99 {e['warm']['p99']:.2f} ms, {e['warm']['qps']:.0f} q/s, "
          f"peak RSS {e['rss_peak_mib']:.0f} MiB, checks failed {e['checks']['failed']}", file=sys.stderr)
    if "baseline" in res:
        b = res["baseline"]
        print(f"baseline: warm p50 {b['warm']['p50']:.2f} / p99 {b['warm']['p99']:.2f} ms; ratio p50 "
              f"{res['ratio']['p50']}x, checks failed {b['checks']['failed']}", file=sys.stderr)
    return 0 if res["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
