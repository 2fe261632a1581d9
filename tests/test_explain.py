"""The result reasons ("why"): search/data/why.tsv in 22 languages, rendered by search.explain."""
from __future__ import annotations

import string
from collections import Counter
from pathlib import Path

import pytest

from search import explain
from search.ranking import Verdict

LANGS = ("fr en es de it pt nl pl ro tr ru uk ar fa he zh ja ko vi hi el id").split()
RULE_KEYS = {  # every key explain.why can ask for
    "age.pediatric", "expertise", "language.fallback", "language.office", "language.service",
    "pathology.exact", "pathology.general", "pathology.related", "pathology.text", "place",
    "service.clinical_trials", "service.diagnostics", "service.international_office",
    "service.second_opinion", "service.teleconsultation", "service.training", "service.treatment", "text",
}


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in explain.WHY_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            assert len(parts) == 3, line
            rows.append(tuple(parts))
    return rows


def _fields(template: str) -> Counter:
    return Counter(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)


def test_every_key_has_all_22_languages():
    table = explain.messages()
    assert set(table) == RULE_KEYS
    for key, by_lang in table.items():
        assert sorted(by_lang) == sorted(LANGS), key
        for lang, text in by_lang.items():
            assert text.strip() == text and text, (key, lang)


def test_file_sorted_without_duplicates():
    rows = _rows()
    pairs = [(k, lg) for k, lg, _ in rows]
    assert len(pairs) == len(set(pairs)) == len(RULE_KEYS) * len(LANGS)
    assert pairs == sorted(pairs)


def test_translations_keep_the_english_placeholders():
    for key, by_lang in explain.messages().items():
        wanted = _fields(by_lang["en"])
        for lang, text in by_lang.items():
            assert _fields(text) == wanted, (key, lang, text)
            # renders with exactly those values, no stray braces
            out = text.format(**{name: "X" for name in wanted})
            assert "{" not in out and "}" not in out, (key, lang)


def test_scripts_match_the_language():
    """A cheap guard against a line filed under the wrong language code."""
    table = explain.messages()
    ranges = {"ru": ("\u0400", "\u04ff"), "uk": ("\u0400", "\u04ff"), "el": ("\u0370", "\u03ff"),
              "ar": ("\u0600", "\u06ff"), "fa": ("\u0600", "\u06ff"), "he": ("\u0590", "\u05ff"),
              "hi": ("\u0900", "\u097f"), "ko": ("\uac00", "\ud7af")}
    for key, by_lang in table.items():
        for lang, (lo, hi) in ranges.items():
            assert any(lo <= ch <= hi for ch in by_lang[lang]), (key, lang)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in by_lang["zh"]), key
        assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in by_lang["ja"]), key
        for lang in ("uk",):  # Ukrainian, not Russian: no ы, э, ъ, ё
            assert not set(by_lang[lang]) & set("ыэъё"), (key, by_lang[lang])
        assert not set(by_lang["ru"]) & set("іїєґ"), (key, by_lang["ru"])
        assert not set(by_lang["fa"]) & set("ةى"), (key, by_lang["fa"])  # Arabic-only letters


def _all_verdicts() -> list[list[Verdict]]:
    """One verdict list per branch of explain.why, each with every rule contributing."""
    base = [
        Verdict("service", 1.0, {"asked": "second_opinion", "offered": "second_opinion", "explicit": True}),
        Verdict("age", 1.0, {"asked": "pediatric", "groups": ["pediatric"]}),
        Verdict("expertise", 1.0, {"networks": ["EURACAN", "NETSARC"]}),
        Verdict("place", 1.0, {"asked": "lyon", "city": "Lyon"}),
        Verdict("text", 0.7, {"bm25f": 3.2}),
    ]
    lists = []
    for how in ("exact", "related", "general", "text"):
        for lang_ev in ({"match": "service", "language": "es"}, {"match": "office", "language": "es"},
                        {"match": "fallback", "languages": ["en", "fr"]}):
            lists.append([Verdict("pathology", 1.0, {"match": how, "concept": "C50", "codes": ["C50"]}),
                          Verdict("language", 1.0, lang_ev), *base])
    for offered in ("treatment", "second_opinion", "teleconsultation", "training", "diagnostics",
                    "clinical_trials", "international_office"):
        lists.append([Verdict("service", 1.0, {"asked": offered, "offered": offered, "explicit": True})])
    return lists


@pytest.mark.parametrize("lang", LANGS + [None])
def test_why_renders_every_rule(lang):
    for verdicts in _all_verdicts():
        out = explain.why(verdicts, lang, "Breast cancer", "Lyon")
        text_only = verdicts[0].rule == "pathology" and verdicts[0].evidence["match"] == "text"
        # a pathology found only in the description already says so: the text reason is not repeated
        assert [e["rule"] for e in out] == [v.rule for v in verdicts if not (text_only and v.rule == "text")]
        for entry in out:
            assert entry["text"] and "{" not in entry["text"] and "}" not in entry["text"]
        texts = {e["rule"]: e["text"] for e in out}
        if "place" in texts:
            assert "Lyon" in texts["place"]
            assert "EURACAN, NETSARC" in texts["expertise"]
        if "pathology" in texts and verdicts[0].evidence["match"] != "text":
            assert "Breast cancer" in texts["pathology"]
        if lang:
            assert texts[verdicts[0].rule] == explain.messages()[_key(verdicts[0])][lang].format(
                label="Breast cancer", codes="C50")


def _key(v: Verdict) -> str:
    return f"pathology.{v.evidence['match']}" if v.rule == "pathology" else f"service.{v.evidence['offered']}"


@pytest.mark.parametrize("lang, service, office, fallback", [
    ("es", "Atención en español", "La oficina de pacientes internacionales habla español", "Atención en inglés y francés"),
    ("de", "Betreuung auf Spanisch", "Das Büro für internationale Patienten spricht Spanisch",
     "Betreuung auf Englisch und Französisch"),
    ("ru", "Помощь на языке: испанский", "Международный отдел говорит на языке: испанский",
     "Доступные языки: английский и французский"),
    ("ar", "الرعاية باللغة الإسبانية", "مكتب المرضى الدوليين يتحدث الإسبانية",
     "اللغات المتاحة: الإنجليزية والفرنسية"),
    ("en", "Care in Spanish", "Its international office speaks Spanish", "Care in English and French"),
    ("fr", "Prise en charge en espagnol", "Son bureau international parle espagnol",
     "Prise en charge en anglais et français"),
    ("zh", "提供西班牙语服务", "国际患者服务部可使用西班牙语交流", "提供英语和法语服务"),
    ("id", "Layanan dalam bahasa Spanyol", "Kantor pasien internasional melayani dalam bahasa Spanyol",
     "Layanan dalam bahasa Inggris dan Prancis"),
])
def test_language_names_come_from_babel_in_the_readers_language(lang, service, office, fallback):
    def one(ev):
        return explain.why([Verdict("language", 1.0, ev)], lang, "", "")[0]["text"]
    assert one({"match": "service", "language": "es"}) == service
    assert one({"match": "office", "language": "es"}) == office
    assert one({"match": "fallback", "languages": ["en", "fr"]}) == fallback


def test_own_language_reads_naturally():
    def own(lang):
        return explain.why([Verdict("language", 1.0, {"match": "service", "language": lang})], lang, "", "")[0]["text"]
    assert own("es") == "Atención en español"
    assert own("it") == "Assistenza in italiano"
    assert own("pl") == "Język opieki: polski"
    assert own("ro") == "Îngrijire în limba română"
    assert own("he") == "טיפול בעברית"
    assert own("ja") == "日本語で対応"


def test_rules_that_did_not_contribute_are_left_out():
    verdicts = [
        Verdict("pathology", None, {}),
        Verdict("service", 0.5, {"asked": "treatment", "offered": "second_opinion", "explicit": False}),
        Verdict("language", 0.0, {"match": "none"}),
        Verdict("age", 1.0, {"asked": "adult", "groups": ["adult"]}),
        Verdict("place", 0.0, {"asked": "lyon", "city": "Paris"}),
    ]
    assert explain.why(verdicts, "es", "", "Paris") == []


def test_missing_translation_falls_back_to_english(tmp_path: Path, monkeypatch):
    small = tmp_path / "why.tsv"
    small.write_text("# test\nplace\ten\tIn {city}\nplace\tfr\tÀ {city}\n", encoding="utf-8")
    monkeypatch.setattr(explain, "WHY_FILE", small)
    explain.messages.cache_clear()
    try:
        assert explain.message("place", "fr", city="Lyon") == "À Lyon"
        assert explain.message("place", "ko", city="Lyon") == "In Lyon"
        assert explain.message("place", None, city="Lyon") == "In Lyon"
    finally:
        monkeypatch.undo()
        explain.messages.cache_clear()
    assert len(explain.messages()["place"]) == len(LANGS)
