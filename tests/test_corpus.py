"""Corpus validation: every rule gives file:line: field: message, and nothing half-valid passes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from search.corpus import check_corpus, load_corpus
from search.errors import CorpusError

from samples import BUNDLED, CENTRE_A, CENTRE_B, write_corpus


def problems_for(tmp_path: Path, text: str, name: str = "c.toml") -> list[str]:
    root = write_corpus(tmp_path / "c", {name: text})
    _, problems = check_corpus([root])
    return [str(p) for p in problems]


def test_mini_corpus_is_valid(mini_corpus):
    corpus = load_corpus([mini_corpus])
    assert sorted(corpus.centres) == ["centre-a", "centre-b"]
    assert {o.id for o in corpus.offers} == {"centre-a-breast", "centre-a-sarcoma-second-opinion",
                                             "centre-b-leukaemia-children", "centre-b-breast-teleconsultation"}
    assert corpus.digest and len(corpus.digest) == 64


def test_bundled_corpus_is_valid_and_large_enough():
    corpus = load_corpus([BUNDLED])
    assert len(corpus.centres) >= 25
    assert len(corpus.offers) >= 300
    multilingual = [o for o in corpus.offers if set(o.text) - {"fr", "en"}]
    assert len(multilingual) >= 0.2 * len(corpus.offers)


@pytest.mark.parametrize("old,new,expected", [
    ('service = "second_opinion"', 'service = "2nd_opinion"',
     ':32: service: unknown service \'2nd_opinion\' (did you mean \'second_opinion\'?)'),
    ('icd10 = ["C40-C41", "C49"]', 'icd10 = ["C40-C41", "X999"]', ": icd10: invalid ICD-10 code 'X999'"),
    ('icd10 = ["C40-C41", "C49"]', 'icd10 = ["C41-C40"]', "start is after end"),
    ('languages = ["fr", "en", "es"]', 'languages = ["fr", "en", "xx"]', ": languages: unknown language 'xx'"),
    ('age_groups = ["adult"]', 'age_groups = ["adults"]', ": age_groups: unknown value 'adults'"),
    ('delivery = "remote"', 'delivery = "online"', ": delivery: unknown delivery 'online'"),
    ('kind = "cancer_centre"', 'kind = "clinic"', ": kind: unknown kind 'clinic'"),
    ('country = "FR"', 'country = "France"', ": country: 'France' is not an ISO 3166-1 alpha-2 code"),
    ('website = "https://example.org/a"', 'website = "http://example.org/a"', ": website: must be a public https:// URL"),
    ('icd10 = ["C50"]', 'icd10 = "C50"', ":17: icd10: must be list, got str"),
    ('id = "centre-a-breast"', 'id = "breast"', ": id: offer id 'breast' does not start with its centre id"),
    ('delivery = "on_site"', 'delivery = "on_site"\ncolour = "blue"', ": colour: unknown field of an offer"),
])
def test_each_rule_reports_file_line_field(tmp_path, old, new, expected):
    assert old in CENTRE_A
    found = problems_for(tmp_path, CENTRE_A.replace(old, new, 1))
    assert any(expected in p for p in found), found
    assert all(p.startswith(str(tmp_path / "c" / "c.toml") + ":") for p in found)


def test_missing_field_and_missing_english_text(tmp_path):
    text = CENTRE_A.replace('service = "treatment"\n', "", 1)
    text = text.replace('[offer.text.en]\ntitle = "Breast cancer"\ndescription = "Surgery and treatment of breast cancer."\n', "", 1)
    found = problems_for(tmp_path, text)
    assert any(": service: missing required field of an offer" in p for p in found), found
    assert any(": text.en: missing required text" in p for p in found), found


def test_duplicate_ids_point_at_first_definition(tmp_path):
    root = write_corpus(tmp_path / "c", {"a.toml": CENTRE_A, "b.toml": CENTRE_A})
    _, problems = check_corpus([root])
    msgs = [str(p) for p in problems]
    assert any("duplicate centre id 'centre-a' (first defined at" in m for m in msgs), msgs


def test_broken_toml_wrong_encoding_empty_file(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "broken.toml").write_text('schema = 1\n[centre\nid = "x"\n', encoding="utf-8")
    (root / "latin1.toml").write_bytes('schema = 1\n# é\n'.encode("latin-1"))
    (root / "empty.toml").write_text("", encoding="utf-8")
    _, problems = check_corpus([root])
    msgs = [str(p) for p in problems]
    assert any("broken.toml:2: broken TOML" in m for m in msgs), msgs
    assert any("latin1.toml:2: not valid UTF-8" in m for m in msgs), msgs
    assert any("empty.toml: file is empty" in m for m in msgs), msgs


def test_jsonl_records_share_the_validation(tmp_path):
    root = write_corpus(tmp_path / "c", {"a.toml": CENTRE_A})
    good = {"type": "offer", "centre": "centre-a", "id": "centre-a-lung", "service": "treatment",
            "icd10": ["C34"], "age_groups": ["adult"], "languages": ["fr"], "delivery": "on_site",
            "text": {"fr": {"title": "Poumon", "description": "Cancer du poumon."},
                     "en": {"title": "Lung", "description": "Lung cancer."}}}
    bad = dict(good, id="centre-a-bad", service="cure")
    (root / "bulk.jsonl").write_text("\n".join([json.dumps(good), json.dumps(bad), "{not json"]) + "\n",
                                     encoding="utf-8")
    corpus, problems = check_corpus([root])
    msgs = [str(p) for p in problems]
    assert any(m.startswith(f"{root / 'bulk.jsonl'}:2: service: unknown service 'cure'") for m in msgs), msgs
    assert any(m.startswith(f"{root / 'bulk.jsonl'}:3: broken JSON") for m in msgs), msgs
    assert "centre-a-lung" in {o.id for o in corpus.offers}
    with pytest.raises(CorpusError) as err:
        load_corpus([root])
    assert len(err.value.problems) == 2


def test_unknown_icd10_code_rejected_by_backbone(tmp_path):
    found = problems_for(tmp_path, CENTRE_B.replace('icd10 = ["C50"]', 'icd10 = ["C99"]'))
    assert any(": icd10: unknown ICD-10 code 'C99'" in p for p in found), found


def test_a_problem_stays_one_line_whatever_the_key_holds():
    from search.errors import Problem
    text = str(Problem("c.jsonl", 2, "text.fr.\n\u202e", "unknown field of a text", "a text has title and description"))
    assert text == "c.jsonl:2: text.fr.\\n\\u202e: unknown field of a text (a text has title and description)"
    assert str(Problem("c.toml", 3, "título", "unknown field")) == "c.toml:3: título: unknown field"
