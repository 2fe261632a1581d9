"""Typo correction against a small fixed vocabulary (the terminology's own words).

Symmetric-delete candidate generation (as SymSpell does) and an optimal-string-alignment check:
one edit allowed up to 8 letters, two beyond. Built once when the terminology is compiled.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _osa(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, stopping early above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


class FuzzyVocabulary:
    """Symmetric-delete candidate generation (SymSpell-style) over a small, fixed vocabulary."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = frozenset(words)
        self.deletes: dict[str, list[str]] = {}
        for w in sorted(self.words):
            for d in _deletes(w):
                self.deletes.setdefault(d, []).append(w)

    def correct(self, word: str, same: Callable[[list[str]], bool] | None = None) -> str | None:
        """The one vocabulary word closest to ``word`` within the length-scaled limit, or None.

        A tie is broken by the first letter, or accepted when ``same(candidates)`` says the tied
        words mean the same thing (inflections of one concept's alias: "лимфома"/"лимфомы")."""
        limit = 1 if len(word) <= 8 else 2
        cands = set(self.deletes.get(word, ()))
        for d in _deletes(word):
            if d in self.words:
                cands.add(d)
            cands.update(self.deletes.get(d, ()))
        scored = sorted((_osa(word, c, limit), c) for c in cands if len(c) >= 4)
        scored = [s for s in scored if s[0] <= limit]
        if not scored:
            return None
        tied = [c for d, c in scored if d == scored[0][0]]
        if len(tied) == 1:
            return tied[0]
        initial = [c for c in tied if c[0] == word[0]]
        if len(initial) == 1:
            return initial[0]
        if same is not None and same(tied):
            return tied[0]
        return None
