"""Which language a patient writes in: deterministic, with a confidence and what decided it.

:func:`identify` (short queries, two to eight words) decides in this order and stops at the
first stage that is sure:

1. ``declared``: a language the caller gives (``lang=``, the page's locale, ``Accept-Language``)
   wins, normalised by :func:`search.locales.normalize_lang` (a malformed tag is a
   :class:`~search.errors.UsageError`);
2. ``script``: Unicode script rules. Hangul -> ko; kana -> ja; Han alone -> zh, or ja when a
   Japanese-only (shinjitai) kanji such as 髄 発 緑 臓 is present; Hebrew -> he; Greek -> el;
   Devanagari -> hi; Thai -> th (not one of the 22: texts fall back); Arabic script -> fa when only Persian letters (پ چ ژ گ ک ی) are
   present, ar when only Arabic ones (ة ى ي ك); Cyrillic -> uk with only Ukrainian letters
   (і ї є ґ), ru with only Russian ones (ы э ъ ё); Latin with Vietnamese-only letters (ơ ư đ and
   the stacked tone marks) -> vi. Letters of the other scripts in the text (a name, "HER2") do
   not count against the main script;
3. ``lexicon``: the languages of the lexicon aliases the query matched (``{lang: weight}`` from
   the concept matcher, and from the intent cues: :meth:`search.intent.Intent.languages`), as a
   strong prior over the candidates that the script leaves open: the prior of a language is
   its weight over the best one's, plus :data:`LEXICON_FLOOR` (so a language with no alias
   keeps a small chance);
4. ``detector``: py3langid's naive Bayes model restricted to the supported languages (of the
   text's script), multiplied by letter priors for Latin script (ł ą ę ś ź ż ń are Polish, ğ ı
   Turkish, ș ț Romanian, ß German, ñ Spanish, ã õ Portuguese, ...);
5. ``none``: abstain (code None) when the text is only codes and abbreviations ("C50", "HCC",
   "ALL"), has no letters, is in an unsupported script, or the best guess is too weak.

Why py3langid for queries: on the 313 labelled development queries, both restricted to the 22
languages (``bench/langid_bench.py`` prints the table), py3langid is right on 87.5% (65% of the
one-to-two-word Latin-script queries) at about 0.06 ms a call, langdetect on 80% (54%) at 1-3
ms. langdetect (the project's named package) serves longer texts, where it is good:
:func:`identify_long` for triage messages and corpus descriptions without a language tag,
restricted to the 22 languages' profiles and seeded so that a text always gets the same answer
(unseeded, 4 to 11 of the 323 queries changed answer between two passes in our runs).

Both models load lazily, once per process (:func:`warm_up` loads them ahead of the first query);
after loading, every function here is thread-safe and pure.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .locales import SUPPORTED, normalize_lang
from .textnorm import char_script, clean

SOURCES = ("declared", "script", "lexicon", "detector", "none")

#: Below this (normalised over the candidates) a detector guess is not given.
MIN_CONFIDENCE = 0.2
#: Weight of "no lexicon evidence" next to the strongest lexicon language (which counts 1).
LEXICON_FLOOR = 0.05

LATIN_LANGS = ("fr", "en", "es", "de", "it", "pt", "nl", "pl", "ro", "tr", "vi", "id")

# Han characters written only in Japanese (shinjitai and kokuji): both simplified and
# traditional Chinese write these words differently (発: 发/發, 髄: 髓, 緑: 绿/綠, 臓: 脏/臟...).
JAPANESE_ONLY_HAN = frozenset(
    "発髄緑悪臓検薬経児歳転関剤気対図脳続総読帰険験様広済圧囲拡変弾鉄売徴頚膵働込")

_PERSIAN_LETTERS = frozenset("پچژگکی")
_ARABIC_LETTERS = frozenset("ةىيك")
_UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")
_RUSSIAN_LETTERS = frozenset("ыэъёЫЭЪЁ")
# ơ ư đ and Latin Extended Additional (ạ ả ấ ầ ... ỹ), which only Vietnamese uses among the 22
_VIETNAMESE_LETTERS = frozenset("ơưđƠƯĐ") | frozenset(chr(c) for c in range(0x1EA0, 0x1EFA))

# Latin letters and the languages (of the 22) whose spelling uses them, with how strongly the
# letter rules out the others (the factor a language not using it gets). Strong letters are
# unique or nearly so; weak ones are shared by several languages and appear in loan names.
_STRONG, _WEAK = 0.02, 0.25
_LETTER_LANGS: dict[str, tuple[frozenset[str], float]] = {}


def _letters(chars: str, langs: str, factor: float) -> None:
    entry = (frozenset(langs.split()), factor)
    for c in chars:
        _LETTER_LANGS[c] = entry
        upper = c.upper()
        if len(upper) == 1 and not upper.isascii():  # "ı".upper() is a plain I: not Turkish
            _LETTER_LANGS[upper] = entry


_letters("ąęłńśźż", "pl", _STRONG)
_letters("ğıİ", "tr", _STRONG)
_letters("șțţ", "ro", _STRONG)
_letters("ş", "tr ro", _STRONG)
_letters("ß", "de", _STRONG)
_letters("ñ¿¡", "es", _STRONG)
_letters("ãõ", "pt vi", _STRONG)
_letters("ä", "de", _WEAK)
_letters("ă", "ro vi", _STRONG)
_letters("â", "ro fr pt tr vi", _WEAK)
_letters("î", "ro fr", _WEAK)
_letters("ö", "de tr", _WEAK)
_letters("ü", "de tr es fr", _WEAK)
_letters("ç", "fr pt tr", _WEAK)
_letters("œ", "fr", _STRONG)
_letters("èù", "fr it vi", _WEAK)
_letters("ìò", "it vi", _WEAK)
_letters("à", "fr it pt vi", _WEAK)
_letters("êô", "fr pt vi", _WEAK)
_letters("ûÿ", "fr tr", _WEAK)
_letters("ëï", "fr nl", _WEAK)
_letters("áíú", "es pt vi", _WEAK)
_letters("ó", "es pt pl vi", _WEAK)


@dataclass(frozen=True)
class LanguageGuess:
    """``code`` is an ISO 639-1 code or None (abstained); ``source`` is one of :data:`SOURCES`."""

    code: str | None
    confidence: float
    source: str

    def as_dict(self) -> dict:
        return {"code": self.code, "confidence": round(self.confidence, 3), "source": self.source}


NONE = LanguageGuess(None, 0.0, "none")

# --- models (lazy, loaded once) -------------------------------------------------------------

_lock = threading.Lock()
_py3langid = None
_langdetect = None


def _short_model():
    """py3langid's identifier restricted to the supported languages (normalised probabilities).
    The full 97-language matrix is dropped once restricted (about 25 MB)."""
    global _py3langid
    if _py3langid is None:
        with _lock:
            if _py3langid is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                ident.set_languages(SUPPORTED)
                # set_languages keeps the full 97-language matrix (28 MB) in _full_model: replace it
                # by the restricted one, so that it is freed (and never pickled into a snapshot)
                ident._full_model = (ident.nb_ptc, ident.nb_pc, ident.nb_classes)
                _py3langid = ident
    return _py3langid


def _model_version() -> str:
    from importlib.metadata import version
    return f"py3langid {version('py3langid')} {','.join(SUPPORTED)}"


def save_short_model(path: Path) -> None:
    """Write the restricted query model uncompressed (an index snapshot carries one): loading it
    takes ~0.1 s where py3langid's LZMA-compressed model takes ~1 s."""
    import pickle
    with open(path, "wb") as f:
        pickle.dump((_model_version(), _short_model()), f, protocol=pickle.HIGHEST_PROTOCOL)


def load_short_model(path: Path) -> bool:
    """Use the model saved at ``path`` if it matches this py3langid and language set."""
    import pickle
    global _py3langid
    try:
        with open(path, "rb") as f:
            saved_version, ident = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError):
        return False
    if saved_version != _model_version():
        return False
    with _lock:
        if _py3langid is None:
            _py3langid = ident
    return True


class _LangDetect:
    """langdetect over the profiles of the supported languages only (zh-cn and zh-tw both map to
    zh), with a fixed seed: the same text always gets the same answer."""

    SEED = 0

    def __init__(self) -> None:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
        from langdetect.utils.lang_profile import LangProfile

        names = [("zh-cn" if c == "zh" else c) for c in SUPPORTED] + ["zh-tw"]
        factory = DetectorFactory()
        for i, name in enumerate(names):
            with open(Path(PROFILES_DIRECTORY) / name, encoding="utf-8") as f:
                factory.add_profile(LangProfile(**json.load(f)), i, len(names))
        factory.set_seed(self.SEED)
        self.factory = factory

    def probabilities(self, text: str) -> dict[str, float]:
        from langdetect.lang_detect_exception import LangDetectException

        detector = self.factory.create()
        detector.append(text)
        try:
            found = detector.get_probabilities()
        except LangDetectException:  # no features in the text
            return {}
        out: dict[str, float] = {}
        for lang in found:
            code = "zh" if lang.lang.startswith("zh") else lang.lang
            out[code] = out.get(code, 0.0) + lang.prob
        return out


def _long_model() -> _LangDetect:
    global _langdetect
    if _langdetect is None:
        with _lock:
            if _langdetect is None:
                _langdetect = _LangDetect()
    return _langdetect


def warm_up(long_texts: bool = False, background: bool = False) -> threading.Thread | None:
    """Load the query model now (about 0.8 s, mostly LZMA decompression of py3langid's model)
    rather than on the first query; with ``long_texts`` also langdetect's profiles (for triage).
    With ``background`` the loading runs in a daemon thread (returned) so that opening the engine
    does not wait for it; a query that comes first waits for the same load, never loads twice."""
    def load() -> None:
        _short_model()
        if long_texts:
            _long_model()
    if background:
        thread = threading.Thread(target=load, name="langid-warm-up", daemon=True)
        thread.start()
        return thread
    load()
    return None


# --- stages ---------------------------------------------------------------------------------

def _profile(text: str) -> tuple[dict[str, int], bool]:
    """Letter counts per script, and whether the text is only codes and abbreviations."""
    counts: dict[str, int] = {}
    for ch in text:
        s = char_script(ch)
        if s != "common":
            counts[s] = counts.get(s, 0) + 1
    only_codes = True
    for word in text.split():
        letters = [c for c in word if c.isalpha()]
        if not letters:
            continue
        if any(c.isdigit() for c in word) or (len(letters) <= 5 and all(c.isupper() for c in letters)):
            continue
        only_codes = False
        break
    return counts, only_codes


def _script_stage(text: str, counts: dict[str, int]) -> tuple[LanguageGuess | None, tuple[str, ...]]:
    """A sure answer from the script, or the candidate languages the script leaves open."""
    non_latin = {s: n for s, n in counts.items() if s != "latin"}
    if not non_latin:
        if any(c in _VIETNAMESE_LETTERS for c in text):
            return LanguageGuess("vi", 0.97, "script"), ()
        return None, LATIN_LANGS
    if "hangul" in non_latin and non_latin["hangul"] >= non_latin.get("hiragana", 0) + non_latin.get("katakana", 0):
        return LanguageGuess("ko", 0.99, "script"), ()
    if "hiragana" in non_latin or "katakana" in non_latin:
        return LanguageGuess("ja", 0.99, "script"), ()
    main = max(non_latin, key=lambda s: (non_latin[s], s))
    if main == "han":
        if any(c in JAPANESE_ONLY_HAN for c in text):
            return LanguageGuess("ja", 0.9, "script"), ()
        return LanguageGuess("zh", 0.95, "script"), ()
    if main == "arabic":
        fa = any(c in _PERSIAN_LETTERS for c in text)
        ar = any(c in _ARABIC_LETTERS for c in text)
        if fa != ar:
            return LanguageGuess("fa" if fa else "ar", 0.95, "script"), ()
        return None, ("ar", "fa")
    if main == "cyrillic":
        uk = any(c in _UKRAINIAN_LETTERS for c in text)
        ru = any(c in _RUSSIAN_LETTERS for c in text)
        if uk != ru:
            return LanguageGuess("uk" if uk else "ru", 0.95, "script"), ()
        return None, ("ru", "uk")
    single = {"hebrew": "he", "greek": "el", "devanagari": "hi", "thai": "th"}.get(main)
    if single:
        return LanguageGuess(single, 0.99, "script"), ()
    return NONE, ()  # a script none of the supported languages is written in


def _letter_priors(text: str, candidates: tuple[str, ...]) -> dict[str, float]:
    prior = dict.fromkeys(candidates, 1.0)
    seen: set[str] = set()
    for ch in text:
        if ch in seen:
            continue
        seen.add(ch)
        rule = _LETTER_LANGS.get(ch)
        if rule is None:
            continue
        langs, factor = rule
        for lang in prior:
            if lang not in langs:
                prior[lang] *= factor
    return prior


def detector_scores(text: str, candidates: tuple[str, ...] = SUPPORTED) -> dict[str, float]:
    """py3langid's probabilities over ``candidates`` (renormalised), for the bench and tests."""
    ident = _short_model()
    probs = dict(zip(ident.nb_classes, ident._decide(text).tolist()))
    scores = {c: probs.get(c, 0.0) for c in candidates}
    total = sum(scores.values())
    if total <= 0:
        return dict.fromkeys(candidates, 1.0 / len(candidates))
    return {c: v / total for c, v in scores.items()}


def _combine(text: str, candidates: tuple[str, ...], lexicon: Mapping[str, float] | None) -> LanguageGuess:
    det = detector_scores(text, candidates)
    prior = _letter_priors(text, candidates) if candidates == LATIN_LANGS else dict.fromkeys(candidates, 1.0)
    lex: dict[str, float] = {}
    if lexicon:
        useful = {k: float(v) for k, v in lexicon.items() if k in det and v and v > 0}
        top = max(useful.values(), default=0.0)
        if top > 0:
            lex = {k: v / top for k, v in useful.items()}
    scores = {c: det[c] * prior[c] * ((LEXICON_FLOOR + lex.get(c, 0.0)) if lex else 1.0) for c in candidates}
    total = sum(scores.values())
    if total <= 0:
        return NONE
    best = max(candidates, key=lambda c: (scores[c], -candidates.index(c)))
    confidence = scores[best] / total
    if lex.get(best, 0.0) > 0:
        return LanguageGuess(best, confidence, "lexicon")
    if confidence < MIN_CONFIDENCE:
        return LanguageGuess(None, confidence, "none")
    return LanguageGuess(best, confidence, "detector")


def identify(text: str, declared: str | None = None,
             lexicon: Mapping[str, float] | None = None) -> LanguageGuess:
    """The language of a short query (see the module's docstring for the order of the rules).

    ``declared`` is a language tag or name the caller gives (it wins); ``lexicon`` maps the
    languages of the lexicon aliases and cues the query matched to their weight.

    >>> identify("Brustkrebs", declared="de-AT")
    LanguageGuess(code='de', confidence=1.0, source='declared')
    >>> identify("유방암 수술 프랑스").code, identify("سرطان پستان").code, identify("急性骨髄性白血病").code
    ('ko', 'fa', 'ja')
    >>> identify("HCC").code is None
    True
    """
    if declared is not None and str(declared).strip():
        return LanguageGuess(normalize_lang(declared), 1.0, "declared")
    text = clean(text or "")
    if not text:
        return NONE
    counts, only_codes = _profile(text)
    if not counts or only_codes:
        return NONE
    guess, candidates = _script_stage(text, counts)
    if guess is not None:
        return guess
    return _combine(text, candidates, lexicon)


#: Texts shorter than this (letters) go to :func:`identify` even when asked for a long text.
LONG_TEXT_MIN_LETTERS = 40


def identify_long(text: str, declared: str | None = None) -> LanguageGuess:
    """The language of a longer text (a triage e-mail, an untagged corpus description):
    script rules first, then langdetect restricted to the supported languages' profiles, seeded.
    Short texts are handed to :func:`identify`."""
    if declared is not None and str(declared).strip():
        return LanguageGuess(normalize_lang(declared), 1.0, "declared")
    text = clean(text or "")
    counts, only_codes = _profile(text)
    if not counts or only_codes:
        return NONE
    if sum(counts.values()) < LONG_TEXT_MIN_LETTERS:
        return identify(text)
    non_latin = {s: n for s, n in counts.items() if s != "latin"}
    if non_latin:
        main = max(non_latin, key=lambda s: (non_latin[s], s))
        if main not in ("arabic", "cyrillic") and non_latin[main] >= counts.get("latin", 0):
            guess, _ = _script_stage(text, non_latin)
            if guess is not None:
                return guess
    probs = _long_model().probabilities(text)
    if not probs:
        return NONE
    best = max(sorted(probs), key=lambda c: probs[c])
    if probs[best] < 0.5:
        return LanguageGuess(None, probs[best], "none")
    return LanguageGuess(best, probs[best], "detector")
