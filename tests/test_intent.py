from pathlib import Path

import pytest

from search.errors import TerminologyError
from search.intent import (CUES_PATH, MODALITIES, SERVICES, Intent, detect_intent, detect_intent_text, expansion,
                           known_words, load_cues, modality_phrases, parse_cues)
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


def test_every_modality_has_cues_in_every_language():
    cues = parse_cues(CUES_PATH)
    have = {(c.value, c.lang) for c in cues if c.kind == "modality"}
    for modality in MODALITIES:
        for lang in SUPPORTED:
            assert (modality, lang) in have, (modality, lang)
    assert {c.value for c in cues if c.kind == "modality"} == set(MODALITIES)


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


# --- modalities: treatments and procedures named ------------------------------------------------

@pytest.mark.parametrize("query, modality", [
    ("质子治疗", "proton-therapy"),
    ("質子治療", "proton-therapy"),
    ("小児がん 陽子線治療", "proton-therapy"),
    ("양성자치료 비용", "proton-therapy"),
    ("протонная терапия во Франции", "proton-therapy"),
    ("протонна терапія", "proton-therapy"),
    ("terapia de protones", "proton-therapy"),
    ("chordome de la base du crâne protonthérapie", "proton-therapy"),
    ("العلاج بالبروتونات", "proton-therapy"),
    ("טיפול בפרוטונים", "proton-therapy"),
    ("प्रोटॉन थेरेपी", "proton-therapy"),
    ("θεραπεία πρωτονίων", "proton-therapy"),
    ("przeszczep szpiku kostnego", "bone-marrow-transplant"),
    ("زراعة نخاع العظم", "bone-marrow-transplant"),
    ("trasplante de médula ósea", "bone-marrow-transplant"),
    ("骨髄移植", "bone-marrow-transplant"),
    ("böbrek nakli", "kidney-transplant"),          # also a concept (N18): still the procedure
    ("greffe de foie", "liver-transplant"),
    ("CAR-T cell therapy for relapsed lymphoma", "car-t"),
    ("carcinose péritonéale CHIP", "hipec"),
    ("métastases osseuses radiothérapie stéréotaxique", "stereotactic-radiotherapy"),
    ("metástasis cerebrales radiocirugía", "stereotactic-radiotherapy"),
    ("SBRT for lung metastases", "stereotactic-radiotherapy"),
    ("rak szyjki macicy brachyterapia", "brachytherapy"),
    ("радиойодтерапия рака щитовидной железы", "nuclear-medicine"),
    ("cáncer de vejiga cirugía robótica", "robotic-surgery"),
    ("腹腔镜手术", "minimally-invasive-surgery"),
    ("BRCA1 mutation genetic counselling", "genetic-testing"),
    ("phase 1 trial after all treatments failed", "early-phase-trials"),
    ("reconstrução mamária depois da mastectomia", "breast-reconstruction"),
    ("boala Parkinson stimulare cerebrală profundă", "deep-brain-stimulation"),
    ("gastric bypass surgery", "bariatric-surgery"),   # not a coronary bypass
    ("pontage coronarien", "coronary-bypass"),
    ("tüp bebek", "ivf"),
])
def test_modality_cues_in_many_scripts(query, modality):
    assert detect_intent_text(query).modalities == (modality,)


@pytest.mark.parametrize("query", ["cancer du sein", "乳腺癌", "second opinion for my child's rare genetic disease",
                                   "proton pump", "cancer du poumon diagnostiqué à un stade précoce"])
def test_no_modality_named(query):
    assert detect_intent_text(query).modalities == ()


@pytest.mark.parametrize("query", ["preservación de la fertilidad", "BRCA1", "брахитерапия", "骨髓移植",
                                   "protesi d'anca", "kemik iliği nakli", "肝移植"])
def test_modalities_do_not_set_service_age_place_or_urgency(query):
    intent = detect_intent_text(query)
    assert intent.modalities
    assert intent.as_dict() == {"service": None, "age_group": None, "place": None, "urgent": False}


def test_a_modality_leaves_the_other_cues_as_they_were():
    # "radiothérapie" inside the longer modality phrase is still a treatment cue
    intent = detect_intent_text("radiothérapie stéréotaxique à Lyon pour mon fils")
    assert intent.modalities == ("stereotactic-radiotherapy",)
    assert intent.as_dict() == {"service": "treatment", "age_group": "pediatric", "place": "lyon", "urgent": False}
    # "second opinion" still wins; the modality is recorded beside it, with its span
    intent = detect_intent_text("Zweitmeinung Protonentherapie")
    assert intent.service == "second_opinion"
    ev = next(ev for ev in intent.evidence if ev.kind == "modality")
    assert (ev.cue, ev.value, ev.span) == ("Protonentherapie", "proton-therapy", (1, 2))
    assert "de" in ev.langs


def test_masked_pathology_words_still_name_a_modality():
    tokens = tokenize(clean("kidney transplant for my son"))
    keys = ["\0", "\0", "for", "my", "son"]          # the engine masks a pathology's words
    intent = detect_intent(tokens, keys)
    assert intent.modalities == ("kidney-transplant",)
    assert intent.age_group == "pediatric"


def test_expansion_gives_the_french_and_english_words():
    words = expansion(detect_intent_text("质子治疗"))
    assert "protonthérapie" in words and "proton therapy" in words
    assert not any("质" in w for w in words)
    assert expansion(detect_intent_text("乳腺癌")) == []
    both = expansion(detect_intent_text("greffe de moelle et CAR-T"))
    assert "stem cell transplant" in both and "CAR-T" in both
    assert len(both) == len(set(both))
    assert "质子治疗" in modality_phrases("proton-therapy", ("zh",))


def test_custom_table_with_modalities(tmp_path):
    table = write(tmp_path / "cues.tsv", ["modality\tproton-therapy\ten\tproton therapy",
                                          "modality\tproton-therapy\tfr\tprotonthérapie",
                                          "modality\tproton-therapy\tzh\t质子治疗",
                                          "service\ttreatment\ten\ttherapy",
                                          "service\ttreatment\tzh\t治疗"])
    cues = load_cues(table)
    # the layers do not compete: 治疗 inside the modality is still the treatment cue it was
    intent = detect_intent(tokenize(clean("质子治疗")), cues=cues)
    assert intent.modalities == ("proton-therapy",) and intent.service == "treatment"
    intent = detect_intent(tokenize("proton therapy"), cues=cues)
    assert intent.modalities == ("proton-therapy",) and intent.service == "treatment"
    assert expansion(intent, cues=cues) == ["protonthérapie", "proton therapy"]
    assert intent.languages() == {"en": 2.0}             # modality cues are evidence of language too
    assert detect_intent(tokenize("protonthérapie"), cues=cues).service is None


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
    ("modality\tmassage\ten\tmassage", "unknown modality value 'massage'"),
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


def test_an_idiom_is_neither_a_cue_nor_searched_words(engine):
    # "au sein de" is "within": its "sein" (breast) must not send the words to breast offers
    u = engine.understand("je cherche une équipe au sein de laquelle mon père sera soigné")
    assert not u.concepts and u.service is None
    assert [ev.kind for ev in u.intent.evidence] == ["filler"]
    terms = engine._text_terms(engine._snap, u)
    assert terms and not any(t == "sein" for _, t in terms)
    # the site word of a real request still names the pathology
    assert [m.concept.id for m in engine.understand("tumeur au sein droit").concepts] == ["C50"]
