"""ICD-10 (WHO) backbone: code syntax, code detection in free text, and the hierarchy.

Ids (see ``corpus/terminology/icd10.tsv``, written by ``import_icd10.py``):

* chapter: WHO roman numeral, ``I`` .. ``XXII``;
* block: first and last category, ``C50-C50``, ``C81-C96``;
* category: ``C50``; subcategory: ``C50.9``;
* range: any ``first-last`` of categories or subcategories (``C40-C41``, ``C50.1-C50.4``). A
  range is *known* to a :class:`Backbone` when both ends exist; blocks are known ranges.

The module-level functions :func:`normalize_code`, :func:`categories`, :func:`is_range`,
:func:`range_width` and :func:`covers` are pure syntax and need no data. :func:`find_codes`
and :class:`Backbone` use the backbone file, loaded once (stdlib only, ~0.1 s).
"""
from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

__all__ = [
    "Backbone", "DEFAULT_PATH", "KINDS", "categories", "covers", "find_codes", "is_range",
    "normalize_code", "range_width",
]

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "corpus" / "terminology" / "icd10.tsv"
KINDS = ("chapter", "block", "category", "subcategory")
CHAPTERS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
            "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII")
_CHAPTER_SET = frozenset(CHAPTERS)
_MAX_INPUT = 64  # normalize_code: longer strings are not codes

# --- one-to-one character folding (keeps offsets): full-width forms, Cyrillic and Greek
# capitals that look like Latin ones ("МКБ С50" is often typed with a Cyrillic С), other digits,
# dashes.
_FOLD: dict[int, str] = {c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_FOLD.update({ord(a): b for a, b in zip("АВСЕНІКМОРТХасеорхі", "ABCEHIKMOPTXaceopxi")})
_FOLD.update({ord(a): b for a, b in zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX")})
for _zero in (0x0660, 0x06F0, 0x0966):  # Arabic-Indic, Persian, Devanagari digits
    _FOLD.update({_zero + i: str(i) for i in range(10)})
_FOLD.update({c: "-" for c in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2212)})
_FOLD[0x066B] = "."  # Arabic decimal separator

_SINGLE = re.compile(r"([A-Za-z]) ?([0-9]{2})(?:\.([0-9])|([0-9])|\.-|\.[xX])?")
_RANGE = re.compile(r"(.+?) ?- ?(.+)")
_DIGIT = re.compile(r"[0-9\u0660-\u0669\u06F0-\u06F9\u0966-\u096F\uFF10-\uFF19]")

# Free text: a code or range, not glued to letters or digits. Groups: l1 n1 (s1 x1 | d1)
# then optionally - (l2 n2 s2 | n2b).
_TOKEN_BODY = r"""
    (?P<l1>[A-Za-z])(?P<n1>[0-9]{2})
    (?: \.(?P<s1>[0-9])(?P<x1>[0-9]*) | (?P<d1>[0-9]) )?
    (?: [ ]?-[ ]?
        (?: (?P<l2>[A-Za-z])(?P<n2>[0-9]{2})(?:\.(?P<s2>[0-9]))? | (?P<n2b>[0-9]{2}) )
        (?!\w|\.[0-9])
    )?
    (?!\w|\.[0-9])
"""
# Not glued to a word by a hyphen either ("HLA-B27" is an antigen, "2024-C50" a reference);
# _TOKEN_NEXT is for the second end of something that turned out not to be a range.
_TOKEN = re.compile(r"(?<!\w)(?<!\w-)" + _TOKEN_BODY, re.VERBOSE)
_TOKEN_NEXT = re.compile(r"(?<!\w)" + _TOKEN_BODY, re.VERBOSE)
# "ICD-10:", "CIM-10", "CIE 10", "CID-10", "ICD-O-3", "ICD-10-CM code", "МКБ-10", "МКХ", "ΔΚΝ"
_MARKER = re.compile(
    r"(?<!\w)(?:ICD|CIM|CIE|CID|МКБ|МКХ|ΔΚΝ)(?:[ -]?(?:10|11|O-?3|O))?(?:[ -]?(?:CM|GM|AM|WHO|OMS))?"
    r"\s*(?:codes?|kod|код)?\s*[:#=]?\s*$", re.IGNORECASE)
# between two codes of a list: "C50, C61", "C18 / C20", "C34 et C61"
_LIST_SEP = re.compile(
    r"\s*(?:[,;/&+]|\s(?:and|or|et|ou|y|o|und|oder|e|i|и|или|ve|veya|en|of|oraz|și|και|va|và|dan|או|و)\s)?\s*",
    re.IGNORECASE)
# Without an ICD marker: chapters XIX-XX letters need one (T12 is also a vertebra, X86 a
# processor; W/V/Y codes are external causes), and so do protein names (p53, P21).
_MARKER_ONLY_LETTERS = frozenset("VWXY")
_DOT_ONLY_LETTERS = frozenset("ST")  # unmarked only as a subcategory: S72.0 yes, T12 no
_LOWERCASE_LETTERS = frozenset("cd")  # unmarked lowercase only in chapter II: c50, d05.1
_NOT_CODES = frozenset({"P16", "P21", "P27", "P53", "P57", "P63"})


def _fold(text: str) -> str:
    return text.translate(_FOLD)


def _single(token: str) -> str | None:
    m = _SINGLE.fullmatch(token)
    if not m:
        return None
    code = m.group(1).upper() + m.group(2)
    sub = m.group(3) or m.group(4)
    return f"{code}.{sub}" if sub else code


def normalize_code(s: str) -> str | None:
    """Canonical form of an ICD-10 code, range or chapter id; None if ``s`` is not one.

    ``c50.9`` -> ``C50.9``; ``C509`` -> ``C50.9`` (WHO has no 4-digit categories, so this is
    unambiguous); ``C50.-`` / ``C50.x`` -> ``C50``; ``C50.9†`` -> ``C50.9``; ``C40–41`` ->
    ``C40-C41``; ``С50`` with a Cyrillic С -> ``C50``; ``II`` -> ``II``. A range must run
    forward; ``C50.1-4`` (ambiguous), ICD-10-CM codes such as ``C50.911`` and anything else
    give None. Syntax only: ``Z99.9`` is accepted whether or not it exists.
    """
    if not isinstance(s, str) or len(s) > _MAX_INPUT:
        return None
    return _normalize(s)


@lru_cache(maxsize=65536)  # a corpus writes the same few hundred codes thousands of times
def _normalize(s: str) -> str | None:
    t = _fold(s).strip().rstrip("†‡*+ ")
    if t in _CHAPTER_SET:
        return t
    code = _single(t)
    if code is not None:
        return code
    m = _RANGE.fullmatch(t)
    if not m:
        return None
    left, right = m.group(1), m.group(2)
    if left.endswith(("-", ".", "x", "X")) or right.endswith(("-", ".", "x", "X")):
        return None  # "C50.--C51", "C50.x-C51" are not ranges
    first = _single(left)
    if first is None:
        return None
    if re.fullmatch(r"[0-9]{2}", right):
        if "." in first:
            return None  # "C50.1-42"
        last: str | None = first[0] + right
    else:
        last = _single(right)
    if last is None or _sort_key(first) > _sort_key(last):
        return None
    return f"{first}-{last}"


def is_range(code_or_range: str) -> bool:
    """True for ``C40-C41`` (and block ids such as ``C50-C50``)."""
    n = normalize_code(code_or_range)
    return n is not None and "-" in n


def _sort_key(code: str) -> tuple[int, int]:
    """Slot of a category or subcategory: C50 -> (index, -1), C50.3 -> (index, 3)."""
    index = (ord(code[0]) - 65) * 100 + int(code[1:3])
    return index, int(code[4]) if len(code) == 5 else -1


def _interval(code_or_range: str) -> tuple[int, int]:
    """Subcategory slots covered, inclusive: C50 -> all of C50.0-C50.9, C50.3 -> just it."""
    n = normalize_code(code_or_range)
    if n is None or n in _CHAPTER_SET:
        raise ValueError(f"not an ICD-10 code or range: {code_or_range!r}")
    first, _, last = n.partition("-")
    last = last or first
    a, b = _sort_key(first), _sort_key(last)
    lo = a[0] * 10 + max(a[1], 0)
    hi = b[0] * 10 + (9 if b[1] < 0 else b[1])
    return lo, hi


def categories(code_or_range: str) -> set[str]:
    """3-character categories a code or range touches: ``C40-C41`` -> {C40, C41}, ``C50.9`` ->
    {C50}. Syntax only (``C40-C45`` includes C42, which WHO does not use; see
    :meth:`Backbone.categories`). Raises ValueError for chapters and non-codes."""
    lo, hi = _interval(code_or_range)
    return {f"{chr(65 + i // 100)}{i % 100:02d}" for i in range(lo // 10, hi // 10 + 1)}


def range_width(code_or_range: str) -> int:
    """Number of 3-character categories touched: ``C40-C41`` -> 2, ``C50`` or ``C50.9`` -> 1,
    ``C00-D48`` -> 149. Raises ValueError like :func:`categories`."""
    lo, hi = _interval(code_or_range)
    return hi // 10 - lo // 10 + 1


def covers(outer: str, inner: str) -> bool:
    """True when every code of ``inner`` lies in ``outer``: ``covers("C40-C41", "C41.2")``,
    ``covers("C50", "C50.9")``, ``covers("C50", "C50")``; not ``covers("C50.9", "C50")``.
    Codes and ranges only (syntax); raises ValueError otherwise."""
    olo, ohi = _interval(outer)
    ilo, ihi = _interval(inner)
    return olo <= ilo and ihi <= ohi


class Backbone:
    """The ICD-10 hierarchy and its labels, read from ``icd10.tsv``.

    Every method accepts any spelling :func:`normalize_code` accepts and answers None / False
    / empty for unknown input rather than raising.
    """

    def __init__(self, rows: dict[str, list[str]], languages: tuple[str, ...],
                 meta: dict[str, str], path: Path | None = None) -> None:
        # code -> [code, kind, parent, labels joined by tabs]; labels are split when asked for
        self._rows = rows
        self.languages: tuple[str, ...] = languages
        self.meta: dict[str, str] = meta
        self.path = path
        self._lang_index = {lang: i for i, lang in enumerate(languages)}
        self._children: dict[str, list[str]] = {}
        for code, row in rows.items():  # file order = classification order
            if row[2]:
                self._children.setdefault(row[2], []).append(code)
        # plain string order is the code order: C50 < C50.0 < C50.9 < C51 < D00
        self._codes = sorted(c for c, r in rows.items() if r[1] in ("category", "subcategory"))
        self._block_intervals = [(b, _interval(b)) for b, r in rows.items() if r[1] == "block"]

    # -- loading ---------------------------------------------------------------------------
    _default: Backbone | None = None
    _lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | str | None = None) -> Backbone:
        """Read a backbone file. Without ``path``: the repository's ``icd10.tsv``, read once
        per process and shared. An explicit path is read every time."""
        if path is not None:
            return cls._read(Path(path))
        if cls._default is None:
            with cls._lock:
                if cls._default is None:
                    cls._default = cls._read(DEFAULT_PATH)
        return cls._default

    @classmethod
    def _read(cls, path: Path) -> Backbone:
        meta: dict[str, str] = {}
        columns: list[str] | None = None
        rows: dict[str, list[str]] = {}
        text = path.read_bytes().decode("utf-8")  # ~8x faster than a text-mode read of 5 MB
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line:
                continue
            if line.startswith("#"):
                key, sep, value = line[1:].strip().partition(":")
                if sep and key.isidentifier():
                    if key == "columns":
                        columns = value.strip().split("\t")
                    else:
                        meta[key] = value.strip()
                continue
            if columns is None:
                raise ValueError(f"{path}:{lineno}: data before the '# columns:' line")
            row = line.split("\t", 3)
            if len(row) != 4 or row[3].count("\t") != len(columns) - 4:
                raise ValueError(f"{path}:{lineno}: expected {len(columns)} tab-separated fields")
            code, kind, parent = row[0], row[1], row[2]
            if kind not in KINDS:
                raise ValueError(f"{path}:{lineno}: unknown kind {kind!r}")
            if code in rows:
                raise ValueError(f"{path}:{lineno}: duplicate code {code}")
            if (parent == "") != (kind == "chapter") or (parent and parent not in rows):
                raise ValueError(f"{path}:{lineno}: bad parent {parent!r} for {code}")
            rows[code] = row
        if columns is None or columns[:3] != ["code", "kind", "parent"]:
            raise ValueError(f"{path}: missing or bad '# columns:' line")
        return cls(rows, tuple(columns[3:]), meta, path)

    # -- lookup ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.exists(code)

    def _known(self, code: str) -> str | None:
        """Normalized id if it is a row or a known range, else None."""
        n = normalize_code(code)
        if n is None:
            return None
        if n in self._rows:
            return n
        if "-" in n:
            first, last = n.split("-")
            if first in self._rows and last in self._rows:
                return n
        return None

    def exists(self, code: str) -> bool:
        """A chapter, block, category or subcategory of the backbone, or a range whose two
        ends exist (``C81-C85``)."""
        return self._known(code) is not None

    def kind(self, code: str) -> str | None:
        """``chapter``, ``block``, ``category``, ``subcategory``, ``range`` (a known range
        that is not a block) or None."""
        n = self._known(code)
        if n is None:
            return None
        row = self._rows.get(n)
        return row[1] if row else "range"

    def parent(self, code: str) -> str | None:
        """The enclosing level; for a range that is not a block, the smallest block or
        chapter holding it. None for chapters and unknown codes."""
        n = self._known(code)
        if n is None:
            return None
        row = self._rows.get(n)
        if row is not None:
            return row[2] or None
        return self._enclosing(n)

    def _enclosing(self, rng: str) -> str | None:
        lo, hi = _interval(rng)
        for block, (blo, bhi) in self._block_intervals:
            if blo <= lo and hi <= bhi:
                return block
        first, last = rng.split("-")
        chapters = {self.ancestors(first)[-1], self.ancestors(last)[-1]}
        return chapters.pop() if len(chapters) == 1 else None

    def ancestors(self, code: str) -> list[str]:
        """Nearest first, up to the chapter: C50.9 -> [C50, C50-C50, II]."""
        out: list[str] = []
        current = self.parent(code)
        while current is not None:
            out.append(current)
            current = self._rows[current][2] or None
        return out

    def children(self, code: str) -> list[str]:
        """The next level down, in classification order. For a known range that is not a
        block: the categories in it."""
        n = self._known(code)
        if n is None:
            return []
        if n in self._rows:
            return list(self._children.get(n, ()))
        return [c for c in self.codes_in(n) if len(c) == 3]

    def descendants(self, code: str) -> list[str]:
        """Everything below, depth first in classification order."""
        out: list[str] = []
        stack = list(reversed(self.children(code)))
        while stack:
            c = stack.pop()
            out.append(c)
            stack.extend(reversed(self._children.get(c, ())))
        return out

    def codes_in(self, code_or_range: str) -> list[str]:
        """Categories and subcategories of the backbone inside a range, block, chapter or
        category (including the category itself), sorted. ``C81-C85`` -> [C81, C81.0, ...,
        C85.9]; ``C50.1-C50.4`` -> [C50.1, ..., C50.4]. Any well-formed range works, known or
        not (``C40-C42`` -> the codes of C40 and C41); a category is listed when the range
        starts at it. Not a code -> []."""
        n = normalize_code(code_or_range)
        if n is None:
            return []
        row = self._rows.get(n)
        if row is not None and row[1] == "chapter":
            return sorted(c for c in self.descendants(n)
                          if self._rows[c][1] in ("category", "subcategory"))
        if row is None and "-" not in n and n not in self._rows:
            return []  # an unknown category or subcategory
        first, _, last = n.partition("-")
        last = last or first  # a category sorts before its subcategories; "~" after them
        start = bisect_left(self._codes, first)
        end = bisect_right(self._codes, f"{last}~" if len(last) == 3 else last)
        return self._codes[start:end]

    def categories(self, code_or_range: str) -> set[str]:
        """The backbone's 3-character categories inside a code, range, block or chapter."""
        return {c[:3] for c in self.codes_in(code_or_range)}

    def label(self, code: str, lang: str) -> str | None:
        """The name in ``lang`` (``fr``, ``pt_BR``, ``zh-CN``...), or None when the backbone
        has none: no fallback to English."""
        n = normalize_code(code)
        row = self._rows.get(n) if n else None
        if row is None or not isinstance(lang, str):
            return None
        i = self._lang_index.get(lang.replace("_", "-").split("-")[0].lower())
        return (row[3].split("\t")[i] or None) if i is not None else None

    def labels(self, code: str) -> dict[str, str]:
        """All names of a code, by language; empty for unknown codes."""
        n = normalize_code(code)
        row = self._rows.get(n) if n else None
        if row is None:
            return {}
        values = row[3].split("\t")
        return {lang: values[i] for lang, i in self._lang_index.items() if values[i]}


def find_codes(text: str, backbone: Backbone | None = None) -> list[tuple[str, int, int]]:
    """ICD-10 codes and ranges written in ``text``: ``(code, start, end)`` in text order,
    ``text[start:end]`` being what was written.

    Reported only when the backbone knows them (ranges: both ends). Conservative by design:

    * after an ICD marker (``ICD-10:``, ``CIM-10``, ``CIE-10``, ``CID-10``, ``МКБ``, ``МКХ``) or
      in a list that follows an accepted code, any existing code counts, including the
      dotless form ``C509`` (-> C50.9);
    * otherwise a code counts when written in capitals (``C50``, ``E10.9``), or in lowercase
      for chapter II only (``c50``, ``d05.1``); chapter XX letters (V-Y) always need a marker,
      S and T need one unless written with a subcategory (``T12`` is a vertebra), and so do
      protein names that collide with codes (P53, P21);
    * a subcategory the backbone lacks (``C83.2``, deleted by WHO) or an ICD-10-CM extension
      (``C50.911``) written in capitals or after a marker is reported as its category.

    Letters and digits are folded first (full-width, Cyrillic/Greek look-alike capitals,
    Arabic-Indic digits), so ``МКБ С61`` with a Cyrillic С is found. Never raises on text.
    """
    if not isinstance(text, str) or not _DIGIT.search(text):
        return []
    bb = backbone if backbone is not None else Backbone.load()
    folded = _fold(text)
    out: list[tuple[str, int, int]] = []
    prev_end = -1
    pos = 0
    pattern = _TOKEN
    while (m := pattern.search(folded, pos)) is not None:
        pattern = _TOKEN
        start = m.start()
        marked = bool(_MARKER.search(text, max(0, start - 40), start)) or (
            0 <= prev_end and start - prev_end <= 12  # short gaps only: bounded regex work
            and _LIST_SEP.fullmatch(folded, prev_end, start) is not None)
        hit = _accept_range(m, bb, marked)
        pos = m.end()
        if hit is None:
            hit = _accept_code(m, bb, marked)
            if m.group("l2") is not None:  # not a range after all: look at its second end too
                pos, pattern = m.start("l2"), _TOKEN_NEXT
        if hit is not None:
            out.append(hit)
            prev_end = hit[2]
    return out


def _letter_ok(letter: str, marked: bool, has_sub: bool) -> bool:
    if marked:
        return True
    if letter.islower():
        return letter in _LOWERCASE_LETTERS
    if letter in _MARKER_ONLY_LETTERS:
        return False
    return letter not in _DOT_ONLY_LETTERS or has_sub


def _accept_range(m: re.Match[str], bb: Backbone, marked: bool) -> tuple[str, int, int] | None:
    if m.group("l2") is None and m.group("n2b") is None:
        return None
    if m.group("x1") or m.group("d1"):
        return None
    l1 = m.group("l1")
    first = l1.upper() + m.group("n1") + (f".{m.group('s1')}" if m.group("s1") else "")
    if m.group("n2b") is not None:
        if m.group("s1"):
            return None
        last = first[0] + m.group("n2b")
        l2 = l1
    else:
        l2 = m.group("l2")
        last = l2.upper() + m.group("n2") + (f".{m.group('s2')}" if m.group("s2") else "")
        if l1.islower() != l2.islower():
            return None
    if not (_letter_ok(l1, marked, "." in first) and _letter_ok(l2, marked, "." in last)):
        return None
    if first in _NOT_CODES and not marked:
        return None
    if _sort_key(first) > _sort_key(last) or first not in bb._rows or last not in bb._rows:
        return None
    return f"{first}-{last}", m.start(), m.end()


def _accept_code(m: re.Match[str], bb: Backbone, marked: bool) -> tuple[str, int, int] | None:
    letter = m.group("l1")
    category = letter.upper() + m.group("n1")
    sub = m.group("s1") or m.group("d1")
    end = m.end("x1") if m.group("s1") else (m.end("d1") if m.group("d1") else m.end("n1"))
    if m.group("d1") and not marked:
        return None  # "A320" is an aircraft; "ICD-10 C509" is C50.9
    if not _letter_ok(letter, marked, sub is not None):
        return None
    if category in _NOT_CODES and not marked:
        return None
    if category not in bb._rows:
        return None
    code = f"{category}.{sub}" if sub else category
    extended = bool(m.group("x1"))
    if code in bb._rows and not extended:
        return code, m.start(), end
    if letter.isupper() or marked:  # deleted subcategory, typo, or ICD-10-CM extension
        return category, m.start(), end
    return None
