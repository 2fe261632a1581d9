"""Unicode text normalisation shared by the index, the lexicon and the query.

Two kinds of step, kept apart (as charabia does):
- *lossless* cleaning, safe for display: :func:`clean` (NFKC, no control or invisible format
  characters, single spaces);
- *lossy* folding, for matching only: :func:`fold` maps a token to its matching key, with rules
  gated by script: case and accents folded for Latin (through unidecode), Greek and Cyrillic;
  Arabic-script letter variants unified and the article ال removed; Hebrew points removed;
  katakana folded to hiragana; Devanagari nukta removed.

Tokens (:func:`tokenize`) are words for scripts written with spaces and single characters for
Han, kana and Hangul, so that "乳腺癌", "乳がん" and "유방암" are found inside longer text.
Every function here is pure and deterministic; the same text always gives the same keys.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from unidecode import unidecode

# Combining marks of the scripts we serve: Python's \w does not include them, but a word like
# "कैंसर" or "سَرَطان" is made of letters *and* marks.
_MARKS = ("\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
          "\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
          "\u3099\u309a")
WORD_PATTERN = rf"(?:[^\W_]|[{_MARKS}])+"  # a written word: letters, digits and combining marks
_WORD = re.compile(WORD_PATTERN)
_SPACES = re.compile(r"\s+")


# Control, format (bidi marks, zero-width, soft hyphen, tags), surrogate and private-use
# characters: invisible or unprintable, removed; tabs and line breaks become spaces.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u180e"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
                        "\ud800-\udfff\ue000-\uf8ff\U000110bd\U000e0000-\U000e007f\U000f0000-\U0010ffff]")


def clean(text: str) -> str:
    """NFKC, control and invisible format characters removed, white space collapsed.

    >>> clean("  cancer\u200b du\tsein\u202e ")
    'cancer du sein'
    """
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return _SPACES.sub(" ", text).strip()


# --- scripts -------------------------------------------------------------------------------

_SCRIPT_RANGES = (
    (0x0000, 0x024F, "latin"), (0x0250, 0x02AF, "latin"), (0x0370, 0x03FF, "greek"),
    (0x0400, 0x052F, "cyrillic"), (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"), (0x0900, 0x097F, "devanagari"), (0x0E00, 0x0E7F, "thai"),
    (0x1100, 0x11FF, "hangul"), (0x1E00, 0x1EFF, "latin"), (0x1F00, 0x1FFF, "greek"),
    (0x3040, 0x309F, "hiragana"), (0x30A0, 0x30FF, "katakana"), (0x3130, 0x318F, "hangul"),
    (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0xAC00, 0xD7AF, "hangul"),
    (0xF900, 0xFAFF, "han"), (0xFB1D, 0xFB4F, "hebrew"), (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"), (0xFF66, 0xFF9F, "katakana"), (0x20000, 0x2FA1F, "han"),
)
CJK_SCRIPTS = frozenset({"han", "hiragana", "katakana", "hangul"})
_CJK_CHAR = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
                       "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f]")


@lru_cache(maxsize=4096)
def char_script(ch: str) -> str:
    """The script of one letter: latin, greek, cyrillic, arabic, hebrew, devanagari, thai, han,
    hiragana, katakana, hangul, or 'other' (digits and symbols are 'common')."""
    if not ch.isalpha():
        return "common"
    cp = ord(ch)
    for lo, hi, name in _SCRIPT_RANGES:
        if lo <= cp <= hi:
            return name
    return "other"


def script_counts(text: str) -> dict[str, int]:
    """How many letters of each script the text holds."""
    counts: dict[str, int] = {}
    for ch in text:
        s = char_script(ch)
        if s != "common":
            counts[s] = counts.get(s, 0) + 1
    return counts


# --- tokens --------------------------------------------------------------------------------

class Token(NamedTuple):
    text: str          # as written (after clean)
    start: int         # offsets into the cleaned text
    end: int
    script: str
    word_start: bool   # first piece of a written word (CJK characters inside a word are not)


def _word_script(word: str) -> str:
    for ch in word:
        s = char_script(ch)
        if s != "common":
            return s
    return "common"


def has_cjk(text: str) -> bool:
    """Whether the text holds a Han, kana or Hangul character (``tokenize`` splits those)."""
    return _CJK_CHAR.search(text) is not None


def tokenize(text: str) -> list[Token]:
    """Split cleaned text into word tokens; Han, kana and Hangul become one token per character.

    >>> [t.text for t in tokenize("l'adénocarcinome C50")]
    ['l', 'adénocarcinome', 'C50']
    >>> [t.text for t in tokenize("乳腺癌术后")]
    ['乳', '腺', '癌', '术', '后']
    """
    out: list[Token] = []
    for m in _WORD.finditer(text):
        word, start = m.group(), m.start()
        if not _CJK_CHAR.search(word):
            out.append(Token(word, start, m.end(), _word_script(word), True))
            continue
        # split into CJK characters and the non-CJK runs between them
        run_start = None
        first = True
        for i, c in enumerate(word):
            s = char_script(c)
            if s in CJK_SCRIPTS or (c in "\u3099\u309a\u30fc" and i > 0):
                if run_start is not None:
                    piece = word[run_start:i]
                    out.append(Token(piece, start + run_start, start + i, _word_script(piece), first))
                    first, run_start = False, None
                if c in "\u3099\u309a" and out:  # combining sound marks stay with their kana
                    t = out[-1]
                    out[-1] = t._replace(text=t.text + c, end=t.end + 1)
                    continue
                out.append(Token(c, start + i, start + i + 1, s if s in CJK_SCRIPTS else "katakana", first))
                first = False
            elif run_start is None:
                run_start = i
        if run_start is not None:
            piece = word[run_start:]
            out.append(Token(piece, start + run_start, start + len(word), _word_script(piece), first))
    return out


# --- folding -------------------------------------------------------------------------------

_ARABIC_MAP = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ی": "ي", "ې": "ي", "ئ": "ي",
    "ؤ": "و", "ک": "ك", "ڪ": "ك", "ۀ": "ه", "ە": "ه", "ھ": "ه",
    "٠": "0", "١": "1", "٢": "2", "٣": "3", "٤": "4", "٥": "5", "٦": "6", "٧": "7", "٨": "8", "٩": "9",
    "۰": "0", "۱": "1", "۲": "2", "۳": "3", "۴": "4", "۵": "5", "۶": "6", "۷": "7", "۸": "8", "۹": "9",
})
_ARABIC_DROP = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # tashkeel, tatweel
# The article and the prepositions fused with it: "الثدي", "بالثدي", "للثدي", "والثدي" -> "ثدي"
_ARABIC_ARTICLE = re.compile(r"^(?:وال|بال|فال|كال|لل|ال)(?=..)")
_HEBREW_POINTS = re.compile("[\u0591-\u05c7]")
_GREEK_FINAL = str.maketrans({"ς": "σ"})


def _strip_marks(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


@lru_cache(maxsize=131072)
def fold(token: str, script: str | None = None) -> str:
    """The matching key of one token (lossy). ``script`` defaults to the token's own.

    >>> fold("Bauchspeicheldrüse"), fold("İSTANBUL"), fold("Καρκίνος"), fold("Ёлка")
    ('bauchspeicheldruse', 'istanbul', 'καρκινοσ', 'елка')
    >>> fold("الثدي"), fold("ガン")
    ('ثدي', 'がん')
    """
    script = script or _word_script(token)
    if script == "latin" or script == "common":
        return unidecode(token).lower()
    if script in ("greek", "cyrillic"):
        return _strip_marks(token.casefold()).translate(_GREEK_FINAL)
    if script == "arabic":
        s = _ARABIC_DROP.sub("", token).translate(_ARABIC_MAP)
        return _ARABIC_ARTICLE.sub("", s)
    if script == "hebrew":
        return _HEBREW_POINTS.sub("", token)
    if script == "katakana":
        return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in token)
    if script == "devanagari":
        return unicodedata.normalize("NFC", token).replace("\u093c", "").replace("\u0901", "\u0902")
    return token.casefold()


def fold_tokens(text: str) -> list[str]:
    """Clean, tokenize and fold: the matching keys of a text, in order."""
    return [fold(t.text, t.script) for t in tokenize(clean(text))]


def fold_text(text: str) -> str:
    """Matching keys joined by single spaces (handy for set look-ups and tests)."""
    return " ".join(fold_tokens(text))
