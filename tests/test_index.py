"""Index build: round trip, manifest, atomic swap under a reader, failure leaves the old snapshot."""
from __future__ import annotations

import json
import os

import pytest

from search import Engine
from search.errors import CorpusError, IndexCorrupt, IndexMissing
from search.indexer import build_index, read_manifest, resolve_snapshot

from samples import CENTRE_A, CENTRE_B, write_corpus


def test_round_trip_and_manifest(mini_index):
    snap = resolve_snapshot(mini_index)
    manifest = read_manifest(snap)
    assert manifest["counts"]["centres"] == 2 and manifest["counts"]["offers"] == 4
    assert manifest["schema_version"] == 1 and len(manifest["corpus_digest"]) == 64
    assert manifest["analysis"] and manifest["text_languages"] == ["en", "fr"]
    engine = Engine.open(mini_index)
    out = engine.search("breast cancer", limit=5)
    ids = {r["offer_id"] for r in out["results"]}
    assert "centre-a-breast" in ids
    assert out["index"]["digest"] == manifest["digest"]


def test_reader_keeps_serving_during_rebuild_and_switches_after(tmp_path, mini_corpus, mini_index):
    engine = Engine.open(mini_index)
    before = engine.digest
    searcher_docs = engine.search("sarcoma", limit=5)["results"]
    # a new corpus with one more offer
    last_offer = CENTRE_B[CENTRE_B.rindex("[[offer]]"):]
    extra = last_offer.replace('id = "centre-b-breast-teleconsultation"', 'id = "centre-b-breast-tele2"')
    (mini_corpus / "centre-b.toml").write_text(CENTRE_B + "\n" + extra, encoding="utf-8")
    report = build_index([mini_corpus], mini_index)
    assert report.offers == 5
    # the old snapshot is still on disk and the engine switches at its next query
    out = engine.search("sarcoma", limit=5)
    assert engine.digest != before
    assert out["index"]["digest"] == engine.digest == read_manifest(resolve_snapshot(mini_index))["digest"]
    assert [r["offer_id"] for r in out["results"]] == [r["offer_id"] for r in searcher_docs]


def test_bad_corpus_leaves_previous_index_serving(tmp_path, mini_corpus, mini_index):
    target = os.readlink(mini_index)
    (mini_corpus / "centre-b.toml").write_text(CENTRE_B.replace('service = "treatment"', 'service = "cure"'),
                                                encoding="utf-8")
    with pytest.raises(CorpusError):
        build_index([mini_corpus], mini_index)
    assert os.readlink(mini_index) == target
    assert not list(mini_index.parent.glob(".default.tmp-*"))
    assert Engine.open(mini_index).search("breast cancer")["results"]


def test_corrupted_or_truncated_snapshot_is_refused(mini_index):
    snap = resolve_snapshot(mini_index)
    victim = max((p for p in snap.iterdir() if p.name != "manifest.json"), key=lambda p: p.stat().st_size)
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorrupt, match="truncated"):
        Engine.open(mini_index)
    victim.write_bytes(bytes([data[0] ^ 0xFF]) + data[1:])
    with pytest.raises(IndexCorrupt, match="corrupted"):
        Engine.open(mini_index)


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissing, match="carematch index"):
        Engine.open(tmp_path / "nothing")


def test_offer_codes_reach_parents_and_children(tmp_path):
    text = CENTRE_A.replace('icd10 = ["C50"]', 'icd10 = ["C22.0"]')
    root = write_corpus(tmp_path / "c", {"a.toml": text})
    index = tmp_path / "ix" / "default"
    build_index([root], index)
    from whoosh.query import Term
    engine = Engine.open(index)
    with engine._snap.ix.searcher() as s:
        for term in ("C22.0", "C22", "C15-C26", "II"):
            assert list(s.docs_for_query(Term("codes", term))), term


def test_lengths_read_from_memory_are_whooshs_own(bundled_index):
    """The writer's field lengths at commit come from indexer._Lengths: the same values as the
    per-document reader it wraps, for every document and field (one without a column too)."""
    from whoosh import index as whoosh_index
    from search.indexer import _Lengths
    ix = whoosh_index.open_dir(str(bundled_index))
    reader = ix.reader()
    perdoc = reader._perdoc
    wrapped = _Lengths(perdoc)
    fields = [f for f in ix.schema.names()] + ["no_such_field"]
    compared = 0
    for name in fields:
        for d in range(reader.doc_count_all() + 1):
            assert wrapped.doc_field_length(d, name, 7) == perdoc.doc_field_length(d, name, 7), (name, d)
            compared += 1
    assert compared > 396 * 10
    assert any(wrapped.doc_field_length(d, "text_fr") for d in range(50))
    reader.close()


def test_term_list_field_indexes_as_whooshs_text_field():
    """TermListText counts the indexer's term lists itself: the same postings as Whoosh's TEXT
    field analysing the text, for every text of the bundled corpus."""
    from whoosh import fields
    from samples import BUNDLED
    from search.analysis import analyzer_for, index_terms
    from search.corpus import load_corpus
    from search.icd10 import Backbone
    from search.indexer import TermListText
    compared = 0
    for offer in load_corpus([BUNDLED], Backbone.load()).offers:
        for lang, text in offer.text.items():
            value = f"{text['title']}\n{text['description']}"
            ours = TermListText(analyzer=analyzer_for(lang), phrase=False)
            whooshs = fields.TEXT(analyzer=analyzer_for(lang), phrase=False)
            assert list(ours.index(index_terms(value, lang))) == list(whooshs.index(value)), (offer.id, lang)
            assert list(ours.index(value)) == list(whooshs.index(value))
            compared += 1
    assert compared > 900
