from pathlib import Path

import pytest

from search.errors import TerminologyError
from search.intent import (CUES_PATH, SERVICES, Intent, detect_intent, detect_intent_text, known_words,
                           load_cues, parse_cues)
from search.locales import SUPPORTED
from search.textnorm import clean, tokenize

CITIES = ("paris", "villejuif", "saint-cloud", "orsay", "lyon", "nice", "marseille", "caen", "bordeaux",
          "lille", "toulouse", "montpellier", "angers", "nantes", "saint-herblain", "rennes", "rouen",
          "clermont-ferrand", "dijon", "nancy", "vandoeuvre-les-nancy", "strasbourg", "reims",
          "neuilly-sur-seine", "suresnes")


# --- the bundled cue table -------------------------------------------------------------------

def test_cue_file_is_valid_sorted_and_without_duplicates():
    lines = [line for line in CUES_PATH.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == sorted(lines)
    assert len(lines) == len(set(lines))
    cues = parse_cues(CUES_PATH)
    assert len(cues) == len(lines)


def test_every_language_has_cues_for_every_service_age_and_urgency():
    cues = parse_cues(CUES_PATH)
    have = {(c.kind, c.value, c.lang) for c in cues}
    for lang in SUPPORTED:
        for service in SERVICES:
            assert ("service", service, lang) in have, (service, lang)
        assert ("age", "pediatric", lang) in have, lang
        assert ("age", "adult", lang) in have, lang
        assert ("urgency", "urgent", lang) in have, lang


def test_every_city_of_the_corpus_is_a_place_and_france_is_not():
    cues = parse_cues(CUES_PATH)
    assert {c.value for c in cues if c.kind == "place"} == set(CITIES)
    for france in ("France", "Frankreich", "Francia", "Франция", "فرنسا", "法国", "フランス", "프랑스"):
        assert detect_intent_text(f"cancer du sein {france}").place is None


def test_cues_compile_once():
    assert load_cues() is load_cues()
    assert {"zweitmeinung", "cocu"} <= known_words()


# --- detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize("query, service", [
    ("grosseur au sein deuxième avis", "second_opinion"),
    ("lymphome de Hodgkin avis d'expert", "second_opinion"),
    ("glioblastome relecture du dossier", "second_opinion"),
    ("Prostatakarzinom Zweitmeinung", "second_opinion"),
    ("szpiczak mnogi weryfikacja diagnozy", "second_opinion"),   # longest cue beats "diagnozy"
    ("пересмотр гистологии рак поджелудочной железы", "second_opinion"),
    ("سرطان الكبد رأي ثاني", "second_opinion"),
    ("סרטן השד חוות דעת שנייה", "second_opinion"),
    ("肝癌第二诊疗意见", "second_opinion"),
    ("前立腺がん セカンドオピニオン", "second_opinion"),
    ("간암 세컨드 오피니언", "second_opinion"),
    ("लिवर कैंसर दूसरी राय", "second_opinion"),
    ("myélome multiple téléconsultation", "teleconsultation"),
    ("consultation à distance pour mon enfant", "teleconsultation"),
    ("Eierstockkrebs Videosprechstunde", "teleconsultation"),
    ("ייעוץ רפואי מרחוק", "teleconsultation"),
    ("비대면 진료 프랑스 의사", "teleconsultation"),
    ("مشاوره آنلاین سرطان تیروئید", "teleconsultation"),
    ("formation chirurgie du cancer du sein pour médecins étrangers", "training"),
    ("курсы для врачей по лечению рака щитовидной железы", "training"),
    ("دورة تدريبية للأطباء في جراحة سرطان المعدة", "training"),
    ("khóa đào tạo bác sĩ về ung thư vú", "training"),
    ("mesothelioma clinical trials", "clinical_trials"),
    ("临床试验 肺癌", "clinical_trials"),
    ("dépistage cancer colorectal", "diagnostics"),
    ("cancer du sein chimiothérapie", "treatment"),
    ("乳腺癌手术", "treatment"),
    ("cancer du sein", None),                     # nothing asked: no service, not "treatment"
    ("乳腺癌", None),
])
def test_service(query, service):
    assert detect_intent_text(query).service == service


def test_the_most_specific_service_wins():
    assert detect_intent_text("second opinion by video").service == "second_opinion"
    assert detect_intent_text("online training for surgeons").service == "training"
    assert detect_intent_text("traitement ou essai clinique").service == "clinical_trials"
    assert detect_intent_text("treatment and second opinion").service == "second_opinion"


@pytest.mark.parametrize("query, age", [
    ("tumeur au cerveau de mon fils", "pediatric"),
    ("sarcome d'Ewing chez ma fille", "pediatric"),
    ("my son has acute lymphoblastic leukemia", "pediatric"),
    ("osteosarcoma in kids", "pediatric"),
    ("mi hijo tiene un tumor cerebral", "pediatric"),
    ("Leukämie bei meiner Tochter", "pediatric"),
    ("rabdomiosarcoma nei bambini", "pediatric"),
    ("minha filha tem tumor de Wilms", "pediatric"),
    ("scoliose bij mijn dochter", "pediatric"),
    ("białaczka u dziecka", "pediatric"),          # stem dziec*
    ("szpital dziecięcy w Paryżu", "pediatric"),
    ("tumoră cerebrală la copil", "pediatric"),
    ("çocuklarda hepatoblastom", "pediatric"),     # stem çocu*
    ("опухоль головного мозга у сына", "pediatric"),
    ("лейкоз у ребёнка", "pediatric"),
    ("пухлина Вільмса у доньки", "pediatric"),
    ("سرطان الدم عند الأطفال", "pediatric"),
    ("لوسمی در کودکان", "pediatric"),
    ("גידולי מוח בילדים", "pediatric"),           # Hebrew prefix ב
    ("儿童白血病", "pediatric"),
    ("子どもの脳腫瘍", "pediatric"),
    ("소아 뇌종양", "pediatric"),
    ("con tôi bị ung thư máu", "pediatric"),
    ("बच्चे की आंख का कैंसर", "pediatric"),
    ("λευχαιμία στο παιδί μου", "pediatric"),       # stem παιδ*
    ("leukemia pada anak", "pediatric"),
    ("cancer du sein chez l'adulte", "adult"),
    ("leucemia en adultos y niños", "pediatric"),   # a child mentioned wins
    ("cancer du poumon", None),
])
def test_age_group(query, age):
    assert detect_intent_text(query).age_group == age


@pytest.mark.parametrize("query", [
    "what kind of surgery for breast cancer",      # English "kind" is not the Dutch/German child
    "désir d'enfant après un cancer du sein",      # fertility, not a child's care
    "बच्चेदानी के मुंह का कैंसर",                      # the word for uterus starts like "child"
    "son traitement du cancer du sein",            # French "son" = his/her
    "cuáles son los tratamientos",                 # Spanish "son" = are
])
def test_false_friends_are_not_children(query):
    assert detect_intent_text(query).age_group is None


@pytest.mark.parametrize("query, place", [
    ("adenocarcinome pulmonaire traitement Paris", "paris"),
    ("rak piersi leczenie w Paryżu", "paris"),
    ("лечение в Париже", "paris"),
    ("علاج في باريس", "paris"),
    ("巴黎 乳腺癌", "paris"),
    ("パリで治療", "paris"),
    ("파리에서 치료", "paris"),                   # Korean particle after the name
    ("בפריז", "paris"),                          # Hebrew prefix ב
    ("Gustave Roussy Villejuif", "villejuif"),
    ("proton therapy Orsay", "orsay"),
    ("Vandoeuvre les Nancy", "vandoeuvre-les-nancy"),  # longest name, not "nancy"
    ("Institut de cancérologie Nancy", "nancy"),
    ("centre Léon Bérard Lyon", "lyon"),
    ("cancro a Lione", "lyon"),
    ("Straßburg Behandlung", "strasbourg"),
    ("Clermont-Ferrand", "clermont-ferrand"),
    ("Saint-Cloud", "saint-cloud"),
    ("cancer treatment Nice", "nice"),
    ("a nice hospital for cancer", None),         # "nice" as an adjective
    ("treatment in France", None),
    ("Lungenkrebs Behandlung in Frankreich", None),
])
def test_place(query, place):
    assert detect_intent_text(query).place == place


@pytest.mark.parametrize("query", [
    "cancer du sein avec métastases à distance",   # distant metastases, not a remote consultation
    "cáncer de mama con metástasis a distancia",
    "乳がん 遠隔転移",
    "유방암 원격 전이",
])
def test_distant_metastases_are_not_teleconsultation(query):
    assert detect_intent_text(query).service is None


def test_reviews_of_a_hospital_are_not_a_second_opinion():
    assert detect_intent_text("szpital onkologiczny opinie").service is None   # Polish "reviews"
    assert detect_intent_text("drugą opinię rak piersi").service == "second_opinion"


def test_first_place_named_wins():
    assert detect_intent_text("Lyon ou Paris").place == "lyon"


@pytest.mark.parametrize("query", ["urgent second opinion", "consultation en urgence", "срочно нужна операция",
                                   "عاجل سرطان", "紧急 手术", "acil tedavi", "dringend Zweitmeinung"])
def test_urgency(query):
    assert detect_intent_text(query).urgent is True


def test_not_urgent_by_default():
    assert detect_intent_text("cancer du sein deuxième avis").urgent is False


def test_evidence_names_words_span_and_languages():
    text = "tumeur au cerveau de mon fils deuxième avis à Lyon"
    tokens = tokenize(clean(text))
    intent = detect_intent(tokens)
    assert intent.as_dict() == {"service": "second_opinion", "age_group": "pediatric", "place": "lyon",
                                "urgent": False}
    by_kind = {ev.kind: ev for ev in intent.evidence}
    assert by_kind["age"].cue == "mon fils" and by_kind["age"].lang == "fr"
    assert [t.text for t in tokens[by_kind["age"].start:by_kind["age"].end]] == ["mon", "fils"]
    assert by_kind["service"].cue == "deuxième avis" and by_kind["service"].span == (6, 8)
    assert by_kind["place"].value == "lyon"
    assert intent.languages() == {"fr": 2.0}     # places are no evidence of language


def test_cue_shared_by_languages_splits_its_weight():
    langs = detect_intent_text("second opinion").languages()
    assert set(langs) == {"en", "id", "nl"}
    assert abs(sum(langs.values()) - 1.0) < 1e-9


def test_precomputed_keys_give_the_same_answer():
    tokens = tokenize(clean("Leukämie bei meiner Tochter Zweitmeinung"))
    from search.textnorm import fold
    keys = [fold(t.text, t.script) for t in tokens]
    assert detect_intent(tokens, keys) == detect_intent(tokens)


def test_empty_query():
    assert detect_intent([]) == Intent()


# --- custom tables and their errors -----------------------------------------------------------

def write(path: Path, rows: list[str]) -> Path:
    path.write_text("# test cues\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_custom_table(tmp_path):
    table = write(tmp_path / "cues.tsv", ["age\tpediatric\ten\tchild", "age\tpediatric\ttr\tçocu*",
                                          "place\tlyon\tfr\tLyon", "service\ttraining\ten\tcourse"])
    cues = load_cues(table)
    intent = detect_intent(tokenize("child course Lyon"), cues=cues)
    assert (intent.service, intent.age_group, intent.place) == ("training", "pediatric", "lyon")
    assert detect_intent(tokenize("çocuğumun"), cues=cues).age_group == "pediatric"
    assert detect_intent(tokenize("deuxième avis"), cues=cues).service is None


@pytest.mark.parametrize("row, message", [
    ("age\tpediatric\ten", "expected kind<TAB>value<TAB>lang<TAB>cue"),
    ("mood\thappy\ten\tglad", "unknown kind 'mood'"),
    ("service\tmassage\ten\tmassage", "unknown service value 'massage'"),
    ("age\tpediatric\txx\tchild", "unsupported language 'xx'"),
    ("age\tpediatric\ten\t", "empty cue"),
    ("place\tParis City\tfr\tParis", "city slug"),
])
def test_bad_rows_name_file_and_line(tmp_path, row, message):
    table = write(tmp_path / "bad.tsv", ["age\tpediatric\ten\tchild", row])
    with pytest.raises(TerminologyError) as err:
        load_cues(table)
    assert "bad.tsv:3" in err.value.message and message in err.value.message


def test_bad_stem_and_empty_cue_are_errors(tmp_path):
    with pytest.raises(TerminologyError, match="stem cue"):
        load_cues(write(tmp_path / "a.tsv", ["age\tpediatric\ten\tab*"]))
    with pytest.raises(TerminologyError, match="no words"):
        load_cues(write(tmp_path / "b.tsv", ["age\tpediatric\ten\t!!"]))
    with pytest.raises(TerminologyError, match="cannot read"):
        load_cues(tmp_path / "missing.tsv")
