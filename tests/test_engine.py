"""The search output contract (DESIGN.md) on the bundled corpus, ranking rules, grouping, determinism."""
from __future__ import annotations

import json

import pytest

from search.errors import QueryError, UsageError
from search.icd10 import categories


def test_output_contract_fields_and_types(engine):
    out = engine.search("cáncer de mama segunda opinión", limit=5)
    assert out["query"] == "cáncer de mama segunda opinión"
    assert set(out["language"]) >= {"code", "confidence", "source"}
    assert out["language"]["code"] == "es"
    assert out["language"]["source"] in ("declared", "script", "lexicon", "detector", "country", "none")
    assert isinstance(out["language"]["confidence"], float)
    c = out["concepts"][0]
    assert set(c) >= {"id", "icd10", "label", "matched", "match", "score"}
    assert "C50" in set().union(*(categories(x) for x in c["icd10"]))
    assert out["intent"]["service"] == "second_opinion" and out["intent"]["age_group"] is None
    assert 1 <= len(out["results"]) <= 5
    for r in out["results"]:
        assert set(r) >= {"offer_id", "service", "title", "centre", "concepts", "languages", "score", "why"}
        assert set(r["centre"]) >= {"id", "name", "city", "country"}
        assert isinstance(r["score"], float) and 0 <= r["score"] <= 1
        assert r["why"] and all(set(w) >= {"rule", "score", "text"} for w in r["why"])
    assert out["results"][0]["service"] == "second_opinion"
    assert isinstance(out["took_ms"], float)
    json.dumps(out)  # serialisable as is


def test_one_centre_does_not_fill_the_page(engine):
    out = engine.search("breast cancer", limit=10)
    centres = [r["centre"]["id"] for r in out["results"]]
    assert len(centres) == len(set(centres)) >= 5


def test_ties_break_on_offer_id_and_order_is_deterministic(engine):
    a = engine.search("lymphome", limit=10)
    engine.clear_cache()
    b = engine.search("lymphome", limit=10)
    assert [r["offer_id"] for r in a["results"]] == [r["offer_id"] for r in b["results"]]
    scores = [(-r["score"], r["offer_id"]) for r in a["results"]]
    assert scores == sorted(scores)


def test_child_never_gets_adult_only_care(engine):
    out = engine.search("leucémie de mon fils", limit=10)
    assert out["intent"]["age_group"] == "pediatric"
    assert out["results"]
    for r in out["results"]:
        assert "pediatric" in r["age_groups"]


def test_bad_requests_raise_clear_errors(engine):
    with pytest.raises(QueryError):
        engine.search("")
    with pytest.raises(QueryError):
        engine.search("x" * 5000)
    with pytest.raises(UsageError):
        engine.search("cancer", lang="xx-unknown")
    with pytest.raises(UsageError):
        engine.search("cancer", service="massage")
