"""Why a result was chosen, in the patient's language: ranking verdicts to localised sentences.

Sentences live in ``search/data/why.tsv`` (key, language, text); English is the fallback for a
missing one. Language names and lists come from Babel, in the reader's language.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.lists import format_list

from .ranking import Verdict

WHY_FILE = Path(__file__).with_name("data") / "why.tsv"


@lru_cache(maxsize=1)
def messages() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for line in WHY_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, lang, text = line.split("\t")
            out.setdefault(key, {})[lang] = text
    return out


def sentence_lang(key: str, lang: str | None) -> str:
    """The language the sentence for ``key`` will be written in (base language, else English)."""
    base = (lang or "en").replace("_", "-").split("-")[0].lower()
    return base if base in messages().get(key, {}) else "en"


def message(key: str, lang: str | None, **values: str) -> str:
    table = messages().get(key, {})
    return table.get(sentence_lang(key, lang), key).format(**values)


@lru_cache(maxsize=4096)
def language_name(code: str, in_lang: str | None) -> str:
    try:
        return Locale.parse(in_lang or "en").languages.get(code) or code
    except Exception:  # an unknown reader locale: English names
        return Locale("en").languages.get(code) or code


@lru_cache(maxsize=4096)
def names_list(codes: tuple[str, ...], in_lang: str | None) -> str:
    names = [language_name(c, in_lang) for c in codes]
    try:
        return format_list(names, locale=in_lang or "en")
    except Exception:
        return ", ".join(names)


def why(verdicts: list[Verdict], lang: str | None, label: str, city: str) -> list[dict]:
    """One entry per rule that contributed (score > 0), in rule order."""
    out = []
    said_text = False
    for v in verdicts:
        if not v.score:
            continue
        ev = v.evidence
        if v.rule == "pathology":
            key = f"pathology.{ev['match']}"
            said_text = ev["match"] == "text"
            text = message(key, lang, label=label, codes=", ".join(ev.get("codes", [])[:3]))
        elif v.rule == "service":
            if v.score < 1.0:
                continue
            text = message(f"service.{ev['offered']}", lang)
        elif v.rule == "language":
            key = f"language.{ev['match']}"
            names_in = sentence_lang(key, lang)  # names in the language of the sentence shown
            if ev["match"] == "fallback":
                text = message(key, lang, languages=names_list(tuple(ev["languages"]), names_in))
            else:
                text = message(key, lang, language=language_name(ev["language"], names_in))
        elif v.rule == "age":
            if ev.get("asked") != "pediatric":
                continue
            text = message("age.pediatric", lang)
        elif v.rule == "expertise":
            text = message("expertise", lang, networks=", ".join(ev["networks"]))
        elif v.rule == "place":
            text = message("place", lang, city=city)
        else:
            if said_text:
                continue  # the pathology reason already said the description matched
            text = message("text", lang)
        out.append({"rule": v.rule, "score": v.score, "text": text})
    return out
