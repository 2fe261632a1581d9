"""The fast ranking path against the rules themselves.

The engine does not call every rule for every candidate: ``ranking.Plan`` judges each distinct
feature id once per request key and adds arrays, ``bm25.TermScores`` keeps Whoosh's BM25F scores
as arrays, and ``engine._page`` scores exactly only the offers that can reach the page. These
tests check that the results are those of judging every candidate with ``ranking.judge`` and
sorting on ``(-score, offer_id)``, on a synthetic corpus where thousands of candidates share ids.
"""
from __future__ import annotations

import random
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from search import Engine, engine as engine_module, ranking
from search.matcher import ConceptMatch
from search.terminology import default_terminology

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import synthetic  # noqa: E402
from bench.latency import QUERIES  # noqa: E402


@pytest.fixture(scope="module")
def synthetic_engine(tmp_path_factory) -> Engine:
    from search.indexer import build_index
    base = tmp_path_factory.mktemp("synthetic")
    files = synthetic.write_corpus(1500, 11, base / "corpus")
    build_index(files, base / "indexes" / "default")
    return Engine.open(base / "indexes" / "default")


def _match(cid: str) -> ConceptMatch:
    concept = default_terminology().concept(cid)
    assert concept is not None, cid
    return ConceptMatch(concept, cid, cid, None, "code", (0, len(cid)), 1.0)


def _requests(n: int, seed: int) -> list[ranking.Request]:
    rng = random.Random(seed)
    concepts = ["C50", "C34", "C91.0", "C40", "C49", "C71", "C22.0", "C81", "K50", "C74"]
    out = []
    for _ in range(n):
        named = [_match(c) for c in rng.sample(concepts, rng.choice([0, 1, 1, 2]))]
        out.append(ranking.Request(
            concepts=named, lang=rng.choice([None, "es", "fr", "en", "ar", "zh"]),
            service=rng.choice([None, None, "second_opinion", "teleconsultation", "training", "treatment"]),
            age_group=rng.choice([None, "adult", "pediatric"]), place=rng.choice([None, "paris", "lyon"]),
            place_region=rng.choice(["", "Île-de-France"]),
            rare=any(m.concept.flags & {"rare", "pediatric"} for m in named),
            text_max=rng.choice([0.0, 7.5])))
    return out


def test_plan_scores_and_exclusions_equal_judge_for_every_offer(synthetic_engine):
    snap = synthetic_engine._snap
    f = snap.features
    docnums = np.flatnonzero(f.alive)
    rng = np.random.default_rng(3)
    checked = 0
    for req in _requests(40, 5):
        text = np.where(rng.random(len(docnums)) < 0.5, 0.0, rng.random(len(docnums)) * req.text_max)
        plan = ranking.Plan(req, f)
        decisive, ok, how = plan.decisive(docnums, (text > 0) & f.no_codes[docnums])
        approx = plan.approx(decisive, text)
        for k, d in enumerate(docnums.tolist()):
            doc = snap.docs[d]
            score, verdicts = ranking.judge(req, doc, snap.centres[doc["centre_id"]], float(text[k]))
            assert bool(ok[k]) == ranking.allowed(req, doc, verdicts), (req, doc["offer_id"])
            if ok[k]:
                assert plan.score(float(decisive[k]), float(text[k])) == score, (req, doc["offer_id"])
                assert abs(approx[k] - score) <= 1e-4
                if req.concepts:
                    assert ranking.MATCHES[how[k]] == verdicts[0].evidence["match"]
                checked += 1
    assert checked > 10000  # the requests admit many offers, so the comparison means something


def _reference_page(snap, scored, limit):
    """Every candidate judged by the rules, sorted, grouped: what ``_page`` must return."""
    rows = []
    for part in scored:
        for d, ts in zip(part.docnums.tolist(), part.text.tolist()):
            doc = snap.docs[d]
            score, _ = ranking.judge(part.plan.req, doc, snap.centres[doc["centre_id"]], ts)
            rows.append((-score, doc["offer_id"], d, doc["centre_id"]))
    rows.sort()
    shown, folded = [], {}
    for r in rows:
        if r[3] in folded:
            if len(folded[r[3]]) < 5:
                folded[r[3]].append(r[:3])
        elif len(shown) < limit:
            shown.append(r)
            folded[r[3]] = []
    return [r[:3] for r in shown], [folded[r[3]] for r in shown]


@pytest.mark.parametrize("limit", [3, 10])
def test_pages_equal_judging_every_candidate(synthetic_engine, monkeypatch, limit):
    seen = []
    real_page = engine_module._page

    def checked_page(snap, scored, lim):
        shown, folded = real_page(snap, scored, lim)
        want_shown, want_folded = _reference_page(snap, scored, lim)
        assert [r[:3] for r in shown] == want_shown
        assert [[r[:3] for r in more] for more in folded] == want_folded
        seen.append(sum(len(p.docnums) for p in scored))
        return shown, folded

    monkeypatch.setattr(engine_module, "_page", checked_page)
    extra = [("second opinion", {"service": "second_opinion"}), ("enfant", {"age_group": "pediatric"}),
             ("cancer du sein", {"lang": "ar"}), ("sarcome Lyon", {})]
    for text, opts in [(q.text, {}) for q in QUERIES] + extra:
        synthetic_engine.clear_cache()
        out = synthetic_engine.search(text, limit=limit, **opts)
        for r in out["results"]:  # the shown score is the rules' weighted mean (judge's)
            ran = [e for e in r["explanation"].values() if not e.get("skipped")]
            mean = sum(e["weight"] * e["score"] for e in ran) / sum(e["weight"] for e in ran)
            assert abs(mean - r["score"]) <= 1e-4
    assert len(seen) == len(QUERIES) + len(extra)
    assert max(seen) > 100  # some queries rank far more offers than a page holds


class _Recorder:
    """Stands for a request, an offer or a centre and notes what is read of it."""

    def __init__(self, wrapped, reads: set):
        self._wrapped, self._reads = wrapped, reads

    def __getattr__(self, name):
        self._reads.add(name)
        return getattr(self._wrapped, name)

    def __getitem__(self, key):
        self._reads.add(key)
        return self._wrapped[key]

    def get(self, key, default=None):
        self._reads.add(key)
        return self._wrapped.get(key, default)


def test_rules_read_only_what_their_keys_name(engine):
    """A decisive rule's verdict is kept per feature id (``ranking.READS``) and per request key
    (``ranking.REQUEST_KEYS``): a rule reading anything else would be served stale verdicts."""
    snap = engine._snap
    for req in _requests(30, 9):
        for doc in snap.docs[:200]:
            centre = snap.centres[doc["centre_id"]]
            for rule in ranking.DECISIVE:
                name = rule.__name__
                got = {"req": set(), "doc": set(), "centre": set()}
                want = {"req": set(), "doc": set(), "centre": set()}
                rule(_Recorder(req, got["req"]), _Recorder(doc, got["doc"]), _Recorder(centre, got["centre"]), 1.0)
                ranking.REQUEST_KEYS[name](_Recorder(req, want["req"]))
                ranking.READS[name](_Recorder(doc, want["doc"]), _Recorder(centre, want["centre"]))
                for what in got:
                    assert got[what] <= want[what], (name, what, got[what] - want[what])


def test_term_scores_are_whooshs_own(engine):
    snap = engine._snap
    s = snap.searcher()
    compared = 0
    for field in snap.text_fields:
        for term in list(s.lexicon(field))[:60]:
            text = term.decode("utf-8") if isinstance(term, bytes) else term
            docs, scores = snap.text.term(field, text)
            m = s.postings(field, text)
            want = {}
            while m.is_active():
                want[m.id()] = m.score()
                m.next()
            assert dict(zip(docs.tolist(), scores.tolist())) == want, (field, text)
            compared += 1
    assert compared > 200


def test_text_scores_sum_terms_in_order(engine):
    snap = engine._snap
    terms = [("text_fr", "sein"), ("text_en", "breast"), ("text_fr", "avis")]
    total = snap.text.sum(terms)
    want: dict[int, float] = {}
    for field, text in terms:
        docs, scores = snap.text.term(field, text)
        for d, sc in zip(docs.tolist(), scores.tolist()):
            want[d] = want.get(d, 0.0) + sc
    assert want and {d: total[d] for d in want} == want
    assert np.count_nonzero(total) == len(want)


def test_verdict_tables_are_shared_by_requests_with_the_same_key(synthetic_engine):
    f = synthetic_engine._snap.features
    req = _requests(1, 2)[0]
    i = ranking.DECISIVE.index(ranking.language)
    a = f.table(i, ranking.REQUEST_KEYS["language"](replace(req, lang="es")))
    b = f.table(i, ranking.REQUEST_KEYS["language"](replace(req, lang="es", service="training")))
    c = f.table(i, ranking.REQUEST_KEYS["language"](replace(req, lang="fr")))
    assert a is b and a is not c
