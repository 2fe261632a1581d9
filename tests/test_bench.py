"""The benchmarks' own parts: the synthetic corpus generator, the latency harness, the report."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench import latency, run, synthetic  # noqa: E402
from search.corpus import check_corpus  # noqa: E402


def test_synthetic_records_validate_through_the_corpus_schema(tmp_path):
    files = synthetic.write_corpus(80, 3, tmp_path / "syn")
    assert [f.name for f in files] == ["centres.jsonl", "offers-0000.jsonl"]
    corpus, problems = check_corpus([tmp_path / "syn"])
    assert problems == []
    assert len(corpus.offers) == 80
    assert len(corpus.centres) == round(80 / 14)
    services = {o.service for o in corpus.offers}
    assert "international_office" in services and "treatment" in services
    for offer in corpus.offers:
        assert {"fr", "en"} <= set(offer.text)
        assert offer.id.startswith(offer.centre_id + "-")
        assert offer.icd10 or offer.service == "international_office"
    for centre in corpus.centres.values():
        assert centre.website.startswith("https://example.org/")  # fictional centres only
        assert "synthétique" in centre.name


def test_synthetic_is_seeded_and_sharded(tmp_path, monkeypatch):
    a = synthetic.write_corpus(40, 7, tmp_path / "a")
    b = synthetic.write_corpus(40, 7, tmp_path / "b")
    c = synthetic.write_corpus(40, 8, tmp_path / "c")
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]
    assert [f.read_bytes() for f in a] != [f.read_bytes() for f in c]
    monkeypatch.setattr(synthetic, "SHARD_OFFERS", 15)
    files = synthetic.write_corpus(40, 7, tmp_path / "d")
    assert [f.name for f in files] == ["centres.jsonl", "offers-0000.jsonl", "offers-0001.jsonl", "offers-0002.jsonl"]
    lines = [json.loads(line) for f in files[1:] for line in f.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for f in b[1:] for r in map(json.loads, f.read_text().splitlines())]


def test_synthetic_texts_carry_the_terminology_labels(tmp_path):
    from search.terminology import default_terminology

    term = default_terminology()
    _, offers = synthetic.generate(60, 1, term)
    coded = [o for o in offers if o["icd10"] and o["icd10"] != [synthetic.GENERAL_RANGE]]
    assert coded
    for o in coded:
        candidates = [c for c in term.concepts.values() if set(c.icd10) <= set(o["icd10"])]
        for lang, text in o["text"].items():
            assert any(c.labels[lang].casefold() in text["title"].casefold() for c in candidates), text["title"]


def test_percentiles_are_nearest_rank():
    s = latency.summarize([float(x) for x in range(1, 101)])
    assert (s["p50"], s["p95"], s["p99"], s["max"], s["n"]) == (50.0, 95.0, 99.0, 100.0, 100)
    assert s["qps"] == round(100 / (5050 / 1000), 1)


@pytest.fixture(scope="module")
def tiny_indexes(tmp_path_factory):
    """30 synthetic offers, indexed by the engine and by the plain-BM25 baseline."""
    from bench.baseline import PlainBM25
    from search.indexer import build_index

    root = tmp_path_factory.mktemp("bench")
    synthetic.write_corpus(30, 1, root / "corpus")
    build_index([root / "corpus"], root / "ix" / "default")
    PlainBM25.build([root / "corpus"], root / "bm25").close()
    return root / "ix" / "default", root / "bm25"


def test_latency_harness_reports_its_fields(tiny_indexes):
    index, bm25 = tiny_indexes
    queries = [q for q in latency.QUERIES if q.text in ("C50", "mélanone", "lung cancer treatment", "second opinion")]
    assert len(queries) == 4
    res = latency.measure(index, bm25, rounds=2, queries=queries)
    e = res["engine"]
    assert res["offers"] == 30 and res["queries"] == 4 and res["rounds"] == 2
    assert e["open_s"] > 0 and e["first_query_ms"] > 0
    for fig in (e["warm"], res["baseline"]["warm"]):
        assert set(fig) == {"n", "p50", "p95", "p99", "max", "mean", "qps"}
        assert fig["n"] == 8 and 0 < fig["p50"] <= fig["p95"] <= fig["p99"] <= fig["max"]
    assert set(e["by_kind"]) == {"code", "typo", "concept", "free"}
    assert e["checks"] == {"timed": 8, "failed": 0, "failures": []} and res["valid"]
    assert e["rss_peak_mib"] >= e["rss_open_mib"] > 0
    assert res["ratio"]["p50"] == round(res["baseline"]["warm"]["p50"] / e["warm"]["p50"], 2)


def test_a_wrong_result_invalidates_the_timing(tiny_indexes):
    index, _ = tiny_indexes
    wrong = latency.Query("code", "-", "C50", frozenset({"C61"}))
    res = latency.measure(index, None, rounds=1, queries=[wrong])
    assert not res["valid"]
    assert res["engine"]["checks"]["failed"] >= 1  # the timed pass (and the cached one)
    assert "C61" in res["engine"]["checks"]["failures"][0]["why"]
    assert "baseline" not in res


def test_report_lists_every_budget_and_draws_the_chart():
    res = {"quick": True, "date": "2026-01-01", "commit": "abc1234", "dirty": False, "duration_s": 1.0,
           "machine": {"nproc": 2, "cpu": "test cpu", "python": "3.11", "platform": "linux", "mem_mib": 1024,
                       "whoosh": "2.7.5"},
           "loadavg_start": 0.1, "loadavg_end": 0.2, "skipped": [], "errors": [], "json": "x.json",
           "svg": "latency.svg", "queries": 1, "corpora": {}}
    warm = {"n": 1, "p50": 2.0, "p95": 3.0, "p99": 4.0, "max": 4.0, "mean": 2.0, "qps": 500.0}
    res["corpora"]["bundled"] = {"latency": {
        "offers": 372, "queries": 1, "rounds": 1, "valid": True, "ratio": {"p50": 2.0, "p99": 2.0},
        "engine": {"open_s": 0.5, "first_query_ms": 9.0, "warm": warm, "by_kind": {"concept": warm},
                   "cached": warm, "checks": {"timed": 1, "failed": 0, "failures": []}, "rss_peak_mib": 120.0},
        "baseline": {"warm": dict(warm, p50=4.0, p99=8.0), "by_kind": {}, "checks": {"timed": 1, "failed": 0,
                                                                                      "failures": []}}}}
    rows = run.budgets(res)
    verdicts = {(r["budget"], r["target"]): r["verdict"] for r in rows}
    assert verdicts[("End to end, bundled corpus", "p50 <= 3 ms")] == "met"
    assert verdicts[("End to end, bundled corpus", "p99 <= 15 ms")] == "met"
    assert verdicts[("End to end, 10,000 synthetic offers", "p99 <= 30 ms")] == "not measured"
    assert verdicts[("Resident memory, bundled corpus", "<= 300 MiB")] == "met"
    assert len(rows) >= 13
    res["budgets"] = rows
    md = run.markdown(res)
    assert "| End to end, bundled corpus | p50 <= 3 ms | 2.00 ms | met |" in md
    assert "2 CPUs" in md and "test cpu" in md
    chart = run.svg(res)
    assert chart.startswith("<svg") and chart.rstrip().endswith("</svg>") and "engine p50" in chart


def test_a_cached_build_is_reused_only_while_its_code_and_data_are_unchanged(tmp_path):
    import hashlib

    from bench import build_bench

    work = tmp_path / "synthetic-5-s1"
    (work / "ix").mkdir(parents=True)
    (work / "bm").mkdir()
    real = hashlib.sha256((ROOT / "search" / "__init__.py").read_bytes()).hexdigest()[:16]
    stamp = {"key": build_bench.cache_key(5, 1), "index": str(work / "ix"), "baseline_dir": str(work / "bm"),
             "engine": {"modules": {"search/__init__.py": real}}, "baseline": {"modules": {"search/__init__.py": real}}}

    def hit(**change):
        (work / "cache.json").write_text(json.dumps({**stamp, **change}), encoding="utf-8")
        return build_bench.cached(5, 1, tmp_path)

    assert hit()["cached"] is True
    assert hit(engine={"modules": {"search/__init__.py": "0" * 16}}) is None  # the build's code changed
    assert hit(key="something else") is None  # size, seed, generator, terminology...
    assert build_bench.cached(6, 1, tmp_path) is None
