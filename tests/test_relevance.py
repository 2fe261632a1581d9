"""The relevance bench: metric functions on hand-made cases, the judgment files, the plain-BM25 baseline."""
from __future__ import annotations

import math
import re
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bench/ is not an installed package
    sys.path.insert(0, str(ROOT))

from bench import relevance as rel  # noqa: E402
from bench.baseline import PlainBM25, plain_query  # noqa: E402

LANGS22 = set("fr en es de it pt nl pl ro tr ru uk ar fa he zh ja ko vi hi el id".split())
DEV_SET = ROOT.parent / "shared" / "eval" / "dev_queries.tsv"


# --- metrics ------------------------------------------------------------------------------------

JUDGED = {"a": 3, "b": 2, "c": 1, "d": 2}


def test_ndcg_hand_computed():
    # gains 2, 0, 3 at ranks 1-3; ideal 3, 2, 2, 1
    got = rel.ndcg(["b", "x", "a"], JUDGED)
    dcg = 2 / 1 + 0 / math.log2(3) + 3 / 2
    ideal = 3 / 1 + 2 / math.log2(3) + 2 / 2 + 1 / math.log2(5)
    assert got == pytest.approx(dcg / ideal)
    assert got == pytest.approx(0.6148, abs=1e-4)


def test_ndcg_perfect_empty_and_cutoff():
    assert rel.ndcg(["a", "b", "d", "c"], JUDGED) == pytest.approx(1.0)
    assert rel.ndcg(["b", "d", "a", "c"], JUDGED) < 1.0
    assert rel.ndcg([], JUDGED) == 0.0
    assert rel.ndcg(["a"], {}) == 0.0
    assert rel.ndcg([f"x{i}" for i in range(10)] + ["a"], JUDGED) == 0.0  # rank 11 is cut off
    # k=1: only the first position counts, against the best single grade
    assert rel.ndcg(["b", "a"], JUDGED, k=1) == pytest.approx(2 / 3)


def test_reciprocal_rank_counts_grades_from_two():
    assert rel.reciprocal_rank(["x", "y", "b"], JUDGED) == pytest.approx(1 / 3)
    assert rel.reciprocal_rank(["c", "d"], JUDGED) == pytest.approx(1 / 2)  # grade 1 is not enough
    assert rel.reciprocal_rank(["c", "x"], JUDGED) == 0.0
    assert rel.reciprocal_rank(["c"], JUDGED, min_grade=1) == 1.0


def test_recall_at_5():
    # relevant (grade >= 2): a, b, d
    assert rel.recall(["a", "x", "c", "y", "z", "b"], JUDGED) == pytest.approx(1 / 3)
    assert rel.recall(["d", "b", "a"], JUDGED) == 1.0
    assert rel.recall(["d", "b", "a"], JUDGED, k=2) == pytest.approx(2 / 3)
    assert rel.recall(["a"], {"c": 1}) == 0.0


def test_order_breaks_ties_on_docid_and_keeps_best_duplicate():
    assert rel.order([("b", 1.0), ("a", 1.0), ("c", 2.0), ("b", 0.5)]) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


def test_evaluate_means_per_language():
    topics = [("q1", "fr", "x"), ("q2", "fr", "y"), ("q3", "ja", "z")]
    qrels = {"q1": {"a": 2}, "q2": {"b": 3}, "q3": {"c": 2}}
    run = {"q1": [("a", 1.0)], "q2": [("x", 2.0), ("b", 1.0)], "q3": []}
    ev = rel.evaluate(run, qrels, topics)
    assert ev["topics"]["q1"] == {"ndcg@10": 1.0, "rr": 1.0, "r@5": 1.0}
    assert ev["topics"]["q2"]["rr"] == 0.5
    assert ev["means"]["fr"]["n"] == 2
    assert ev["means"]["fr"]["rr"] == pytest.approx(0.75)
    assert ev["means"]["ja"]["ndcg@10"] == 0.0
    assert ev["means"]["ALL"]["n"] == 3
    assert ev["means"]["ALL"]["rr"] == pytest.approx(0.5)


def test_engine_run_expands_grouped_results_by_score():
    class FakeEngine:
        def search(self, text, limit=10):
            if text == "boom":
                raise ValueError("bad query")
            return {"results": [
                {"offer_id": "a-1", "score": 0.9, "more": [{"offer_id": "a-2", "score": 0.5}]},
                {"offer_id": "b-1", "score": 0.7, "more": [{"offer_id": "b-2", "score": 0.5}]},
            ]}

    run, errors = rel.engine_run(FakeEngine(), [("q1", "en", "x"), ("q2", "en", "boom")])
    assert run["q1"] == [("a-1", 0.9), ("b-1", 0.7), ("a-2", 0.5), ("b-2", 0.5)]
    assert run["q2"] == [] and "bad query" in errors["q2"]


def test_run_file_format_and_round_trip(tmp_path):
    path = tmp_path / "runs" / "x.run"
    rel.write_run(path, {"q1": [("b", 1.0), ("a", 1.0), ("c", 3.0)], "q2": [("z", 0.25)]}, "tag")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "q1 Q0 c 1 3.000000 tag"
    assert [l.split()[2] for l in lines[:3]] == ["c", "a", "b"]
    assert all(re.fullmatch(r"\S+ Q0 \S+ \d+ -?\d+\.\d+ \S+", l) for l in lines)
    assert rel.read_run(path)["q1"] == [("c", 3.0), ("a", 1.0), ("b", 1.0)]


def test_expected_comparison_uses_tolerance():
    results = {"engine": {"ALL": {"ndcg@10": 0.50, "rr": 0.6, "r@5": 0.3}}}
    expected = {"tolerance": {"engine": 0.01}, "figures": {"engine": {"ALL": {"ndcg@10": 0.505, "rr": 0.62}}}}
    bad = rel.compare_expected(results, expected)
    assert len(bad) == 1 and "rr" in bad[0]


# --- the judgment files -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def topics():
    return rel.read_topics(rel.TOPICS)


@pytest.fixture(scope="module")
def qrels():
    return rel.read_qrels(rel.QRELS)


def test_topics_file(topics):
    assert len(topics) >= 80
    langs = {lang for _, lang, _ in topics}
    assert langs <= LANGS22
    assert len(langs) >= 12
    assert all(q == q.strip() and "\t" not in q for _, _, q in topics)


def test_topics_are_not_copied_from_the_dev_set(topics):
    if not DEV_SET.exists():
        pytest.skip(f"{DEV_SET} not present")
    norm = lambda s: " ".join(unicodedata.normalize("NFC", s).casefold().split())
    dev = {norm(line.split("\t")[2]) for line in DEV_SET.read_text(encoding="utf-8").splitlines()[1:] if line.count("\t") >= 2}
    assert not [q for _, _, q in topics if norm(q) in dev]


def test_qrels_format_and_coverage(topics, qrels):
    from search.corpus import load_corpus
    offer_ids = {o.id for o in load_corpus([ROOT / "corpus" / "centres"]).offers}
    qids = {qid for qid, _, _ in topics}
    assert set(qrels) <= qids, "qrels for unknown topics"
    unknown = sorted({d for judged in qrels.values() for d in judged if d not in offer_ids})
    assert not unknown, f"judged offers missing from the corpus: {unknown[:10]}"
    assert {g for judged in qrels.values() for g in judged.values()} <= {1, 2, 3}
    without = sorted(q for q in qids if not any(g >= 2 for g in qrels.get(q, {}).values()))
    assert not without, f"topics without an offer graded >= 2: {without}"


def test_qrels_lines_are_trec_form():
    for line in rel.QRELS.read_text(encoding="utf-8").splitlines():
        assert re.fullmatch(r"[A-Za-z0-9_.-]+ 0 [a-z0-9-]+ [123]", line), line


def test_bad_qrels_line_names_file_and_line(tmp_path):
    bad = tmp_path / "qrels.txt"
    bad.write_text("q1 0 a 2\nq1 a 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"qrels.txt:2:"):
        rel.read_qrels(bad)


# --- the plain-BM25 baseline --------------------------------------------------------------------

CORPUS = """\
schema = 1

[centre]
id = "centre-t"
name = "Centre Test"
city = "Lyon"
country = "FR"
kind = "cancer_centre"
website = "https://example.org/t"
office_languages = ["fr", "en"]
{offers}
"""

OFFER = """
[[offer]]
id = "{id}"
service = "treatment"
icd10 = ["{code}"]
age_groups = ["adult"]
languages = ["fr", "en"]
delivery = "on_site"

[offer.text.fr]
title = "{fr}"
description = "Prise en charge."

[offer.text.en]
title = "{en}"
description = "Care."
"""


@pytest.fixture
def small_corpus(tmp_path):
    offers = [
        dict(id="centre-t-sarcoma", code="C49", fr="Sarcome des tissus mous", en="Soft tissue sarcoma"),
        dict(id="centre-t-breast-b", code="C50", fr="Cancer du sein", en="Breast cancer"),
        dict(id="centre-t-breast-a", code="C50", fr="Cancer du sein", en="Breast cancer"),
        dict(id="centre-t-lung", code="C34", fr="Cancer du poumon", en="Lung cancer"),
    ]
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "centre-t.toml").write_text(CORPUS.format(offers="".join(OFFER.format(**o) for o in offers)),
                                     encoding="utf-8")
    return d


def test_baseline_search(tmp_path, small_corpus):
    bm25 = PlainBM25.build([small_corpus], tmp_path / "plain")
    try:
        assert bm25.search("sarcome") == ["centre-t-sarcoma"]
        # identical texts score the same: ties go to the smaller offer id
        assert bm25.search("breast") == ["centre-t-breast-a", "centre-t-breast-b"]
        hits = bm25.search("cancer du poumon", limit=2)
        assert hits[0] == "centre-t-lung" and len(hits) == 2
        scored = bm25.search_scored("lung OR breast")
        assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
        # the centre's name is indexed with every offer
        assert len(bm25.search("Test", limit=10)) == 4
        # parser syntax never fails and never reaches a field
        for q in ['"sein', "sein)", "title:sein", "se*n", "sein~", "[a TO b]", "AND", "-", "", "   ", "\\", "sein^2"]:
            assert isinstance(bm25.search(q), list)
        assert bm25.search("") == [] and bm25.search("AND OR NOT") == []
        assert bm25.search("breast", limit=0) == []
    finally:
        bm25.close()
    reopened = PlainBM25.open(tmp_path / "plain")
    try:
        assert reopened.search("sarcoma") == ["centre-t-sarcoma"]
        assert reopened.info["offers"] == 4
    finally:
        reopened.close()


def test_baseline_build_replaces_its_own_index_only(tmp_path, small_corpus):
    PlainBM25.build([small_corpus], tmp_path / "plain").close()
    PlainBM25.build([small_corpus], tmp_path / "plain").close()  # rebuilt in place
    other = tmp_path / "not-an-index"
    other.mkdir()
    (other / "keep.txt").write_text("data", encoding="utf-8")
    with pytest.raises(FileExistsError):
        PlainBM25.build([small_corpus], other)
    assert (other / "keep.txt").read_text(encoding="utf-8") == "data"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp leftovers


def test_plain_query_strips_syntax():
    assert plain_query('sein AND "cancer" (x) f:y z*') == "sein and cancer x f y z"
