"""The terminology: curated concepts and their lay lexicon in 22 languages, over the ICD-10 backbone.

Two views, as scispaCy's linker keeps them: concepts by id, and concepts by (analysed) alias.
Data files are described in ``corpus/terminology/README.md``; ``Terminology.load()`` reads them
once and raises :class:`TerminologyError` with ``file:line`` for a malformed line.
"""
from __future__ import annotations

import hashlib
import pickle
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from .errors import TerminologyError
from .fuzzy import FuzzyVocabulary
from .icd10 import Backbone, categories
from .phrases import PhraseIndex

LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl", "pl", "ro", "tr", "ru", "uk", "ar", "fa",
             "he", "zh", "ja", "ko", "vi", "hi", "el", "id")
ALIAS_KINDS = ("pref", "lay", "clinical", "eponym", "misspelling", "abbr", "site")
FLAGS = ("pediatric", "rare", "anysite")
HEAD_KINDS = ("malignant", "tumour")
_FUZZY_LOCK = threading.Lock()
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "corpus" / "terminology"


@dataclass(frozen=True)
class Concept:
    """A pathology as the engine knows it: an id, the ICD-10 codes it stands for, its labels."""

    id: str
    icd10: tuple[str, ...]
    flags: frozenset[str] = frozenset()
    labels: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    curated: bool = True

    @cached_property
    def categories(self) -> frozenset[str]:
        return frozenset().union(*(categories(c) for c in self.icd10))


@dataclass(frozen=True)
class Alias:
    concept: str
    lang: str
    kind: str
    text: str


@dataclass(frozen=True)
class Head:
    lang: str
    kind: str
    text: str


def _rows(path: Path, width: int):
    """Yield ``(line_no, columns)`` of a TSV file, skipping comments and blank lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise TerminologyError(f"{path}: not valid UTF-8 ({e.reason})") from e
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != width:
            raise TerminologyError(f"{path}:{no}: expected {width} tab-separated columns, got {len(cols)}")
        yield no, [c.strip() for c in cols]


class Terminology:
    """Concepts, aliases, organ sites and cancer head words, ready for matching."""

    def __init__(self, backbone: Backbone, root: Path = DEFAULT_ROOT) -> None:
        self.backbone = backbone
        self.root = root
        self.concepts: dict[str, Concept] = {}
        self.aliases: PhraseIndex[Alias] = PhraseIndex()
        self.sites: PhraseIndex[Alias] = PhraseIndex()
        self.heads: PhraseIndex[Head] = PhraseIndex()
        self.alias_count = 0
        self.digest = ""

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, root: Path | str | None = None, backbone: Backbone | None = None) -> "Terminology":
        root = Path(root) if root else DEFAULT_ROOT
        term = cls(backbone or Backbone.load(), root)
        for path in sorted((root / "concepts").glob("*.tsv")):
            term._load_concepts(path)
        labels: dict[str, dict[str, str]] = {}
        for path in sorted((root / "lexicon").glob("*.tsv")):
            if path.name == "heads.tsv":
                term._load_heads(path)
            else:
                term._load_lexicon(path, labels)
        for cid, concept in list(term.concepts.items()):
            term.concepts[cid] = Concept(concept.id, concept.icd10, concept.flags, labels.get(cid, {}), True)
        term.digest = terminology_digest(root)
        term._compile_meanings()
        return term

    @property
    def fuzzy(self) -> FuzzyVocabulary:
        """The typo-correction index over the vocabulary: built on first use (~0.3 s) and never
        pickled (it would triple the compiled terminology's size and load time)."""
        fuzzy = self.__dict__.get("_fuzzy")
        if fuzzy is None:
            with _FUZZY_LOCK:
                fuzzy = self.__dict__.get("_fuzzy")
                if fuzzy is None:
                    # organ words alone are not typo targets: they are short common nouns
                    # ("μήτρα", uterus, is one letter from "μητέρα", mother); a misspelt organ is
                    # still found inside an alias
                    targets = {k for index in (self.aliases, self.heads) for keys in index._phrases for k in keys}
                    fuzzy = FuzzyVocabulary(w for w in targets if len(w) >= 4 and w.isalpha())
                    self.__dict__["_fuzzy"] = fuzzy
        return fuzzy

    def _compile_meanings(self) -> None:
        """What each one-word alias names, to accept a typo tie between two inflections of one
        concept ("лимфома"/"лимфомы") or between head words ("cancer"/"cancro")."""
        meanings: dict[str, set[str]] = {}
        for index in (self.aliases, self.sites):
            for keys, entries in index._phrases.items():
                if len(keys) == 1:
                    meanings.setdefault(keys[0], set()).update(a.concept for a in entries)
        for keys, heads in self.heads._phrases.items():
            if len(keys) == 1:  # "cancer", "cancro", "cancri": one meaning for a typo tie
                meanings.setdefault(keys[0], set()).update(f"head:{h.kind}" for h in heads)
        self.word_concepts: dict[str, frozenset[str]] = {k: frozenset(v) for k, v in meanings.items()}

    def save(self, path: Path) -> None:
        """Write the compiled terminology (an index snapshot carries one, so engines open fast)."""
        with open(path, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load_compiled(cls, path: Path, root: Path | str | None = None) -> "Terminology | None":
        """The compiled terminology at ``path`` if it was compiled from the data files as they are
        now (same digest); None otherwise, and the caller compiles afresh."""
        try:
            with open(path, "rb") as f:
                term = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        if not isinstance(term, cls) or term.digest != terminology_digest(Path(root) if root else DEFAULT_ROOT):
            return None
        return term

    def _load_concepts(self, path: Path) -> None:
        for no, (cid, codes, flags, _label) in _rows(path, 4):
            where = f"{path}:{no}"
            if cid in self.concepts:
                raise TerminologyError(f"{where}: concept {cid!r} declared twice")
            icd = tuple(c for c in codes.split("|") if c)
            if not icd:
                raise TerminologyError(f"{where}: concept {cid!r} has no ICD-10 code")
            for code in icd:
                ends = code.split("-")
                if not all(self.backbone.exists(e) for e in ends):
                    raise TerminologyError(f"{where}: icd10: unknown ICD-10 code {code!r}")
            fl = frozenset(f for f in flags.split(",") if f and f != "-")
            if fl - set(FLAGS):
                raise TerminologyError(f"{where}: flags: unknown {sorted(fl - set(FLAGS))} (one of {', '.join(FLAGS)})")
            self.concepts[cid] = Concept(cid, icd, fl)

    def _load_lexicon(self, path: Path, labels: dict[str, dict[str, str]]) -> None:
        for no, (cid, lang, text, kind) in _rows(path, 4):
            where = f"{path}:{no}"
            if cid not in self.concepts:
                raise TerminologyError(f"{where}: unknown concept {cid!r} (declare it in concepts/*.tsv)")
            if lang not in LANGUAGES:
                raise TerminologyError(f"{where}: unknown language {lang!r}")
            if kind not in ALIAS_KINDS:
                raise TerminologyError(f"{where}: unknown alias kind {kind!r} (one of {', '.join(ALIAS_KINDS)})")
            alias = Alias(cid, lang, kind, text)
            if kind == "site":
                self.sites.add(text, alias)
                continue
            if kind == "pref":
                labels.setdefault(cid, {})[lang] = text
            if self.aliases.add(text, alias):
                self.alias_count += 1

    def _load_heads(self, path: Path) -> None:
        for no, (lang, text, kind) in _rows(path, 3):
            if lang not in LANGUAGES or kind not in HEAD_KINDS:
                raise TerminologyError(f"{path}:{no}: bad language {lang!r} or kind {kind!r}")
            self.heads.add(text, Head(lang, kind, text))

    # --- look-ups --------------------------------------------------------------------------

    def concept(self, cid: str) -> Concept | None:
        """A curated concept, or one made from the backbone for any existing ICD-10 code."""
        found = self.concepts.get(cid)
        if found is not None:
            return found
        if self.backbone.exists(cid):
            return Concept(cid, (cid,), frozenset(), self.backbone.labels(cid), curated=False)
        return None

    def label(self, concept: Concept, lang: str | None) -> str:
        """The concept's name in ``lang``: curated label, else official ICD-10 name, else English."""
        for lg in ([lang] if lang else []) + ["en"]:
            if lg in concept.labels:
                return concept.labels[lg]
            for code in concept.icd10:
                if "-" not in code:
                    official = self.backbone.label(code, lg)
                    if official:
                        return official
        return concept.id

    def vocabulary(self) -> set[str]:
        """Every folded token of every alias, site and head (what typo correction aims at)."""
        words: set[str] = set()
        for index in (self.aliases, self.sites, self.heads):
            for keys in index._phrases:
                words.update(keys)
        return words


def terminology_digest(root: Path = DEFAULT_ROOT) -> str:
    """A digest of the data files (backbone, concepts, lexicon) and of this code's version."""
    from . import __version__
    digest = hashlib.sha256(__version__.encode())
    files = [root / "icd10.tsv"] + sorted((root / "concepts").glob("*.tsv")) + sorted((root / "lexicon").glob("*.tsv"))
    for path in files:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=4)
def default_terminology(root: str | None = None) -> Terminology:
    """The terminology of the repo, loaded once per process."""
    return Terminology.load(root)
