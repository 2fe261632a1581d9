import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.errors import UsageError
from search.langid import LanguageGuess, detector_scores, identify, identify_long
from search.locales import SUPPORTED

ROOT = Path(__file__).resolve().parent.parent


def test_declared_language_wins_and_is_normalised():
    assert identify("Brustkrebs", declared="pt-BR") == LanguageGuess("pt", 1.0, "declared")
    assert identify("乳腺癌", declared="Deutsch").code == "de"
    assert identify("cancer", declared="  ").source != "declared"   # blank means not declared


def test_declared_bad_tag_is_a_usage_error():
    with pytest.raises(UsageError):
        identify("cancer du sein", declared="klingon")


@pytest.mark.parametrize("text, code", [
    ("유방암 수술 프랑스", "ko"),
    ("前立腺がん セカンドオピニオン", "ja"),
    ("すい臓がん", "ja"),
    ("急性骨髄性白血病", "ja"),          # Han only, but 髄 is written so only in Japanese
    ("多発性骨髄腫", "ja"),
    ("乳腺癌术后复发", "zh"),            # Han alone -> zh
    ("肝癌第二诊疗意见", "zh"),
    ("סרטן השד חוות דעת שנייה", "he"),
    ("καρκίνος του μαστού", "el"),
    ("स्तन कैंसर", "hi"),
    ("มะเร็งเต้านม", "th"),
    ("سرطان پستان", "fa"),               # پ
    ("لوسمی در کودکان", "fa"),           # ی ک
    ("سرطان الثدي رأي طبي ثاني", "ar"),  # ي
    ("علاج سرطان الرئة في فرنسا", "ar"),
    ("рак молочної залози", "uk"),       # ї
    ("лікування раку", "uk"),            # і
    ("опухоль головного мозга у сына", "ru"),  # ы
    ("лейкоз у ребёнка", "ru"),          # ё
    ("ung thư phổi điều trị tại Pháp", "vi"),
    ("u não xin ý kiến thứ hai", "vi"),
    ("λέμφωμα Hodgkin δεύτερη γνώμη", "el"),  # a Latin name does not change the script's answer
])
def test_script_rules(text, code):
    guess = identify(text)
    assert (guess.code, guess.source) == (code, "script")


@pytest.mark.parametrize("text", ["C50", "C18.7", "HCC", "ALL", "TNBC HER2", "", "   ", "123 456", "!!!",
                                  "კიბო"])   # Georgian: a script none of the 22 is written in
def test_abstains_on_codes_abbreviations_and_no_language(text):
    guess = identify(text)
    assert guess.code is None and guess.source == "none"


@pytest.mark.parametrize("text, code", [
    ("cancer du sein triple négatif", "fr"),
    ("tumeur au cerveau de mon fils", "fr"),
    ("my son has acute lymphoblastic leukemia", "en"),
    ("mi hijo tiene un tumor cerebral", "es"),
    ("Leukämie bei meiner Tochter", "de"),
    ("mio figlio ha un neuroblastoma", "it"),
    ("minha filha tem tumor de Wilms", "pt"),
    ("hersentumor bij kinderen", "nl"),
    ("rak piersi leczenie w Paryżu", "pl"),
    ("tumoră cerebrală la copil", "ro"),
    ("beyin tümörü ikinci görüş", "tr"),
    ("konsultasi online dengan dokter di Prancis", "id"),
])
def test_detector_on_latin_sentences(text, code):
    guess = identify(text)
    assert guess.code == code
    assert guess.source == "detector"
    assert 0 < guess.confidence <= 1


def test_letter_rules_rule_out_languages_that_do_not_write_them():
    # ł ą ę ś ź ż ń are Polish, ğ ı Turkish, ș ț Romanian, ß German, ñ Spanish
    assert identify("białaczka").code == "pl"
    assert identify("akciğer").code == "tr"
    assert identify("Straße").code == "de"
    assert identify("niño").code == "es"


def test_lexicon_languages_decide_between_candidates():
    # "kanker" is a Dutch and an Indonesian word; the alias languages say which
    assert identify("kanker prostat", lexicon={"id": 1.0}) == identify("kanker prostat", lexicon={"id": 2.0})
    guess = identify("kanker prostat", lexicon={"id": 1.0})
    assert (guess.code, guess.source) == ("id", "lexicon")
    assert identify("prostat kanseri", lexicon={"tr": 1.0}).code == "tr"
    assert identify("рак простати", lexicon={"uk": 1.0}).code == "uk"
    # a lexicon language the script excludes is ignored; the script still decides
    assert identify("乳腺癌", lexicon={"fr": 1.0}).code == "zh"
    # weights, not presence: two votes beat one
    assert identify("kanker", lexicon={"id": 2.0, "nl": 1.0}).code == "id"
    # unknown or empty lexicon entries are harmless
    assert identify("cancer du sein", lexicon={"xx": 1.0, "fr": 0.0}).code == "fr"


def test_detector_is_restricted_to_the_supported_languages():
    scores = detector_scores("Det här är en svensk mening om bröstcancer")  # Swedish
    assert set(scores) == set(SUPPORTED)
    assert abs(sum(scores.values()) - 1.0) < 1e-6


def test_deterministic_across_calls_and_processes():
    queries = ["cancer de prostata segunda opinion", "recaída de linfoma de Hodgkin", "darmkanker",
               "kanker tiroid", "лимфома Ходжкина", "cancer ovarian consultatie online"]
    first = [identify(q) for q in queries]
    assert all(identify(q) == g for q, g in zip(queries, first) for _ in range(3))
    code = ("from search.langid import identify, identify_long\n"
            f"qs = {queries!r}\n"
            "print([identify(q).code for q in qs], identify_long(' '.join(qs * 3)).code)")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout for _ in range(2)}
    assert len(runs) == 1 and str([g.code for g in first]) in runs.pop()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_identify_never_raises_and_stays_in_bounds(text):
    guess = identify(text)
    assert guess.source in ("script", "lexicon", "detector", "none")
    assert guess.code is None or guess.code in SUPPORTED or guess.code == "th"
    assert 0.0 <= guess.confidence <= 1.0
    assert identify(text) == guess


LONG_TEXTS = {
    "fr": "Bonjour, ma mère a été opérée d'un cancer du sein l'an dernier et son oncologue propose "
          "une chimiothérapie. Nous souhaiterions avoir un deuxième avis dans votre établissement.",
    "de": "Guten Tag, bei meinem Vater wurde im März ein Tumor in der Bauchspeicheldrüse gefunden. "
          "Wir möchten wissen, ob eine Behandlung in Ihrem Zentrum möglich ist.",
    "es": "Buenos días, a mi hermana le diagnosticaron un linfoma y queremos saber si podemos "
          "recibir tratamiento en Francia y cuánto tiempo hay que esperar para una cita.",
    "ar": "مرحبا، تم تشخيص والدي بسرطان الرئة ونرغب في الحصول على رأي طبي ثان في مستشفى فرنسي",
    "uk": "Доброго дня, у моєї доньки виявили пухлину мозку, ми хочемо отримати консультацію у Франції",
}


@pytest.mark.parametrize("lang", sorted(LONG_TEXTS))
def test_identify_long_uses_langdetect_for_longer_texts(lang):
    guess = identify_long(LONG_TEXTS[lang])
    assert guess.code == lang
    assert guess.confidence >= 0.5


def test_background_warm_up_then_identify():
    from search.langid import warm_up

    thread = warm_up(background=True)
    assert identify("cancer du sein triple négatif").code == "fr"   # waits for the same load
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert warm_up() is None


def test_identify_long_hands_short_texts_to_identify():
    assert identify_long("cancer du sein") == identify("cancer du sein")
    assert identify_long("texte", declared="fr").source == "declared"
    assert identify_long("C50").code is None
