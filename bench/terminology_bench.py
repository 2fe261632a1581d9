"""Terminology figures: load time (cold and warm), matcher compile time, matching time per query.

Contract: ``measure(rounds=20)`` run in a fresh process returns: the ICD-10 backbone read and
the whole ``Terminology.load()`` (backbone + curated concepts + lexicon) the first time in the
process (cold) and again (warm, median of 3: the backbone is then shared), the
``ConceptMatcher`` compile time (with the intent cue words, as the engine builds it), and
``ConceptMatcher.match`` per query over the latency bench's query mix, warm, median / p95 / p99,
overall and per query kind; and, where the terminology can be saved compiled (an index snapshot
carries such a copy and ``Engine.open`` reads it), the time to read that copy back. Every timed match is checked against the query's expected first
concept (or no concept), outside the clock. Budgets (issue 3): load <= 0.5 s, match <= 0.5 ms
median warm.

``python -m bench.terminology_bench`` prints the figures as JSON.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_match(q, result) -> str | None:
    from search.icd10 import categories

    if q.expect is None:
        return f"expected no concept, got {result.matches[0].concept.id}" if result.matches else None
    if not result.matches:
        return f"expected a concept in {'|'.join(sorted(q.expect))}, got none"
    cats = set().union(*(categories(c) for c in result.matches[0].concept.icd10))
    if not cats & q.expect:
        return f"expected a concept in {'|'.join(sorted(q.expect))}, got {result.matches[0].concept.id}"
    return None


def measure(rounds: int = 20) -> dict:
    sys.path.insert(0, str(ROOT))
    from bench.latency import KINDS, QUERIES, rss_mib, summarize

    t0 = time.perf_counter()
    from search.icd10 import Backbone
    from search.matcher import ConceptMatcher
    from search.terminology import Terminology
    import_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    backbone = Backbone.load()
    backbone_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    term = Terminology.load(backbone=backbone)
    lexicon_s = time.perf_counter() - t0
    warm = []
    for _ in range(3):
        t0 = time.perf_counter()
        Terminology.load(backbone=backbone)
        warm.append(time.perf_counter() - t0)

    compiled_s = None
    if hasattr(term, "save") and hasattr(Terminology, "load_compiled"):
        # what Engine.open pays: the compiled copy an index snapshot carries
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "terminology.pickle"
            term.save(path)
            t0 = time.perf_counter()
            loaded = Terminology.load_compiled(path)
            compiled_s = time.perf_counter() - t0 if loaded is not None else None

    t0 = time.perf_counter()
    try:
        from search.intent import known_words
        cue_words = known_words()
    except ImportError:  # the intent module is optional for this figure
        cue_words = frozenset()
    cues_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    matcher = ConceptMatcher(term, known_words=cue_words)
    compile_s = time.perf_counter() - t0

    queries = list(QUERIES)
    for q in queries:  # warm-up, untimed
        matcher.match(q.text)
    ms: list[float] = []
    by_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    failures: dict[str, str] = {}
    gc.collect()
    for _ in range(rounds):
        for q in queries:
            t0 = time.perf_counter()
            result = matcher.match(q.text)
            dt = (time.perf_counter() - t0) * 1000
            why = check_match(q, result)
            if why:
                failures[q.text] = why
            ms.append(dt)
            by_kind[q.kind].append(dt)
    languages = sorted({lang for c in term.concepts.values() for lang in c.labels})
    return {
        "import_s": round(import_s, 4),
        "backbone_load_s": round(backbone_s, 4),
        "lexicon_load_s": round(lexicon_s, 4),
        "load_cold_s": round(backbone_s + lexicon_s, 4),
        "load_warm_s": round(statistics.median(warm), 4),
        "load_compiled_s": round(compiled_s, 4) if compiled_s is not None else None,
        "cues_load_s": round(cues_s, 4),
        "matcher_compile_s": round(compile_s, 4),
        "match": summarize(ms),
        "match_by_kind": {k: summarize(v) for k, v in by_kind.items() if v},
        "checks": {"timed": len(ms), "failed_queries": len(failures),
                   "failures": [{"query": k, "why": v} for k, v in failures.items()]},
        "concepts": len(term.concepts), "aliases": term.alias_count, "languages": len(languages),
        "backbone_codes": len(backbone), "digest": term.digest,
        "rss_mib": round(rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Terminology load and matching times. "
                                             "Example: python -m bench.terminology_bench")
    ap.add_argument("--rounds", type=int, default=20, help="timed passes over the query mix (default 20)")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    res = measure(args.rounds)
    text = json.dumps(res, ensure_ascii=False, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    print(f"terminology: load {res['load_cold_s']:.3f} s cold ({res['load_warm_s']:.3f} s warm), matcher compile "
          f"{res['matcher_compile_s']:.3f} s, match median {res['match']['p50']:.3f} ms (p99 {res['match']['p99']:.3f}); "
          f"{res['checks']['failed_queries']} check failures", file=sys.stderr)
    return 0 if not res["checks"]["failed_queries"] else 1


if __name__ == "__main__":
    sys.exit(main())
