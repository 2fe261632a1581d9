"""What a patient asks for beside the pathology: a service, an age group, a place, urgency, and
the treatments or procedures named (modalities).

Cue words in the 22 languages live in ``corpus/terminology/cues.tsv`` (format in its header) and
are matched like the lexicon: over the query's ``textnorm`` tokens with a
:class:`~search.phrases.PhraseIndex` (leftmost-longest, folded case and accents, Hebrew/Arabic
prefixes, Hangul word starts), plus stems (``çocu*``) for words no phrase covers.

How the matches become an :class:`Intent`:

- ``service``: the most specific service asked for, in the order of :data:`SERVICE_PRIORITY`
  ("second opinion by video" is a second opinion; "online course" is training). Treatment is
  what every centre offers, so it is the default only in the sense that ``service`` stays None
  when nothing is asked; it is "treatment" only when a treatment cue ("chimiothérapie",
  "Behandlung", "治疗") is present and no other service is;
- ``age_group``: "pediatric" when a child is mentioned (child, son, daughter, baby, teenager,
  paediatric... and "mon fils", "у сына", "子ども"), else "adult" when adults are, else None.
  The engine also sets pediatric from concepts that occur almost only in children;
- ``place``: the first city of the corpus named (a slug: "paris", "villejuif"); France itself is
  not a place preference. City names that are also common words ("Nice", "Angers") count only
  when written with a capital;
- ``urgent``: an urgency cue is present;
- modalities (:data:`MODALITIES`: "质子治疗", "CAR-T", "greffe de moelle", "böbrek nakli"...) are
  matched on a layer of their own, so they never change the four fields above ("radiothérapie
  stéréotaxique" is a stereotactic-radiotherapy modality *and*, through "radiothérapie", a treatment
  cue). They are recorded in ``evidence``; :func:`expansion` gives their French and English cue
  phrases, the words of the offers, which the engine adds to the text query: offers are written in
  French and English, and "质子治疗" shares no word with "protonthérapie".

Every decision carries its :class:`Evidence` (the words, the cue's kind, value and languages,
the token span). The cue table is read once per process (lazily, in about 20 ms).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .errors import TerminologyError
from .locales import SUPPORTED
from .phrases import PhraseIndex
from .textnorm import Token, clean, fold, fold_tokens, tokenize

CUES_PATH = Path(__file__).resolve().parent.parent / "corpus" / "terminology" / "cues.tsv"

SERVICES = ("second_opinion", "teleconsultation", "training", "clinical_trials", "diagnostics", "treatment")
#: When several services are named, the first of this order wins.
SERVICE_PRIORITY = ("training", "clinical_trials", "second_opinion", "teleconsultation", "diagnostics", "treatment")
AGE_GROUPS = ("pediatric", "adult")
#: Treatments and procedures a patient may name; each has cues in every language.
MODALITIES = (
    "proton-therapy", "radiotherapy", "stereotactic-radiotherapy", "brachytherapy", "chemotherapy",
    "immunotherapy", "targeted-therapy", "hormone-therapy", "car-t", "bone-marrow-transplant",
    "robotic-surgery", "minimally-invasive-surgery", "hipec", "interventional-radiology",
    "radioembolisation", "nuclear-medicine", "genetic-testing", "fertility-preservation", "ivf",
    "liver-transplant", "kidney-transplant", "lung-transplant", "heart-transplant", "joint-replacement",
    "heart-valve-surgery", "coronary-bypass", "bariatric-surgery", "early-phase-trials",
    "breast-reconstruction", "deep-brain-stimulation",
)
KINDS = {"service": SERVICES, "age": AGE_GROUPS, "urgency": ("urgent",), "place": None, "ignore": ("-",),
         "filler": ("-",), "modality": MODALITIES}
#: Kinds matched on their own layer (leftmost-longest among themselves only).
OWN_LAYER = frozenset({"modality"})
#: Languages whose cue phrases :func:`expansion` returns by default: those of the offers' texts.
EXPANSION_LANGS = ("fr", "en")
#: Folded place cues that are also ordinary words: they count only when capitalised as written.
CAPITALISED_ONLY = frozenset({"nice", "angers"})
MIN_STEM = 3


class Cue(NamedTuple):
    kind: str
    value: str
    lang: str
    text: str


@dataclass(frozen=True)
class Evidence:
    """One cue found in the query: ``cue`` is the query's own words, ``start``/``end`` token
    indices (end exclusive); ``langs`` every language the cue is listed in (``lang`` the first)."""

    cue: str
    kind: str
    value: str
    langs: tuple[str, ...]
    start: int
    end: int

    @property
    def lang(self) -> str:
        return self.langs[0]

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    def as_dict(self) -> dict:
        return {"cue": self.cue, "kind": self.kind, "value": self.value, "lang": self.lang,
                "langs": list(self.langs), "span": [self.start, self.end]}


@dataclass(frozen=True)
class Intent:
    service: str | None = None
    age_group: str | None = None
    place: str | None = None
    urgent: bool = False
    evidence: tuple[Evidence, ...] = ()

    def as_dict(self) -> dict:
        """The search output's ``intent`` object."""
        return {"service": self.service, "age_group": self.age_group, "place": self.place,
                "urgent": self.urgent}

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities named, in query order, each once."""
        return tuple(dict.fromkeys(ev.value for ev in self.evidence if ev.kind == "modality"))

    def languages(self) -> dict[str, float]:
        """Languages of the service, age, urgency and modality cues found (a cue listed in n
        languages gives each 1/n): extra evidence for language identification. Place names are
        left out (a city name says little about the writer's language)."""
        out: dict[str, float] = {}
        for ev in self.evidence:
            if ev.kind in ("service", "age", "urgency", "modality"):
                for lang in ev.langs:
                    out[lang] = out.get(lang, 0.0) + 1.0 / len(ev.langs)
        return out


class _Layer:
    """Cues matched together: phrases in a PhraseIndex, stems in a dict by their first letters."""

    def __init__(self) -> None:
        self.index: PhraseIndex[tuple[str, str, str]] = PhraseIndex()
        self.stems: dict[str, list[tuple[str, str, str, str]]] = {}  # key[:3] -> (stem, kind, value, lang)

    def stem_hits(self, key: str) -> list[tuple[str, str, str]]:
        return [(kind, value, lang) for stem, kind, value, lang in self.stems.get(key[:MIN_STEM], ())
                if key.startswith(stem)]


class CueSet:
    """The compiled cue table: the service, age, place, urgency and ignore cues on one layer
    (``index``, ``stems``), each kind of :data:`OWN_LAYER` on a layer of its own, and the
    modalities' phrases by value and language (``phrases``, for :func:`expansion`)."""

    def __init__(self, cues: Sequence[Cue]) -> None:
        self.cues = tuple(cues)
        main = _Layer()
        own: dict[str, _Layer] = {}
        self.phrases: dict[str, dict[str, list[str]]] = {}
        words: set[str] = set()
        for cue in self.cues:
            layer = own.setdefault(cue.kind, _Layer()) if cue.kind in OWN_LAYER else main
            if cue.text.endswith("*"):
                keys = fold_tokens(cue.text[:-1])
                if len(keys) != 1 or len(keys[0]) < MIN_STEM:
                    raise ValueError(f"stem cue {cue.text!r} must be one word of {MIN_STEM}+ letters")
                stem = keys[0]
                words.add(stem)
                layer.stems.setdefault(stem[:MIN_STEM], []).append((stem, cue.kind, cue.value, cue.lang))
            else:
                keys = layer.index.add(cue.text, (cue.kind, cue.value, cue.lang))
                if not keys:
                    raise ValueError(f"cue {cue.text!r} has no words")
                words.update(keys)
                if cue.kind == "modality":
                    by_lang = self.phrases.setdefault(cue.value, {}).setdefault(cue.lang, [])
                    if cue.text not in by_lang:
                        by_lang.append(cue.text)
        self.index, self.stems = main.index, main.stems
        self.layers = (main, *(own[k] for k in sorted(own)))
        self.words = frozenset(words)

    def stem_hits(self, key: str) -> list[tuple[str, str, str]]:
        return self.layers[0].stem_hits(key)


def parse_cues(path: Path | str) -> list[Cue]:
    """Read and check a cue table; :class:`TerminologyError` names file:line of a bad row."""
    path = Path(path)
    out: list[Cue] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TerminologyError(f"{path}: cannot read the cue table: {exc}") from exc
    supported = set(SUPPORTED)
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise TerminologyError(f"{path}:{n}: expected kind<TAB>value<TAB>lang<TAB>cue, got {len(parts)} field(s)")
        kind, value, lang, text = (p.strip() for p in parts)
        if kind not in KINDS:
            raise TerminologyError(f"{path}:{n}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
        allowed = KINDS[kind]
        if allowed is not None and value not in allowed:
            raise TerminologyError(f"{path}:{n}: unknown {kind} value {value!r} (one of {', '.join(allowed)})")
        if kind == "place" and not value.replace("-", "").isalnum():
            raise TerminologyError(f"{path}:{n}: a place value is a city slug, not {value!r}")
        if lang not in supported:
            raise TerminologyError(f"{path}:{n}: unsupported language {lang!r}")
        if not text:
            raise TerminologyError(f"{path}:{n}: empty cue")
        out.append(Cue(kind, value, lang, text))
    return out


_lock = threading.Lock()
_default: CueSet | None = None


def load_cues(path: Path | str | None = None) -> CueSet:
    """The cue set of ``path``, or the bundled table (compiled once per process)."""
    global _default
    if path is not None:
        return _compile(path)
    if _default is None:
        with _lock:
            if _default is None:
                _default = _compile(CUES_PATH)
    return _default


def _compile(path: Path | str) -> CueSet:
    try:
        return CueSet(parse_cues(path))
    except ValueError as exc:
        raise TerminologyError(f"{path}: {exc}") from exc


def known_words() -> frozenset[str]:
    """Every folded word of the bundled cues (stems included as written): words the concept
    matcher must not "correct" into a pathology by typo tolerance."""
    return load_cues().words


def _langs(payloads: Sequence[tuple[str, str, str]], kind: str, value: str) -> tuple[str, ...]:
    found = {lang for k, v, lang in payloads if k == kind and v == value}
    return tuple(lang for lang in SUPPORTED if lang in found)


def detect_intent(tokens: Sequence[Token], keys: Sequence[str] | None = None,
                  cues: CueSet | None = None) -> Intent:
    """The intent of a query given as ``textnorm`` tokens (and their folded keys, if the caller
    already has them). A key ``"\0"`` masks its token from the service, age, place and urgency cues
    (the engine masks the words of a pathology's name: "أطفال الأنابيب" names no child); modalities
    are still looked for there, since a pathology's name may be the procedure itself ("kidney
    transplant" is also a concept).

    >>> from search.textnorm import clean, tokenize
    >>> detect_intent(tokenize(clean("tumeur au cerveau de mon fils deuxième avis à Lyon"))).as_dict()
    {'service': 'second_opinion', 'age_group': 'pediatric', 'place': 'lyon', 'urgent': False}
    """
    cues = cues or load_cues()
    keys = list(keys) if keys is not None else [fold(t.text, t.script) for t in tokens]
    found: list[tuple[int, int, str, str, tuple[str, ...]]] = []  # start, end, kind, value, langs
    own_keys = keys
    if "\0" in keys:
        own_keys = [fold(t.text, t.script) if k == "\0" else k for t, k in zip(tokens, keys)]
    for n, layer in enumerate(cues.layers):
        found.extend(_find(layer, tokens, keys if n == 0 else own_keys))
    found.sort(key=lambda f: (f[0], f[1], f[2], f[3]))
    evidence = tuple(
        Evidence(_words(tokens, s, e), kind, value, langs, s, e) for s, e, kind, value, langs in found)

    services = {ev.value for ev in evidence if ev.kind == "service"}
    service = next((s for s in SERVICE_PRIORITY if s in services), None)
    ages = {ev.value for ev in evidence if ev.kind == "age"}
    age = "pediatric" if "pediatric" in ages else ("adult" if "adult" in ages else None)
    place = next((ev.value for ev in evidence if ev.kind == "place"), None)
    urgent = any(ev.kind == "urgency" for ev in evidence)
    return Intent(service, age, place, urgent, evidence)


def _find(layer: _Layer, tokens: Sequence[Token],
          keys: Sequence[str]) -> list[tuple[int, int, str, str, tuple[str, ...]]]:
    """The cues of one layer in the query: phrases leftmost-longest, then stems on the other words."""
    found: list[tuple[int, int, str, str, tuple[str, ...]]] = []
    covered = [False] * len(keys)
    for hit in layer.index.find(tokens, keys):
        for i in range(hit.start, hit.end):
            covered[i] = True
        pairs = list(dict.fromkeys((k, v) for k, v, _ in hit.payload))
        for kind, value in pairs:
            if kind == "ignore":
                continue
            if (kind == "place" and hit.end - hit.start == 1 and keys[hit.start] in CAPITALISED_ONLY
                    and not tokens[hit.start].text[:1].isupper()):
                continue
            found.append((hit.start, hit.end, kind, value, _langs(hit.payload, kind, value)))
    if layer.stems:
        for i, key in enumerate(keys):
            if covered[i] or len(key) < MIN_STEM:
                continue
            stem_hits = layer.stem_hits(key)
            for kind, value in dict.fromkeys((k, v) for k, v, _ in stem_hits):
                found.append((i, i + 1, kind, value, _langs(stem_hits, kind, value)))
    return found


def expansion(intent: Intent, langs: Sequence[str] = EXPANSION_LANGS, cues: CueSet | None = None) -> list[str]:
    """For every modality of ``intent``, its cue phrases in ``langs`` (by default French and
    English, the languages every offer is written in): the words to add to the text query.
    Phrases are given once each, in the order of the modalities in the query.

    >>> words = expansion(detect_intent_text("质子治疗"))
    >>> "protonthérapie" in words and "proton therapy" in words
    True
    """
    out: dict[str, None] = {}
    for value in intent.modalities:
        out.update(dict.fromkeys(modality_phrases(value, langs, cues)))
    return list(out)


def modality_phrases(value: str, langs: Sequence[str] = EXPANSION_LANGS, cues: CueSet | None = None) -> list[str]:
    """The cue phrases of one modality in ``langs``, in table order (stems left out)."""
    by_lang = (cues or load_cues()).phrases.get(value, {})
    return [p for lang in langs for p in by_lang.get(lang, ())]


def detect_intent_text(text: str, cues: CueSet | None = None) -> Intent:
    """:func:`detect_intent` for raw text (cleaned and tokenized here)."""
    return detect_intent(tokenize(clean(text)), cues=cues)


def _words(tokens: Sequence[Token], start: int, end: int) -> str:
    if not tokens:
        return ""
    out = tokens[start].text
    for prev, tok in zip(tokens[start:end - 1], tokens[start + 1:end]):
        out += (" " if tok.start > prev.end else "") + tok.text
    return out
