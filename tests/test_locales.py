import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.errors import UsageError
from search.locales import (SUPPORTED, canonical_tag, country_languages, is_supported, language_name,
                            language_names, negotiate, normalize_country, normalize_lang,
                            parse_accept_language)


def test_supported_is_the_22_languages():
    assert SUPPORTED == ("fr", "en", "es", "de", "it", "pt", "nl", "pl", "ro", "tr", "ru", "uk", "ar",
                         "fa", "he", "zh", "ja", "ko", "vi", "hi", "el", "id")
    assert all(is_supported(c) for c in SUPPORTED)
    assert not is_supported("sv")


@pytest.mark.parametrize("tag, code", [
    ("fr", "fr"), ("FR", "fr"), ("pt-BR", "pt"), ("pt_br", "pt"), ("por", "pt"), ("Portuguese", "pt"),
    ("português", "pt"), ("Deutsch", "de"), ("allemand", "de"), ("ger", "de"), ("deu", "de"),
    ("zh-Hans-CN", "zh"), ("zh_TW", "zh"), ("中文", "zh"), ("iw", "he"), ("Hebrew", "he"), ("in", "id"),
    ("Indonesian", "id"), ("فارسی", "fa"), ("Persian", "fa"), ("العربية", "ar"), ("Русский", "ru"),
    ("українська", "uk"), ("日本語", "ja"), ("한국어", "ko"), ("Tiếng Việt", "vi"), ("हिन्दी", "hi"),
    ("Ελληνικά", "el"), ("türkçe", "tr"), ("română", "ro"), ("polski", "pl"), ("Nederlands", "nl"),
    ("en-US-x-twain", "en"), ("  es-419 ", "es"), ("sv", "sv"),
])
def test_normalize_lang(tag, code):
    assert normalize_lang(tag) == code


@pytest.mark.parametrize("bad", ["", "   ", "xx", "und", "zz-ZZ", "klingon", "x-private", "12", "fr;q=1",
                                 "a" * 200])
def test_normalize_lang_rejects_unknown_tags_naming_them(bad):
    with pytest.raises(UsageError) as err:
        normalize_lang(bad)
    if bad.strip():
        assert bad.strip()[:20] in err.value.message


def test_normalize_lang_rejects_non_strings():
    with pytest.raises(UsageError):
        normalize_lang(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("header, tags", [
    ("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", ["fr-CH", "fr", "en", "de"]),
    ("en;q=0.5, ar", ["ar", "en"]),                       # weights, not header order
    ("de;q=0.8, es;q=0.8", ["de", "es"]),                 # ties keep header order
    ("zh-hans-cn;q=0.5, EN_us, ar;q=0", ["en-US", "zh-Hans-CN"]),  # q=0 means "not this one"
    ("fr, fr, FR", ["fr"]),
    ("garbage;;, x;q=0.3, de;q=1.5, tr;q=abc", []),
    ("", []),
])
def test_parse_accept_language(header, tags):
    assert parse_accept_language(header) == tags


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_accept_language_never_raises(header):
    out = parse_accept_language(header)
    assert all(isinstance(t, str) and t for t in out)
    assert len(out) == len({t.lower() for t in out})


def test_canonical_tag():
    assert canonical_tag("PT-br") == "pt-BR"
    assert canonical_tag("zh_hans_cn") == "zh-Hans-CN"
    assert canonical_tag("es-419") == "es-419"
    assert canonical_tag("nonsense!") is None


@pytest.mark.parametrize("wanted, offered, expected", [
    (["pt-BR", "en"], ["en", "pt"], "pt"),        # base language before a later preference
    (["pt-BR"], ["pt_BR", "pt"], "pt_BR"),        # exact first, returned as offered
    (["zh-TW"], ["zh-Hans"], "zh-Hans"),
    (["de"], ["fr", "en"], None),
    (["ar", "fr"], ["fr", "ar"], "ar"),           # the patient's order wins
    ([], ["fr"], None),
    (["xx-bad", "en"], ["en"], "en"),             # a bad wanted tag is skipped
    (["fr"], ["", "zz", "fr-FR"], "fr-FR"),
])
def test_negotiate(wanted, offered, expected):
    assert negotiate(wanted, offered) == expected


def test_language_names_in_the_readers_language():
    assert language_name("ar", "fr") == "arabe"
    assert language_name("fr", "ar") == "الفرنسية"
    assert language_name("de", "de") == "Deutsch"
    assert language_name("fr", "pt-BR") == "francês"
    assert language_name("fr", "xx") == "French"          # unknown reader: English
    assert language_names(["ar", "en"], "fr") == "arabe et anglais"
    assert language_names(["fr", "ru"], "ru") == "французский и русский"
    assert language_names(["en"], "es") == "inglés"
    assert language_names([], "fr") == ""


@pytest.mark.parametrize("given_, code", [
    ("MA", "MA"), ("ma", "MA"), ("Maroc", "MA"), ("Morocco", "MA"), ("Marokko", "MA"), ("المغرب", "MA"),
    ("Марокко", "MA"), ("摩洛哥", "MA"), ("Algérie", "DZ"), ("algerie", "DZ"), ("الجزائر", "DZ"),
    ("ایران", "IR"), ("ישראל", "IL"), ("Türkiye", "TR"), ("Việt Nam", "VN"), ("Royaume-Uni", "GB"),
    ("Atlantis", None), ("", None), ("001", None), ("ZZ", None),
])
def test_normalize_country(given_, code):
    assert normalize_country(given_) == code


def test_country_languages_from_babel():
    assert country_languages("MA") == ("ar", "fr", "tzm")
    assert country_languages("Maroc") == ("ar", "fr", "tzm")
    assert country_languages("IR") == ("fa",)
    assert country_languages("UA")[0] == "uk"      # most spoken first
    assert "en" in country_languages("US")    # de facto official
    assert country_languages("Atlantis") == ()
