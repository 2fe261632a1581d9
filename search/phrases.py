"""Longest-match phrase look-up over folded tokens: the one mechanism behind concept aliases,
intent cues and place names.

A phrase is stored as the tuple of its folded tokens (``textnorm.fold_tokens``), so a query
and a lexicon entry meet whatever their case, accents or Arabic letter variants. Matching is
leftmost-longest and non-overlapping. Two script rules apply at match time:
- a match may not start inside a Hangul word (Korean attaches particles at the *end* of a
  word, so "유방암을" still matches "유방암", but "간" is not found inside "시간");
- Hebrew and Arabic one-letter prefixes (ו ה ב ל מ ש כ; و ب ل ف ك) may be stripped from a token
  when the token as written matches nothing ("בסרטן" -> "סרטן").
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .textnorm import Token, clean, fold, fold_tokens, tokenize

T = TypeVar("T")

_HEBREW_PREFIXES = "והבלמשכ"
_ARABIC_PREFIXES = "وبلفك"


def prefix_variants(key: str, script: str) -> tuple[str, ...]:
    """Keys of ``key`` with clitic prefixes removed (Hebrew up to two letters, Arabic one)."""
    if script == "hebrew":
        out = []
        k = key
        for _ in range(2):
            if len(k) > 3 and k[0] in _HEBREW_PREFIXES:
                k = k[1:]
                out.append(k)
        return tuple(out)
    if script == "arabic" and len(key) > 3 and key[0] in _ARABIC_PREFIXES:
        return (fold(key[1:], "arabic"),)
    return ()


@dataclass(frozen=True)
class Hit(Generic[T]):
    start: int   # token index, inclusive
    end: int     # token index, exclusive
    payload: T
    stripped: bool = False  # a clitic prefix was removed to match


class PhraseIndex(Generic[T]):
    """Phrases (token-key tuples) to payloads; several payloads may share a phrase."""

    def __init__(self) -> None:
        self._phrases: dict[tuple[str, ...], list[T]] = {}
        self._max_len: dict[str, int] = {}  # first key -> longest phrase starting with it

    def __len__(self) -> int:
        return len(self._phrases)

    def add(self, phrase: str, payload: T) -> tuple[str, ...]:
        keys = tuple(fold_tokens(phrase))
        if keys:
            self.add_keys(keys, payload)
        return keys

    def add_keys(self, keys: tuple[str, ...], payload: T) -> None:
        bucket = self._phrases.setdefault(keys, [])
        if payload not in bucket:
            bucket.append(payload)
        self._max_len[keys[0]] = max(self._max_len.get(keys[0], 0), len(keys))

    def get(self, keys: tuple[str, ...]) -> list[T]:
        return self._phrases.get(keys, [])

    def __contains__(self, keys: tuple[str, ...]) -> bool:
        return keys in self._phrases

    def first_keys(self) -> Iterable[str]:
        return self._max_len.keys()

    def find(self, tokens: Sequence[Token], keys: Sequence[str] | None = None) -> list[Hit[list[T]]]:
        """Leftmost-longest, non-overlapping matches over ``tokens``; payload lists as stored."""
        keys = list(keys) if keys is not None else [fold(t.text, t.script) for t in tokens]
        hits: list[Hit[list[T]]] = []
        i, n = 0, len(keys)
        while i < n:
            best = self._longest_at(tokens, keys, i)
            if best is not None:
                hits.append(best)
                i = best.end
            else:
                i += 1
        return hits

    def find_all(self, tokens: Sequence[Token], keys: Sequence[str] | None = None) -> list[Hit[list[T]]]:
        """The longest match starting at every token (overlapping), for callers that arbitrate."""
        keys = list(keys) if keys is not None else [fold(t.text, t.script) for t in tokens]
        return [h for i in range(len(keys)) if (h := self._longest_at(tokens, keys, i)) is not None]

    def _longest_at(self, tokens: Sequence[Token], keys: Sequence[str], i: int) -> Hit[list[T]] | None:
        tok = tokens[i]
        if tok.script == "hangul" and not tok.word_start:
            return None
        firsts = [(keys[i], False)] + [(v, True) for v in prefix_variants(keys[i], tok.script)]
        best: Hit[list[T]] | None = None
        for first, stripped in firsts:
            longest = self._max_len.get(first)
            if not longest:
                continue
            for length in range(min(longest, len(keys) - i), 0, -1):
                phrase = (first, *keys[i + 1:i + length])
                found = self._phrases.get(phrase)
                if found:
                    if best is None or length > best.end - best.start:
                        best = Hit(i, i + length, found, stripped)
                    break
        return best


def match_text(index: PhraseIndex[T], text: str) -> tuple[list[Token], list[Hit[list[T]]]]:
    """Clean, tokenize and match in one call (for callers that hold raw text)."""
    tokens = tokenize(clean(text))
    return tokens, index.find(tokens)
