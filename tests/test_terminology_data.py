"""The curated terminology: coverage in 22 languages, codes that exist, no ambiguous alias."""
from __future__ import annotations

from collections import defaultdict

import pytest

from search.icd10 import categories
from search.terminology import LANGUAGES, Terminology, default_terminology


@pytest.fixture(scope="module")
def term() -> Terminology:
    return default_terminology()


def test_enough_concepts(term):
    concepts = term.concepts.values()
    onco = [c for c in concepts if any(code.startswith(("C", "D0", "D1", "D2", "D3", "D4")) for code in c.icd10)]
    general = [c for c in concepts if c not in onco]
    assert len(onco) >= 60, len(onco)
    assert len(general) >= 30, len(general)
    assert sum("pediatric" in c.flags for c in concepts) >= 5


def test_every_concept_has_a_label_in_each_of_22_languages(term):
    missing = {cid: sorted(set(LANGUAGES) - set(c.labels)) for cid, c in term.concepts.items()
               if set(LANGUAGES) - set(c.labels)}
    assert not missing, missing


def test_every_code_exists_in_the_backbone(term):
    for c in term.concepts.values():
        for code in c.icd10:
            for end in code.split("-"):
                assert term.backbone.exists(end), (c.id, code)


def _block(term: Terminology, code: str) -> str | None:
    anc = term.backbone.ancestors(code.split("-")[0])
    return next((a for a in anc if "-" in a), None)


def test_no_alias_maps_to_two_unrelated_concepts(term):
    by_alias: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for keys, entries in term.aliases._phrases.items():
        for a in entries:
            by_alias[keys].add(a.concept)
    clashes = []
    for keys, cids in by_alias.items():
        cids = sorted(cids)
        for i, a in enumerate(cids):
            for b in cids[i + 1:]:
                ca, cb = term.concepts[a], term.concepts[b]
                related = ca.categories & cb.categories or (
                    {_block(term, c) for c in ca.icd10} & {_block(term, c) for c in cb.icd10})
                if not related:
                    clashes.append((" ".join(keys), a, b))
    assert not clashes, clashes[:20]


def test_heads_cover_every_language(term):
    langs = {h.lang for entries in term.heads._phrases.values() for h in entries}
    assert set(LANGUAGES) <= langs, sorted(set(LANGUAGES) - langs)
