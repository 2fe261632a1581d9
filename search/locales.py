"""Locales at the edge, all through Babel (CLDR data): language tags, Accept-Language,
negotiation, language and country names, a country's languages.

- :func:`normalize_lang` turns whatever a caller gives ("pt-BR", "por", "Portuguese",
  "Deutsch", "zh-Hans-CN", "iw") into the base ISO 639 code ("pt", "de", "zh", "he"), or
  raises :class:`~search.errors.UsageError` naming the bad value.
- :func:`negotiate` matches a patient's languages against an office's: exact tag first, then
  the base language, in the patient's order of preference.
- :func:`language_name` / :func:`language_names` give names in the reader's language
  ("arabe et anglais" for a French reader, "الفرنسية" for an Arabic one).
- :func:`country_languages` and :func:`normalize_country` give a prior from a country the
  patient names ("Maroc", "Morocco", "المغرب" -> "MA" -> ar, fr, tzm).

Babel's data is read lazily and the derived tables are cached, so importing this module costs
nothing and each table is built once per process.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.languages import get_official_languages
from babel.lists import format_list

from .errors import UsageError
from .textnorm import fold_text

#: The languages carematch serves (ISO 639-1), in the order the project lists them.
SUPPORTED: tuple[str, ...] = ("fr", "en", "es", "de", "it", "pt", "nl", "pl", "ro", "tr", "ru",
                              "uk", "ar", "fa", "he", "zh", "ja", "ko", "vi", "hi", "el", "id")
_SUPPORTED_SET = frozenset(SUPPORTED)

#: The fallback language for names and texts when the reader's language has no data.
FALLBACK = "en"

_MAX_TAG = 64
_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
_NOT_LANGUAGES = frozenset({"und", "mul", "zxx", "mis", "root"})


def is_supported(code: str) -> bool:
    """Whether ``code`` (a base code, as :func:`normalize_lang` returns) is served."""
    return code in _SUPPORTED_SET


@lru_cache(maxsize=1024)
def _parse_tag(tag: str) -> str | None:
    """Base language of a BCP 47 / POSIX tag or ISO 639-2/3 code, or None."""
    if not _TAG.match(tag):
        return None
    parts = re.split(r"[-_]", tag)
    candidates = ["-".join(parts)] if len(parts) > 1 else []
    candidates.append(parts[0])  # "en-US-x-twain": the language subtag alone still says it
    for cand in candidates:
        if len(cand.split("-")[0]) > 3:  # language subtags are 2-3 letters (names go elsewhere)
            continue
        try:
            loc = Locale.parse(cand, sep="-")
        except (UnknownLocaleError, ValueError, TypeError):
            continue
        if parts[0].lower() in _NOT_LANGUAGES or loc.language in _NOT_LANGUAGES:
            return None
        return loc.language
    return None


@lru_cache(maxsize=1)
def _name_table() -> dict[str, str]:
    """Folded language name -> code, from the names of languages in English, in each supported
    language and each language's own name (autonym). Only codes with a two-letter ISO 639-1
    form are kept, so "Deutsch", "allemand", "German", "Немецкий" all give "de"."""
    table: dict[str, str] = {}
    for in_lang in (FALLBACK, *SUPPORTED):
        names = Locale.parse(in_lang).languages
        for code, name in names.items():
            if len(code) != 2 or not name:
                continue
            table.setdefault(fold_text(name), code)
    for code in SUPPORTED:  # autonyms win over any clash with another locale's name
        own = Locale.parse(code).languages.get(code)
        if own:
            table[fold_text(own)] = code
    return table


@lru_cache(maxsize=1024)
def _normalize(tag: str) -> str | None:
    code = _parse_tag(tag)
    if code is not None:
        return code
    key = fold_text(tag)
    return _name_table().get(key) if key else None


def normalize_lang(tag: str) -> str:
    """The base language code of a tag, an ISO 639-2/3 code or a language name.

    >>> [normalize_lang(t) for t in ("pt-BR", "por", "Portuguese", "Deutsch", "zh-Hans-CN", "iw")]
    ['pt', 'pt', 'pt', 'de', 'zh', 'he']

    Raises :class:`UsageError` (with the value) for anything that names no language. A real
    language outside :data:`SUPPORTED` (``"sv"``) is returned as is: use :func:`is_supported`.
    """
    if not isinstance(tag, str):
        raise UsageError(f"language must be a string, not {type(tag).__name__}")
    value = tag.strip()
    if not value or len(value) > _MAX_TAG:
        raise UsageError(f"unknown language {tag[:_MAX_TAG]!r}: give an ISO 639 code such as "
                         f"'fr', 'pt-BR' or a language name")
    code = _normalize(value)
    if code is None:
        raise UsageError(f"unknown language {value!r}: give an ISO 639 code such as 'fr', "
                         f"'pt-BR' or a language name")
    return code


def canonical_tag(tag: str) -> str | None:
    """A tag in canonical BCP 47 casing ("PT-br" -> "pt-BR", "zh_hans_cn" -> "zh-Hans-CN"), or
    None when it is not a well-formed language tag Babel knows."""
    tag = tag.strip()
    if not _TAG.match(tag) or _parse_tag(tag) is None:
        return None
    out = []
    for i, part in enumerate(re.split(r"[-_]", tag)):
        if i == 0:
            out.append(part.lower())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower() if not part.isdigit() else part)
    return "-".join(out)


_AL_ITEM = re.compile(r"^\s*([A-Za-z0-9*_-]{1,64})\s*(?:;\s*q\s*=\s*([0-9](?:\.[0-9]{0,3})?))?\s*$")
_MAX_HEADER = 4096
_MAX_ITEMS = 32


def parse_accept_language(header: str) -> list[str]:
    """The language tags of an HTTP ``Accept-Language`` header, best first (RFC 9110 weights,
    ties in header order), canonical casing, without duplicates, ``*``, ``q=0`` or malformed
    items (a browser header is never an error).

    >>> parse_accept_language("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5")
    ['fr-CH', 'fr', 'en', 'de']
    """
    if not header:
        return []
    items: list[tuple[float, int, str]] = []
    for pos, raw in enumerate(header[:_MAX_HEADER].split(",")[:_MAX_ITEMS]):
        m = _AL_ITEM.match(raw)
        if not m or m.group(1) == "*":
            continue
        q = float(m.group(2)) if m.group(2) is not None else 1.0
        if q <= 0 or q > 1:
            continue
        tag = canonical_tag(m.group(1))
        if tag is not None:
            items.append((-q, pos, tag))
    seen: set[str] = set()
    out = []
    for _, _, tag in sorted(items):
        if tag.lower() not in seen:
            seen.add(tag.lower())
            out.append(tag)
    return out


def _base(tag: str) -> str | None:
    try:
        return _normalize(tag.strip()) if tag and tag.strip() else None
    except Exception:  # noqa: BLE001 - a bad offered tag simply never matches
        return None


def negotiate(wanted: Sequence[str], offered: Sequence[str]) -> str | None:
    """The first offered language that serves the patient, or None.

    For each wanted tag in the patient's order: an offered tag equal to it (case and ``-``/``_``
    ignored), else an offered tag of the same base language. Returns the offered item as given.

    >>> negotiate(["pt-BR", "en"], ["en", "pt"])
    'pt'
    >>> negotiate(["de"], ["fr", "en"]) is None
    True
    """
    def key(t: str) -> str:
        return t.strip().replace("_", "-").lower()

    offered = [o for o in offered if isinstance(o, str) and o.strip()]
    offered_keys = [key(o) for o in offered]
    offered_bases = [_base(o) for o in offered]
    for w in wanted:
        if not isinstance(w, str) or not w.strip():
            continue
        wk = key(w)
        for o, ok in zip(offered, offered_keys):
            if ok == wk:
                return o
        wb = _base(w)
        if wb is None:
            continue
        for o, ob in zip(offered, offered_bases):
            if ob == wb:
                return o
    return None


@lru_cache(maxsize=64)
def _locale(in_lang: str) -> Locale:
    try:
        return Locale.parse(_base(in_lang) or FALLBACK)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK)


@lru_cache(maxsize=4096)
def language_name(code: str, in_lang: str = FALLBACK) -> str:
    """The name of language ``code`` written in ``in_lang`` (English, then the code itself,
    when Babel has no name).

    >>> language_name("ar", "fr"), language_name("fr", "ar"), language_name("de", "de")
    ('arabe', 'الفرنسية', 'Deutsch')
    """
    base = _base(code) or code
    for loc in (_locale(in_lang), _locale(FALLBACK)):
        name = loc.languages.get(base)
        if name:
            return name
    return code


def language_names(codes: Iterable[str], in_lang: str = FALLBACK) -> str:
    """Names of several languages as a list in ``in_lang``'s own list format.

    >>> language_names(["ar", "en"], "fr")
    'arabe et anglais'
    """
    names = list(dict.fromkeys(language_name(c, in_lang) for c in codes))
    if not names:
        return ""
    return format_list(names, style="standard", locale=_locale(in_lang))


@lru_cache(maxsize=512)
def country_languages(country: str) -> tuple[str, ...]:
    """The official (de jure and de facto) languages of a country, most spoken first, as base
    codes: a prior for a patient who names their country. Accepts what :func:`normalize_country`
    does; an unknown country gives ``()``.

    >>> country_languages("MA")
    ('ar', 'fr', 'tzm')
    """
    code = normalize_country(country) if country else None
    if code is None:
        return ()
    out: list[str] = []
    for tag in get_official_languages(code, regional=False, de_facto=True):
        base = _parse_tag(tag) or tag.split("_")[0]
        if base not in out:
            out.append(base)
    return tuple(out)


@lru_cache(maxsize=1)
def _territory_table() -> tuple[dict[str, str], frozenset[str]]:
    """Folded country name -> ISO 3166-1 alpha-2, from Babel's territory names in English and
    the 22 supported locales (regions such as "001" World are left out)."""
    table: dict[str, str] = {}
    codes: set[str] = set()
    for in_lang in (FALLBACK, *SUPPORTED):
        for code, name in Locale.parse(in_lang).territories.items():
            if len(code) != 2 or not code.isalpha() or code in ("ZZ", "EU", "EZ", "UN", "QO"):
                continue
            codes.add(code)
            key = fold_text(name)
            if key:
                table.setdefault(key, code)
    return table, frozenset(codes)


@lru_cache(maxsize=2048)
def normalize_country(s: str) -> str | None:
    """ISO 3166-1 alpha-2 code of a country given as a code or a name in any of the 22
    languages, or None.

    >>> [normalize_country(s) for s in ("MA", "ma", "Maroc", "Morocco", "المغرب", "Atlantis")]
    ['MA', 'MA', 'MA', 'MA', 'MA', None]
    """
    if not isinstance(s, str):
        return None
    s = s.strip()
    if not s or len(s) > 100:
        return None
    table, codes = _territory_table()
    if len(s) == 2 and s.isascii() and s.upper() in codes:
        return s.upper()
    return table.get(fold_text(s))
