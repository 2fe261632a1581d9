import pickle
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from whoosh import index
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import QueryParser

from search.analysis import (ANALYSIS_VERSION, ANALYZERS, LANGUAGES, NEUTRAL, CareTokenizer, SnowballStem,
                             analyze, analyzer_for, describe, index_terms, stopwords_for)
from search.locales import SUPPORTED
from search.textnorm import clean

# One line per case: language, input, expected terms (index and query get the same terms).
TABLE = [
    ("fr", "Traitement de l'adénocarcinome du sein chez l'enfant", ["adenocarcinom", "sein", "chez", "enfant"]),
    ("fr", "chimiothérapie chimiotherapie CHIMIOTHÉRAPIES", ["chimiotherap"] * 3),  # accents typed or not
    ("fr", "hépatite C et cancers", ["hepatit", "c"]),           # C is no elision: no apostrophe
    ("fr", "qu’il soit opéré jusqu'à Lyon", ["oper", "lyon"]),   # typographic apostrophe too
    ("en", "My son's leukaemia treatments at the children's hospital", ["son", "leukaemia", "children", "hospit"]),
    ("en", "Tumors of the kidneys", ["kidney"]),
    ("en", "T-cell lymphoma, hepatitis C, don't", ["t", "cell", "lymphoma", "hepat", "c"]),
    ("de", "Brustkrebs-Behandlung bei Kindern in Straßburg", ["brustkreb", "kind", "strassburg"]),
    ("de", "STRASSE Straße strasse", ["strass"] * 3),            # ß
    ("es", "Cáncer de mama en niños y radiación", ["mam", "nin", "radiacion"]),
    ("es", "radiaciones radiacion", ["radiacion", "radiacion"]),
    ("it", "tumore dell'ovaio nell'adulto e cure all'ospedale", ["ovai", "adult", "cur", "ospedal"]),
    ("pt", "Câncer de mama em crianças, tratamentos", ["mam", "crianc"]),
    ("nl", "behandeling van borstkanker bij kinderen", ["borstkanker", "kinder"]),
    ("ru", "Рак молочной железы у ребёнка", ["молочн", "желез", "ребенк"]),
    ("ru", "ребенка РЕБЁНКА", ["ребенк", "ребенк"]),
    ("uk", "Рак молочної залози у дитини", ["молочноі", "залози", "дитини"]),
    ("ar", "سرطان الثدي عند الأطفال", ["ثد", "اطفال"]),
    ("ar", "لِلأَطْفَالِ", ["اطفال"]),                               # tashkeel, article and hamza
    ("fa", "سرطان پستان در کودکان", ["پستان", "کودک"]),
    ("fa", "كودكان", ["کودک"]),                                    # Arabic kaf typed for Persian
    ("he", "סרטן השד בילדים", ["השד", "בילדים"]),
    ("he", "סַרְטָן הַשָּׁד", ["השד"]),                                  # points removed
    ("zh", "乳腺癌术后复发", ["乳腺", "腺癌", "癌术", "术后", "后复", "复发"]),
    ("zh", "癌", ["癌"]),                                           # a one-character run stays
    ("zh", "HER2阳性乳腺癌", ["her2", "阳性", "性乳", "乳腺", "腺癌"]),
    ("ja", "乳がんの治療", ["乳が", "がん", "んの", "の治", "治療"]),
    ("ja", "ガン がん", ["がん", "がん"]),                           # katakana folded to hiragana
    ("ko", "유방암 수술", ["유방", "방암", "수술"]),
    ("tr", "İSTANBUL’da çocuklarda akciğer kanseri tedavisi", ["istanbul", "cocuk", "akciger"]),
    ("tr", "KIRIKKALE Kırıkkale kirikkale", ["kirikkal"] * 3),     # dotted and dotless i
    ("tr", "Paris'te tedavi, Lyon'da", ["paris", "lyon"]),           # suffixes after an apostrophe
    ("el", "Καρκίνος του μαστού", ["μαστ"]),
    ("el", "καρκινος θυρεοειδους ΘΥΡΕΟΕΙΔΟΥΣ", ["θυρεοειδ", "θυρεοειδ"]),  # typed without accents
    ("hi", "बच्चों में स्तन कैंसर का इलाज", ["बच्च", "स्तन"]),
    ("pl", "Rak piersi u dziecka, leczenie w Paryżu", ["piers", "dzieck", "paryz"]),
    ("ro", "Cancerul mamar la copii și tratamentul", ["mamar", "cop"]),
    ("vi", "Ung thư vú ở trẻ em", ["ung", "thu", "vu", "o", "tre", "em"]),
    ("id", "kanker payudara pada anak-anak", ["payudara", "anak", "anak"]),
    (NEUTRAL, "Cancer du sein, breast cancer, 乳腺癌", ["du", "sein", "breast", "乳腺", "腺癌"]),
]


@pytest.mark.parametrize("lang, text, terms", TABLE)
def test_terms(lang, text, terms):
    assert analyze(text, lang) == terms


def test_table_covers_the_required_languages():
    assert {"fr", "en", "de", "es", "it", "pt", "nl", "ru", "ar", "fa", "he", "zh", "ja", "ko", "tr", "el",
            "hi"} <= {lang for lang, _, _ in TABLE}


def test_registry():
    assert set(LANGUAGES) == set(SUPPORTED)
    assert set(ANALYZERS) == set(SUPPORTED) | {NEUTRAL}
    assert analyzer_for("pt-BR") is ANALYZERS["pt"]
    assert analyzer_for("PT_pt") is ANALYZERS["pt"]
    assert analyzer_for("sv") is ANALYZERS[NEUTRAL]
    assert analyzer_for(None) is ANALYZERS[NEUTRAL]


def test_domain_stop_words_are_folded_and_kept_out_of_queries_too():
    assert {"cancer", "tumeur", "traitement"} <= stopwords_for("fr")
    assert "cancer" in stopwords_for("es")                        # "cáncer", folded
    assert "καρκινοσ" in stopwords_for("el")
    # the query side uses the same analyzer, so the word never reaches the text index
    assert analyze("cancer du sein", "fr", mode="query") == analyze("cancer du sein", "fr", mode="index") == ["sein"]


def test_stop_words_can_be_kept_marked():
    toks = [(t.text, t.stopped) for t in ANALYZERS["fr"]("le cancer du sein", removestops=False)]
    assert toks == [("le", True), ("cancer", True), ("du", True), ("sein", False)]


def test_positions_and_offsets_refer_to_the_cleaned_text():
    text = "乳腺癌  and\u200b cancer"
    cleaned = clean(text)
    toks = [(t.text, t.pos, t.startchar, t.endchar)
            for t in CareTokenizer()(text, positions=True, chars=True)]
    assert toks == [("乳腺", 0, 0, 2), ("腺癌", 1, 1, 3), ("and", 2, 4, 7), ("cancer", 3, 8, 14)]
    assert [cleaned[s:e] for _, _, s, e in toks] == ["乳腺", "腺癌", "and", "cancer"]


def test_untokenized_value_is_one_token():
    assert [t.text for t in CareTokenizer()("Cancer du Sein", tokenize=False)] == ["Cancer du Sein"]


def test_describe_for_the_manifest():
    info = describe()
    assert info["version"] == ANALYSIS_VERSION
    assert set(info["analyzers"]) == set(ANALYZERS)
    assert info["analyzers"]["fr"]["stages"] == ["CareTokenizer", "ElisionFilter", "FoldFilter",
                                                 f"StopFilter({len(stopwords_for('fr'))})", "SnowballStem(french)"]
    assert info["analyzers"]["ru"]["stages"][-2:] == ["SnowballStem(russian)", "FoldFilter"]
    assert info["analyzers"]["zh"]["stages"] == ["CareTokenizer", "FoldFilter", "StopFilter(0)"]


def test_analyzers_pickle_and_compare_equal():
    for lang, analyzer in ANALYZERS.items():
        copy = pickle.loads(pickle.dumps(analyzer))
        assert copy == analyzer
        assert [t.text for t in copy("Traitements chimiothérapie 乳腺癌")] == \
               [t.text for t in analyzer("Traitements chimiothérapie 乳腺癌")], lang
    with pytest.raises(ValueError):
        SnowballStem("klingon")


def test_whoosh_index_with_these_analyzers_opens_again(tmp_path):
    langs = [*SUPPORTED, NEUTRAL]
    schema = Schema(id=ID(stored=True, unique=True), **{f"text_{lg}": TEXT(analyzer=ANALYZERS[lg]) for lg in langs})
    ix = index.create_in(str(tmp_path), schema)
    w = ix.writer()
    w.add_document(id="a", text_fr="Chimiothérapie de l'enfant", text_zh="乳腺癌治疗", text_ru="лечение ребёнка",
                   text_ar="علاج سرطان الثدي عند الأطفال", text_tr="Çocuklarda akciğer kanseri")
    w.add_document(id="b", text_fr="Radiothérapie de l'adulte", text_zh="肺癌手术")
    w.commit()
    ix.close()

    reopened = index.open_dir(str(tmp_path))
    assert reopened.schema["text_fr"].analyzer == ANALYZERS["fr"]
    with reopened.searcher() as s:
        def ids(field, q):
            return sorted(hit["id"] for hit in s.search(QueryParser(field, reopened.schema).parse(q)))
        assert ids("text_fr", "chimiotherapie enfants") == ["a"]
        assert ids("text_zh", "乳腺癌") == ["a"]
        assert ids("text_ru", "ребёнка") == ["a"]
        assert ids("text_ar", "الاطفال") == ["a"]
        assert ids("text_tr", "cocuklarda") == ["a"]
        assert ids("text_fr", "adulte") == ["b"]
    reopened.close()


def test_stemming_is_thread_safe():
    words = "traitements chimiothérapies radiothérapie enfants adultes hôpitaux " * 20
    expected = analyze(words, "fr")
    results, errors = [], []

    def work():
        try:
            for _ in range(30):
                results.append(analyze(words, "fr"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(r == expected for r in results)


@pytest.mark.parametrize("lang", sorted(ANALYZERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=120))
def test_fuzz_every_analyzer_never_raises_and_is_deterministic(lang, text):
    analyzer = ANALYZERS[lang]
    first = [(t.text, t.pos, t.startchar, t.endchar) for t in analyzer(text, positions=True, chars=True)]
    second = [(t.text, t.pos, t.startchar, t.endchar) for t in analyzer(text, positions=True, chars=True)]
    assert first == second
    cleaned = clean(text)
    for term, pos, start, end in first:
        assert isinstance(term, str) and term
        assert 0 <= start < end <= len(cleaned)
    assert [p for _, p, _, _ in first] == sorted(p for _, p, _, _ in first)


@pytest.mark.parametrize("lang", sorted(ANALYZERS))
@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Lo", "Mn", "Nd", "Zs", "Po")),
                    max_size=60))
def test_fuzz_letters_of_every_script(lang, text):
    assert analyze(text, lang) == analyze(text, lang)


# --- index_terms: what the indexer hands Whoosh, analysed once per distinct word -------------

INDEX_CASES = [
    "Traitement de l'adénocarcinome du sein chez l'enfant, qu’il soit opéré jusqu'à Lyon",
    "My son's leukaemia treatments at the children's hospital; don't",
    "tumore dell'ovaio nell'adulto", "İstanbul'da tedavi, Paris'te kanser", "乳腺癌术后 second opinion 乳がん",
    "유방암 치료", "سرطان الثدي والعلاج بالأشعة", "Brustkrebs-Behandlung in Straßburg", "", "123 C50.9 T-cell",
    "ガン　がん", "рак молочной железы", "καρκίνος του μαστού",
]


def _index_mode(text: str, lang: str) -> list[str]:
    return [t.text for t in analyzer_for(lang)(text, mode="index")]


@pytest.mark.parametrize("lang", sorted(ANALYZERS))
def test_index_terms_are_the_analyzers_own(lang):
    for text in INDEX_CASES + [text for _, text, _ in TABLE]:
        assert index_terms(text, lang) == _index_mode(text, lang), (lang, text)
        assert index_terms(text, lang) == _index_mode(text, lang)  # and again, from the kept terms


def test_index_terms_of_the_bundled_corpus_are_the_analyzers_own():
    from samples import BUNDLED
    from search.corpus import load_corpus
    from search.icd10 import Backbone
    corpus = load_corpus([BUNDLED], Backbone.load())
    compared = 0
    for offer in corpus.offers:
        for lang, text in offer.text.items():
            value = f"{text['title']}\n{text['description']}"
            assert index_terms(value, lang) == _index_mode(value, lang), (offer.id, lang)
            compared += 1
    assert compared > 900


@pytest.mark.parametrize("lang", sorted(ANALYZERS))
@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=120))
def test_fuzz_index_terms(lang, text):
    assert index_terms(text, lang) == _index_mode(text, lang)


def test_whoosh_indexes_the_term_list_as_it_indexes_the_text():
    field = TEXT(analyzer=analyzer_for("fr"), phrase=False)
    text = INDEX_CASES[0] + " sein sein"
    assert list(field.index(index_terms(text, "fr"))) == list(field.index(text))
