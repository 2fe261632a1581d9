"""Concept matcher: find the pathologies (ICD-10 concepts) a patient's words name, with evidence.

Over the query's folded tokens (``textnorm``), in this order:
1. ICD-10 codes written as such (``C50``, ``CIM-10 C92.0``): match ``code``;
2. typo correction of unknown Latin, Cyrillic and Greek words of five letters or more against
   the terminology's own vocabulary (one edit up to 8 letters, two beyond; short words and
   abbreviations are never fuzzed): such matches are ``fuzzy``;
3. aliases, leftmost-longest (``exact``, or ``abbreviation`` for an ``abbr`` alias; an
   abbreviation of four letters or fewer must be typed in capitals unless it is the whole query:
   "ALL" is leukaemia, "all" is a word);
4. an organ site next to a cancer or tumour head word ("cancer ... sein", "рак ... желудка",
   "乳腺" + "癌"), or a German/Dutch compound of the two ("Bauchspeicheldrüsen|krebs"):
   ``compound``; a morphology found at any site (``anysite``: neuroendocrine tumour, sarcoma) acts
   as the head word when a site is named, and the site's concept wins.
A miss is better than a wrong answer: a head word alone ("cancer") names no concept.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .icd10 import find_codes
from .phrases import Hit
from .terminology import Alias, Concept, Terminology
from .textnorm import Token, clean, fold, tokenize

FUZZY_SCRIPTS = frozenset({"latin", "cyrillic", "greek"})
SCORES = {"code": 1.0, "exact": 1.0, "abbreviation": 0.95, "compound": 0.95, "fuzzy": 0.8}
KIND_RANK = {"pref": 0, "clinical": 1, "lay": 2, "eponym": 3, "abbr": 4, "misspelling": 5, "site": 6}
COMPOUND_LINKS = ("", "s", "n", "en", "e", "es")  # German/Dutch linking elements, shortest first


@dataclass(frozen=True)
class ConceptMatch:
    """One concept found in the query, and the evidence for it."""

    concept: Concept
    matched: str            # the query's own words
    alias: str              # the lexicon entry (or code) that matched
    lang: str | None        # language of that entry (None for codes)
    match: str              # exact | fuzzy | code | abbreviation | compound
    span: tuple[int, int]   # character offsets in the cleaned query
    score: float


@dataclass
class MatchResult:
    text: str                                   # the cleaned query
    tokens: list[Token]
    matches: list[ConceptMatch]
    covered: set[int] = field(default_factory=set)      # token indices naming a pathology
    languages: dict[str, float] = field(default_factory=dict)  # alias languages, weighted
    corrected: dict[int, str] = field(default_factory=dict)    # token index -> corrected key


def _tones_agree(alias: Alias, tokens: list[Token]) -> bool:
    """Vietnamese tone marks tell words apart ("môi", lip; "mới", new; "gan", liver; "gần",
    near): a word the patient wrote with marks must be the alias's word exactly; a word typed
    without marks matches on its folded letters."""
    if alias.lang != "vi":
        return True
    typed = [t.text.casefold() for t in tokens]
    if all(w.isascii() for w in typed):
        return True
    written = [t.text.casefold() for t in tokenize(clean(alias.text))]
    return len(written) == len(typed) and all(t.isascii() or t == w for t, w in zip(typed, written))


class ConceptMatcher:
    """Compiled once from a :class:`Terminology`; ``match(text)`` is pure and thread-safe."""

    def __init__(self, terminology: Terminology, known_words: Iterable[str] = ()) -> None:
        self.term = terminology
        self.known = frozenset(terminology.vocabulary()) | frozenset(known_words)
        self._word_concepts = terminology.word_concepts
        # single-token Latin heads, longest first, for splitting compounds ("...krebs", "...kanker")
        heads = {keys[0] for keys in terminology.heads._phrases if len(keys) == 1 and keys[0].isascii()}
        self.compound_heads = sorted((h for h in heads if len(h) >= 4), key=len, reverse=True)

    # --- public ----------------------------------------------------------------------------

    def match(self, text: str) -> MatchResult:
        cleaned = clean(text)
        tokens = tokenize(cleaned)
        keys = [fold(t.text, t.script) for t in tokens]
        result = MatchResult(cleaned, tokens, [])
        found: list[ConceptMatch] = []

        # 1. codes
        for code, start, end in find_codes(cleaned):
            concept = self.term.concept(code)
            if concept is None:
                continue
            found.append(ConceptMatch(concept, cleaned[start:end], code, None, "code", (start, end), SCORES["code"]))
            result.covered.update(i for i, t in enumerate(tokens) if t.start < end and t.end > start)

        # 2. typo correction of unknown words
        for i, (tok, key) in enumerate(zip(tokens, keys)):
            if (i not in result.covered and len(key) >= 5 and tok.script in FUZZY_SCRIPTS
                    and key not in self.known and not key.isdigit()
                    and not (tok.script == "latin" and self._split_compound(key))):  # compounds first
                fixed = self.term.fuzzy.correct(key, self._one_meaning)
                if fixed is not None:
                    keys[i] = fixed
                    result.corrected[i] = fixed

        # 3. aliases
        alias_hits = [h for h in self.term.aliases.find(tokens, keys)
                      if not (set(range(h.start, h.end)) & result.covered)]
        anysite_heads: list[tuple[Hit, Alias]] = []
        for hit in alias_hits:
            alias = self._best_alias(hit, tokens)
            if alias is None:
                continue
            concept = self.term.concepts[alias.concept]
            if "anysite" in concept.flags:
                anysite_heads.append((hit, alias))
            kind = "abbreviation" if alias.kind == "abbr" else "exact"
            if any(i in result.corrected for i in range(hit.start, hit.end)):
                kind = "fuzzy"
            found.append(self._make(concept, alias, tokens, cleaned, hit.start, hit.end, kind))
            result.covered.update(range(hit.start, hit.end))
            self._vote(result, [a.lang for a in hit.payload if a.kind != "site"])

        # 4a. compounds written as one word
        for i, (tok, key) in enumerate(zip(tokens, keys)):
            if i in result.covered or tok.script != "latin" or len(key) < 7:
                continue
            split = self._split_compound(key)
            if split:
                site = split
                concept = self.term.concepts[site.concept]
                found.append(self._make(concept, site, tokens, cleaned, i, i + 1, "compound"))
                result.covered.add(i)
                self._vote(result, [site.lang])

        # 4b. site next to a head word (or to an any-site morphology)
        site_hits = [h for h in self.term.sites.find(tokens, keys) if not (set(range(h.start, h.end)) & result.covered)]
        if site_hits:
            head_spans = [(h.start, h.end, [hd.lang for hd in h.payload])
                          for h in self.term.heads.find(tokens, keys)
                          if not (set(range(h.start, h.end)) & result.covered)]
            head_spans += [(h.start, h.end, [a.lang]) for h, a in anysite_heads]
            used_anysite = False
            for hit in site_hits:
                near = [hs for hs in head_spans if self._near(tokens, hit, hs)]
                if not near:
                    continue
                sites = [a for a in hit.payload if _tones_agree(a, tokens[hit.start:hit.end])]
                if not sites:
                    continue
                site = min(sites, key=lambda a: (KIND_RANK.get(a.kind, 9), a.lang))
                head = near[0]
                concept = self.term.concepts[site.concept]
                lo, hi = min(hit.start, head[0]), max(hit.end, head[1])
                found.append(self._make(concept, site, tokens, cleaned, lo, hi, "compound"))
                result.covered.update(range(lo, hi))
                langs = {a.lang for a in hit.payload} & set(head[2]) or {a.lang for a in hit.payload}
                self._vote(result, sorted(langs))
                used_anysite = used_anysite or any(h.start == head[0] for h, _ in anysite_heads)
            if used_anysite:
                found = [m for m in found if "anysite" not in m.concept.flags]

        result.matches = self._dedupe(found)
        total = sum(result.languages.values())
        if total:
            result.languages = {k: v / total for k, v in sorted(result.languages.items())}
        return result

    # --- helpers ---------------------------------------------------------------------------

    def _one_meaning(self, words: list[str]) -> bool:
        meanings = {self._word_concepts.get(w) for w in words}
        return len(meanings) == 1 and None not in meanings and len(next(iter(meanings))) == 1

    def _best_alias(self, hit: Hit, tokens: list[Token]) -> Alias | None:
        entries = sorted(hit.payload, key=lambda a: (KIND_RANK.get(a.kind, 9), a.lang, a.concept))
        usable = []
        for a in entries:
            if a.kind == "abbr" and sum(c.isalpha() for c in a.text) <= 4 and len(tokens) > 1:
                typed = "".join(t.text for t in tokens[hit.start:hit.end])
                if not typed.isupper():
                    continue
            if not _tones_agree(a, tokens[hit.start:hit.end]):
                continue
            usable.append(a)
        return usable[0] if usable else None

    def _split_compound(self, key: str) -> Alias | None:
        for head in self.compound_heads:
            if not key.endswith(head) or len(key) - len(head) < 3:
                continue
            stem = key[: -len(head)]
            for link in COMPOUND_LINKS:
                if link and not stem.endswith(link):
                    continue
                modifier = stem[: len(stem) - len(link)] if link else stem
                if len(modifier) < 3:
                    continue
                for entry in self.term.sites.get((modifier,)):
                    return entry
                for entry in self.term.aliases.get((modifier,)):
                    if entry.kind != "abbr":
                        return entry
        return None

    @staticmethod
    def _near(tokens: list[Token], site: Hit, head: tuple[int, int, list[str]]) -> bool:
        gap = head[0] - site.end if head[0] >= site.end else site.start - head[1]
        if gap < 0:
            return False
        cjk = tokens[site.start].script in ("han", "hiragana", "katakana", "hangul")
        return gap <= (1 if cjk else 3)

    @staticmethod
    def _vote(result: MatchResult, langs: list[str]) -> None:
        if not langs:
            return
        langs = sorted(set(langs))
        for lg in langs:
            result.languages[lg] = result.languages.get(lg, 0.0) + 1.0 / len(langs)

    @staticmethod
    def _make(concept: Concept, alias: Alias, tokens: list[Token], cleaned: str, lo: int, hi: int,
              kind: str) -> ConceptMatch:
        start, end = tokens[lo].start, tokens[hi - 1].end
        return ConceptMatch(concept, cleaned[start:end], alias.text, alias.lang, kind, (start, end), SCORES[kind])

    @staticmethod
    def _dedupe(found: list[ConceptMatch]) -> list[ConceptMatch]:
        best: dict[str, ConceptMatch] = {}
        for m in found:
            old = best.get(m.concept.id)
            if old is None or m.score > old.score:
                best[m.concept.id] = m
        return sorted(best.values(), key=lambda m: (m.span[0], -m.score, m.concept.id))
