"""Treatments and procedures named in any language reach the offers written in French and English."""
from __future__ import annotations

import pytest

from samples import CENTRE_A, write_corpus

PROTON_CENTRES = {"institut-curie", "centre-antoine-lacassagne", "centre-francois-baclesse"}


@pytest.mark.parametrize("query, lang", [
    ("质子治疗", "zh"),
    ("протонная терапия", "ru"),
    ("terapia de protones", "es"),
])
def test_proton_therapy_in_any_language_finds_a_proton_centre_first(engine, query, lang):
    out = engine.search(query, limit=5)
    assert out["language"]["code"] == lang
    assert out["concepts"] == []                    # no pathology: the words alone find the offers
    first = out["results"][0]
    assert first["centre"]["id"] in PROTON_CENTRES
    assert "proton" in first["offer_id"]
    # the three proton therapy centres of France fill the top of the page
    assert {r["centre"]["id"] for r in out["results"][:3]} == PROTON_CENTRES


@pytest.mark.parametrize("query", ["przeszczep szpiku kostnego", "زراعة نخاع العظم", "骨髓移植"])
def test_bone_marrow_transplant_finds_a_transplant_unit_first(engine, query):
    first = engine.search(query, limit=5)["results"][0]
    assert "transplant" in first["offer_id"]


def test_the_modality_ranks_offers_of_the_pathology(engine):
    # among the lymphoma offers, the CAR-T ones come first
    out = engine.search("лимфома CAR-T терапия", limit=5)
    assert out["concepts"] and out["results"]
    first = out["results"][0]
    assert "car-t" in first["offer_id"] or "CAR-T" in first["title"]


def test_text_terms_hold_the_offers_words_not_only_the_patients(engine):
    u = engine.understand("质子治疗")
    assert u.intent.modalities == ("proton-therapy",)
    assert u.service == "treatment"                  # as before: 治疗 is a treatment cue
    terms = engine._text_terms(engine._snap, u)
    fields = {f for f, _ in terms}
    assert {"text_fr", "text_en"} <= fields
    assert any(f == "text_fr" and t.startswith("proton") for f, t in terms)
    assert any(f == "text_en" and t.startswith("proton") for f, t in terms)
    # words in most offers ("radiothérapie" of "radiothérapie par protons") are left out
    assert not any(t.startswith("radiotherap") for _, t in terms)


PROTON_CENTRE = """\
schema = 1

[centre]
id = "centre-p"
name = "Centre P"
city = "Nice"
region = "Provence-Alpes-Côte d'Azur"
country = "FR"
kind = "cancer_centre"
website = "https://example.org/p"
office_languages = ["fr"]

[[offer]]
id = "centre-p-protontherapie"
service = "treatment"
icd10 = ["C71"]
age_groups = ["adult"]
languages = ["fr"]
delivery = "on_site"

[offer.text.fr]
title = "Protonthérapie"
description = "Traitement par faisceau de protons des tumeurs de la base du crâne."

[offer.text.en]
title = "Proton therapy"
description = "Proton beam treatment of skull base tumours."

[[offer]]
id = "centre-p-radiotherapie"
service = "treatment"
icd10 = ["C50"]
age_groups = ["adult"]
languages = ["fr"]
delivery = "on_site"

[offer.text.fr]
title = "Radiothérapie du sein"
description = "Radiothérapie externe après chirurgie du cancer du sein."

[offer.text.en]
title = "Breast radiotherapy"
description = "External beam radiotherapy after breast cancer surgery."
"""


def test_offers_in_french_and_english_are_found_from_other_scripts(tmp_path):
    from search import Engine
    from search.indexer import build_index
    corpus = write_corpus(tmp_path / "corpus", {"a.toml": CENTRE_A, "p.toml": PROTON_CENTRE})
    build_index([corpus], tmp_path / "index")
    engine = Engine.open(tmp_path / "index")
    for query in ("质子治疗", "θεραπεία πρωτονίων", "טיפול בפרוטונים", "陽子線治療"):
        out = engine.search(query, limit=3)
        assert out["results"], query
        assert out["results"][0]["offer_id"] == "centre-p-protontherapie", query
