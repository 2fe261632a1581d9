"""Ranking rules one by one (score and evidence), the combination policy, and explanation
snapshots on the small sample corpus (tests/snapshots/, rewrite with UPDATE_SNAPSHOTS=1)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from search import ranking
from search.matcher import ConceptMatch
from search.ranking import Request, Verdict, judge
from search.terminology import default_terminology

SNAPSHOTS = Path(__file__).parent / "snapshots"
CENTRE = {"id": "c", "city": "Lyon", "city_slug": "lyon", "region": "Auvergne-Rhône-Alpes",
          "office_languages": ["fr", "en", "ar"]}


def doc(**kw) -> dict:
    base = {"offer_id": "c-x", "service": "treatment", "icd10": ["C50"], "age_groups": ["adult"],
            "languages": ["fr", "en"], "networks": []}
    return {**base, **kw}


def concept_match(cid: str) -> ConceptMatch:
    concept = default_terminology().concept(cid)
    assert concept is not None, cid
    return ConceptMatch(concept, cid, cid, None, "code", (0, len(cid)), 1.0)


def req(**kw) -> Request:
    base = dict(concepts=[concept_match("C50")], lang="es", service=None, age_group=None, place=None)
    return Request(**{**base, **kw})


@pytest.mark.parametrize("offer_codes,concept,score,how", [
    (["C50"], "C50", 1.0, "exact"),
    (["C50.9"], "C50", 0.8, "related"),            # child of the asked category
    (["C22"], "C22.0", 0.8, "related"),            # parent of the asked subcategory
    (["C81-C85"], "C83", 1.0, "exact"),            # inside a range
    (["C00-C97"], "C50", 0.3, "general"),          # "all cancers"
    (["C34"], "C50", 0.0, "none"),                 # another pathology
    (["C00-C97"], "K50", 0.0, "none"),             # a general cancer offer is not for Crohn's
])
def test_pathology_rule(offer_codes, concept, score, how):
    v = ranking.pathology(req(concepts=[concept_match(concept)]), doc(icd10=offer_codes), CENTRE, 0.0)
    assert v.score == pytest.approx(score, abs=0.01) and v.evidence.get("match", "none") == how


def test_pathology_prefers_a_dedicated_team():
    broad = doc(icd10=["C00-C14", "C15-C26", "C30-C39", "C50", "C51-C58", "C60-C63", "C64-C68"])
    assert ranking.pathology(req(), broad, CENTRE, 0).score < ranking.pathology(req(), doc(), CENTRE, 0).score == 1.0


def test_pathology_skipped_without_concept_and_text_only_for_offers_naming_none():
    assert ranking.pathology(req(concepts=[]), doc(), CENTRE, 1.0).score is None
    office = doc(icd10=[], service="international_office")
    assert ranking.pathology(req(), office, CENTRE, 2.0).evidence["match"] == "text"


@pytest.mark.parametrize("asked,offered,score", [
    (None, "treatment", 1.0), (None, "second_opinion", 0.5), ("second_opinion", "second_opinion", 1.0),
    ("second_opinion", "treatment", 0.3), ("teleconsultation", "teleconsultation", 1.0), ("training", "treatment", 0.0),
])
def test_service_rule(asked, offered, score):
    v = ranking.service(req(service=asked), doc(service=offered), CENTRE, 0)
    assert v.score == score and v.evidence["offered"] == offered


@pytest.mark.parametrize("lang,languages,score,how", [
    ("es", ["fr", "en", "es"], 1.0, "service"),
    ("ar", ["fr", "en"], 0.8, "office"),
    ("ru", ["fr", "en"], 0.4, "fallback"),
    ("ru", ["de"], 0.0, "none"),
])
def test_language_rule(lang, languages, score, how):
    v = ranking.language(req(lang=lang), doc(languages=languages), CENTRE, 0)
    assert v.score == score and v.evidence["match"] == how


def test_language_rule_skipped_when_language_unknown():
    assert ranking.language(req(lang=None), doc(), CENTRE, 0).score is None


def test_age_rule_and_hard_constraint():
    child = req(age_group="pediatric")
    assert ranking.age(child, doc(age_groups=["pediatric"]), CENTRE, 0).score == 1.0
    assert ranking.age(child, doc(age_groups=["adult"]), CENTRE, 0).score == 0.0
    _, verdicts = judge(child, doc(age_groups=["adult"]), CENTRE, 0)
    assert not ranking.allowed(child, doc(age_groups=["adult"]), verdicts)
    assert ranking.age(req(), doc(age_groups=["pediatric"]), CENTRE, 0).score == 0.2


def test_expertise_only_for_rare_cancers():
    sarcoma = doc(networks=["NETSARC", "Unicancer"])
    assert ranking.expertise(req(), sarcoma, CENTRE, 0).score is None
    v = ranking.expertise(req(rare=True), sarcoma, CENTRE, 0)
    assert v.score == 1.0 and v.evidence["networks"] == ["NETSARC"]
    assert ranking.expertise(req(rare=True), doc(networks=["Unicancer"]), CENTRE, 0).score == 0.0


def test_place_rule_city_then_region():
    assert ranking.place(req(place="lyon"), doc(), CENTRE, 0).score == 1.0
    near = req(place="villeurbanne", place_region="Auvergne-Rhône-Alpes")
    assert ranking.place(near, doc(), CENTRE, 0).score == 0.6
    assert ranking.place(req(place="paris", place_region="Île-de-France"), doc(), CENTRE, 0).score == 0.0
    assert ranking.place(req(), doc(), CENTRE, 0).score is None


def test_text_rule_scales_by_best_candidate():
    assert ranking.text(req(text_max=4.0), doc(), CENTRE, 2.0).score == 0.5
    assert ranking.text(req(text_max=0.0), doc(), CENTRE, 0.0).score is None


def test_combination_is_the_weighted_mean_of_rules_that_ran():
    r = req(lang=None)  # language, expertise, place, text skipped
    score, verdicts = judge(r, doc(), CENTRE, 0.0)
    ran = {v.rule: v.score for v in verdicts if v.score is not None}
    assert set(ran) == {"pathology", "service", "age"}
    w = ranking.WEIGHTS
    expected = sum(w[k] * s for k, s in ran.items()) / sum(w[k] for k in ran)
    assert score == pytest.approx(expected, abs=1e-4)
    assert [v.rule for v in verdicts] == list(ranking.RULE_ORDER)


def test_a_named_service_weighs_more_and_text_leads_without_concept():
    assert ranking.weights_for(req(service="second_opinion"))["service"] == ranking.EXPLICIT_SERVICE_WEIGHT
    assert ranking.weights_for(req(concepts=[]))["text"] == ranking.TEXT_ONLY_WEIGHT
    assert ranking.weights_for(req()) == ranking.WEIGHTS


SNAPSHOT_QUERIES = {
    "breast_es": ("cáncer de mama", {}),
    "sarcoma_second_opinion_fr": ("sarcome deuxième avis", {}),
    "child_leukaemia_ru": ("лейкоз у ребёнка", {}),
}


@pytest.mark.parametrize("name", sorted(SNAPSHOT_QUERIES))
def test_explanation_snapshots(mini_index, name):
    from search import Engine
    text, opts = SNAPSHOT_QUERIES[name]
    out = Engine.open(mini_index).search(text, **opts)
    got = {"language": out["language"]["code"], "concepts": [c["id"] for c in out["concepts"]],
           "intent": out["intent"],
           "results": [{k: r[k] for k in ("offer_id", "score", "why", "explanation")} for r in out["results"]]}
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"snapshot {path.name} was missing and has been written: review and commit it")
    assert got == json.loads(path.read_text(encoding="utf-8"))
