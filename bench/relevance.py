"""Relevance bench: carematch against plain Whoosh BM25 on graded judgments, plus the shared dev set.

    python -m bench.relevance                      # fresh index of corpus/centres in a temp dir
    python -m bench.relevance --index indexes/default --json out.json
    python -m bench.relevance --check              # exit 1 if a figure left expected.json's tolerance

What it does, in one run:
1. builds (or opens, ``--index``) the engine's index and a :class:`bench.baseline.PlainBM25` index
   of the same offers;
2. runs the topics of ``bench/relevance/topics.tsv`` through both, writes TREC run files
   (``qid Q0 docid rank score tag``, ordered by ``(-score, docid)``) to ``bench/relevance/runs/``;
3. scores them against ``bench/relevance/qrels.txt``: nDCG@10, RR and R@5 per language and
   overall, and prints the engine's margin over the baseline;
4. runs the shared dev set through ``../shared/eval/score.py`` with this repository's CLI and
   prints its summary line;
5. compares the figures with ``bench/relevance/expected.json`` (``--update-expected`` rewrites it).

Metrics (the definitions are in bench/relevance/README.md and tested in tests/test_relevance.py):
nDCG@10 as trec_eval's ``ndcg_cut_10`` (gain = grade, discount log2(rank + 1), ideal ranking from
all the topic's judgments); RR = 1 / rank of the first offer graded >= 2 (0 if none); R@5 = share of
the topic's offers graded >= 2 found in the first 5. Means are over topics.

The engine's answer is grouped by centre; its run lists every offer it returned (each result's
``offer_id`` and the ``more`` offers folded under it) ordered by the engine's own offer score,
ties on offer id.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: python bench/relevance.py
    sys.path.insert(0, str(ROOT))

HERE = ROOT / "bench" / "relevance"
TOPICS = HERE / "topics.tsv"
QRELS = HERE / "qrels.txt"
EXPECTED = HERE / "expected.json"
RUNS = HERE / "runs"
CORPUS = ROOT / "corpus" / "centres"
SHARED_EVAL = ROOT.parent / "shared" / "eval"

REL_MIN = 2          # grade from which an offer counts as relevant for RR and R@5
NDCG_K, RECALL_K = 10, 5
METRICS = ("ndcg@10", "rr", "r@5")
RUN_DEPTH = 100      # offers written per topic in a run file
QID = re.compile(r"^[A-Za-z0-9_.-]+$")
LANG = re.compile(r"^[a-z]{2,3}$")


# --- files --------------------------------------------------------------------------------------

def read_topics(path: str | os.PathLike = TOPICS) -> list[tuple[str, str, str]]:
    """``qid<TAB>lang<TAB>query`` lines -> [(qid, lang, query)]; raises ValueError with file:line."""
    out, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3:
                raise ValueError(f"{path}:{no}: expected qid<TAB>lang<TAB>query, got {len(parts)} field(s)")
            qid, lang, query = parts
            if not QID.match(qid) or qid in seen:
                raise ValueError(f"{path}:{no}: bad or duplicate qid {qid!r}")
            if not LANG.match(lang):
                raise ValueError(f"{path}:{no}: bad language code {lang!r}")
            if not query.strip():
                raise ValueError(f"{path}:{no}: empty query")
            seen.add(qid)
            out.append((qid, lang, query))
    return out


def read_qrels(path: str | os.PathLike = QRELS) -> dict[str, dict[str, int]]:
    """TREC qrels ``qid 0 docid grade`` -> {qid: {docid: grade}}; raises ValueError with file:line."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 4 or parts[1] != "0" or not re.fullmatch(r"-?\d+", parts[3]):
                raise ValueError(f"{path}:{no}: expected 'qid 0 docid grade', got {line.strip()!r}")
            qid, _, doc, grade = parts
            if doc in out[qid]:
                raise ValueError(f"{path}:{no}: {qid} {doc} judged twice")
            out[qid][doc] = int(grade)
    return dict(out)


def order(scored: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    """Best first, ties broken on docid; a docid seen twice keeps its first (best) entry."""
    best: dict[str, float] = {}
    for doc, score in scored:
        if doc not in best or score > best[doc]:
            best[doc] = score
    return sorted(best.items(), key=lambda r: (-r[1], r[0]))


def write_run(path: str | os.PathLike, run: Mapping[str, Sequence[tuple[str, float]]], tag: str,
              depth: int = RUN_DEPTH) -> None:
    """TREC run file ``qid Q0 docid rank score tag``, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for qid in run:
            for rank, (doc, score) in enumerate(order(run[qid])[:depth], 1):
                f.write(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")
    os.replace(tmp, path)


def read_run(path: str | os.PathLike) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                qid, _, doc, _rank, score, _tag = line.split()
                out[qid].append((doc, float(score)))
    return {q: order(v) for q, v in out.items()}


# --- metrics ------------------------------------------------------------------------------------

def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg(ranked: Sequence[str], judged: Mapping[str, int], k: int = NDCG_K) -> float:
    """nDCG@k with gain = grade (trec_eval ``ndcg_cut``); 0 when the topic has no positive grade."""
    ideal = dcg(sorted((g for g in judged.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg([max(judged.get(d, 0), 0) for d in ranked[:k]]) / ideal


def reciprocal_rank(ranked: Sequence[str], judged: Mapping[str, int], min_grade: int = REL_MIN) -> float:
    for i, d in enumerate(ranked, 1):
        if judged.get(d, 0) >= min_grade:
            return 1.0 / i
    return 0.0


def recall(ranked: Sequence[str], judged: Mapping[str, int], k: int = RECALL_K, min_grade: int = REL_MIN) -> float:
    relevant = {d for d, g in judged.items() if g >= min_grade}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def topic_scores(ranked: Sequence[str], judged: Mapping[str, int]) -> dict[str, float]:
    return {"ndcg@10": ndcg(ranked, judged), "rr": reciprocal_rank(ranked, judged), "r@5": recall(ranked, judged)}


def evaluate(run: Mapping[str, Sequence[tuple[str, float]]], qrels: Mapping[str, Mapping[str, int]],
             topics: Sequence[tuple[str, str, str]]) -> dict:
    """Per-topic scores and their means per language and overall (``ALL``)."""
    per_topic = {}
    groups: dict[str, list[dict]] = defaultdict(list)
    for qid, lang, _ in topics:
        ranked = [d for d, _ in order(run.get(qid, []))]
        s = topic_scores(ranked, qrels.get(qid, {}))
        per_topic[qid] = s
        groups[lang].append(s)
        groups["ALL"].append(s)
    means = {g: {"n": len(rows), **{m: sum(r[m] for r in rows) / len(rows) for m in METRICS}}
             for g, rows in groups.items()}
    return {"topics": per_topic, "means": means}


# --- systems ------------------------------------------------------------------------------------

def engine_run(engine, topics: Sequence[tuple[str, str, str]], limit: int = 10) -> tuple[dict, dict]:
    """Engine offers per topic, each grouped result expanded into its offer and its ``more`` offers,
    ordered by the engine's offer score. Returns (run, errors by qid)."""
    run, errors = {}, {}
    for qid, _lang, query in topics:
        try:
            out = engine.search(query, limit=limit)
        except Exception as e:  # a failing query scores 0, and is reported
            run[qid], errors[qid] = [], f"{type(e).__name__}: {e}"
            continue
        scored = []
        for r in out.get("results") or []:
            scored.append((r["offer_id"], float(r.get("score") or 0.0)))
            for m in r.get("more") or []:
                scored.append((m["offer_id"], float(m.get("score") or 0.0)))
        run[qid] = order(scored)
    return run, errors


def baseline_run(bm25, topics: Sequence[tuple[str, str, str]], depth: int = RUN_DEPTH) -> dict:
    return {qid: order(bm25.search_scored(query, depth)) for qid, _lang, query in topics}


# --- shared dev set -----------------------------------------------------------------------------

def run_dev_set(index: Path, tsv: Path, score_py: Path, timeout: float = 600) -> dict:
    """Run ``score.py`` over the dev set with this repository's CLI; its summary line and figures."""
    if not score_py.exists() or not tsv.exists():
        return {"skipped": f"{score_py if not score_py.exists() else tsv} not found"}
    cmd = shlex.join([sys.executable, "-m", "search", "search", "--batch", "-", "--format", "jsonl",
                      "--index", str(index)])
    proc = subprocess.run([sys.executable, str(score_py), str(tsv), "--cmd", cmd, "--show-errors", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.splitlines()
    summary = next((l for l in reversed(lines) if l.startswith("summary:")), None)
    out: dict = {"returncode": proc.returncode, "summary": summary, "report": proc.stdout}
    if summary:
        out["figures"] = {k: float(v) for k, v in re.findall(r"(\w+)=([-\d.na]+)", summary)}
    else:
        out["error"] = (proc.stderr or proc.stdout)[-2000:]
    return out


# --- expected figures ---------------------------------------------------------------------------

def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def compare_expected(results: Mapping[str, Mapping], expected: Mapping) -> list[str]:
    """Lines ``system lang metric: got X, expected Y +/- tol`` for every figure out of tolerance."""
    bad = []
    for system, tol in expected.get("tolerance", {}).items():
        for lang, figs in expected.get("figures", {}).get(system, {}).items():
            got = results.get(system, {}).get(lang)
            for m, want in figs.items():
                if got is None:
                    bad.append(f"{system} {lang}: missing (expected {m} {want:.4f})")
                elif abs(got[m] - want) > tol:
                    bad.append(f"{system} {lang} {m}: got {got[m]:.4f}, expected {want:.4f} +/- {tol}")
    return bad


def expected_payload(results: Mapping[str, Mapping], old: Mapping | None, topics_path: Path, qrels_path: Path,
                     corpus_digest: str) -> dict:
    old = old or {}
    return {
        "about": "Figures of python -m bench.relevance on the bundled corpus (Pyserini-style regression "
                 "check); rewrite with --update-expected after a deliberate change and say why in the commit.",
        "topics": digest(topics_path), "qrels": digest(qrels_path), "corpus": corpus_digest[:16],
        "tolerance": old.get("tolerance", {"baseline": 0.0005, "engine": 0.005}),
        "figures": {system: {lang: {m: round(v[m], 4) for m in METRICS} for lang, v in sorted(results[system].items())}
                    for system in ("baseline", "engine")},
    }


# --- report -------------------------------------------------------------------------------------

def format_table(engine: Mapping, baseline: Mapping) -> str:
    langs = sorted((l for l in engine if l != "ALL"), key=lambda l: (-engine[l]["n"], l)) + ["ALL"]
    head = (f"{'lang':5} {'n':>3} | {'engine':^20} | {'plain BM25':^20} | {'margin (engine - BM25)':^22}\n"
            f"{'':5} {'':>3} | {'nDCG@10':>7} {'RR':>5} {'R@5':>5} | {'nDCG@10':>7} {'RR':>5} {'R@5':>5} | "
            f"{'nDCG@10':>8} {'RR':>6} {'R@5':>6}")
    rows = [head, "-" * len(head.splitlines()[1])]
    for l in langs:
        e, b = engine[l], baseline[l]
        rows.append(f"{l:5} {e['n']:3d} | {e['ndcg@10']:7.3f} {e['rr']:5.3f} {e['r@5']:5.3f} | "
                    f"{b['ndcg@10']:7.3f} {b['rr']:5.3f} {b['r@5']:5.3f} | "
                    f"{e['ndcg@10'] - b['ndcg@10']:+8.3f} {e['rr'] - b['rr']:+6.3f} {e['r@5'] - b['r@5']:+6.3f}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.relevance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, help="engine index to use (default: build one of corpus/centres in a temp dir)")
    ap.add_argument("--json", type=Path, help="write machine-readable results here")
    ap.add_argument("--topics", type=Path, default=TOPICS)
    ap.add_argument("--qrels", type=Path, default=QRELS)
    ap.add_argument("--runs", type=Path, default=RUNS, help="directory for the TREC run files (default: %(default)s)")
    ap.add_argument("--corpus", type=Path, nargs="+", default=[CORPUS],
                    help="corpus for the fresh engine index and the baseline (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=10, help="engine results (centres) per query (default: %(default)s)")
    ap.add_argument("--dev-set", type=Path, default=SHARED_EVAL / "dev_queries.tsv")
    ap.add_argument("--score-py", type=Path, default=SHARED_EVAL / "score.py")
    ap.add_argument("--no-dev", action="store_true", help="skip the shared dev set")
    ap.add_argument("--check", action="store_true", help="exit 1 if a figure is out of expected.json's tolerance")
    ap.add_argument("--update-expected", action="store_true", help="rewrite expected.json with this run's figures")
    ap.add_argument("--expected", type=Path, default=EXPECTED)
    ap.add_argument("--show", type=int, default=10, help="list this many topics where the engine trails the baseline")
    args = ap.parse_args(argv)

    from bench.baseline import PlainBM25
    from search.corpus import load_corpus
    from search.engine import Engine

    topics = read_topics(args.topics)
    corpus = load_corpus(args.corpus)
    qrels = read_qrels(args.qrels)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="carematch-relevance-") as tmp:
        tmp = Path(tmp)
        index = args.index
        if index is None:
            from search.indexer import build_index
            index = tmp / "index"
            build_index(args.corpus, index)
        engine = Engine.open(index)
        e_run, e_errors = engine_run(engine, topics, args.limit)
        bm25 = PlainBM25.build(corpus, tmp / "plain")
        try:
            b_run = baseline_run(bm25, topics)
        finally:
            bm25.close()
        dev = {"skipped": "--no-dev"} if args.no_dev else run_dev_set(index, args.dev_set, args.score_py)

    write_run(args.runs / "engine.run", e_run, "carematch")
    write_run(args.runs / "baseline.run", b_run, "plain-bm25")
    ev_e, ev_b = evaluate(e_run, qrels, topics), evaluate(b_run, qrels, topics)
    results = {"engine": ev_e["means"], "baseline": ev_b["means"]}
    margin = {l: {m: ev_e["means"][l][m] - ev_b["means"][l][m] for m in METRICS} for l in ev_e["means"]}

    print(f"relevance: {len(topics)} topics in {len(ev_e['means']) - 1} languages, "
          f"{sum(len(v) for v in qrels.values())} judgments; runs in {args.runs}")
    print(format_table(ev_e["means"], ev_b["means"]))
    behind = [l for l in ev_e["means"] if l != "ALL" and margin[l]["ndcg@10"] <= 0]
    print(f"nDCG@10 margin overall {margin['ALL']['ndcg@10']:+.3f}; engine ahead in "
          f"{len(ev_e['means']) - 1 - len(behind)} of {len(ev_e['means']) - 1} languages"
          + (f" (not in: {', '.join(sorted(behind))})" if behind else ""))
    trailing = sorted((ev_e["topics"][q]["ndcg@10"] - ev_b["topics"][q]["ndcg@10"], q) for q, _, _ in topics)
    trailing = [(d, q) for d, q in trailing if d < 0][: args.show]
    if trailing:
        text = {q: (l, s) for q, l, s in topics}
        print(f"topics where the engine trails the baseline (nDCG@10), worst {len(trailing)}:")
        for d, q in trailing:
            print(f"  {q} {text[q][0]} {text[q][1]!r}: {ev_e['topics'][q]['ndcg@10']:.3f} vs "
                  f"{ev_b['topics'][q]['ndcg@10']:.3f}")
    for q, err in sorted(e_errors.items()):
        print(f"  engine error on {q}: {err}")
    if dev.get("summary"):
        print(f"dev set ({args.dev_set.name}) {dev['summary']}")
    elif "skipped" in dev:
        print(f"dev set: skipped ({dev['skipped']})")
    else:
        print(f"dev set: score.py failed (exit {dev.get('returncode')}): {dev.get('error', '').strip()[-500:]}")

    old = json.loads(args.expected.read_text(encoding="utf-8")) if args.expected.exists() else None
    mismatches = compare_expected(results, old) if old else ["no expected figures"]
    if old and (old.get("topics") != digest(args.topics) or old.get("qrels") != digest(args.qrels)):
        mismatches.insert(0, "topics or qrels changed since expected.json was written")
    notes = []
    if old and old.get("corpus") != corpus.digest[:16]:
        notes.append("note: the corpus changed since expected.json was written; differences may come from it")
    if args.update_expected:
        args.expected.write_text(json.dumps(expected_payload(results, old, args.topics, args.qrels, corpus.digest),
                                            indent=1,
                                            ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"expected figures written to {args.expected}")
    elif mismatches:
        print(f"expected figures ({args.expected.name}): {len(mismatches)} difference(s)")
        for line in notes + mismatches[:20]:
            print(f"  {line}")
    else:
        print(f"expected figures ({args.expected.name}): all within tolerance")
    print(f"took {time.perf_counter() - t0:.1f} s")

    if args.json:
        payload = {
            "bench": "relevance", "topics": len(topics), "judgments": sum(len(v) for v in qrels.values()),
            "metrics": {"ndcg@10": "gain = grade, trec_eval ndcg_cut_10", "rr": f"first grade >= {REL_MIN}",
                        "r@5": f"grade >= {REL_MIN}"},
            "engine": ev_e["means"], "baseline": ev_b["means"], "margin": margin,
            "per_topic": {q: {"engine": ev_e["topics"][q], "baseline": ev_b["topics"][q]} for q, _, _ in topics},
            "engine_errors": e_errors, "dev": {k: v for k, v in dev.items() if k != "report"},
            "expected": {"ok": not mismatches, "differences": mismatches},
            "runs": {"engine": str(args.runs / "engine.run"), "baseline": str(args.runs / "baseline.run")},
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp_json = args.json.with_name(f".{args.json.name}.tmp-{os.getpid()}")
        tmp_json.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp_json, args.json)
    return 1 if args.check and mismatches and not args.update_expected else 0


if __name__ == "__main__":
    sys.exit(main())
