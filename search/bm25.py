"""BM25F term scores as arrays, read from Whoosh's postings once per snapshot.

Whoosh stays the index and the definition of the text score: the statistics (idf, average field
length, B, K1) come from its own BM25F scorer and the formula is its ``scoring.bm25``, evaluated
in the same order on the same float64 values, so the scores are the floats ``matcher.score()``
gives (tests compare them). What changes is where the loop runs: a term's postings are walked
once per snapshot and kept as two arrays (documents, scores), and a query's text score over
thousands of candidates is a few numpy operations instead of a Python call per posting.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25FScorer
from whoosh.util.numeric import byte_to_length

MAX_KEPT_POSTINGS = 8_000_000  # ~96 MB of kept scores; beyond it a term is read again per query
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_NO_DOCS = np.zeros(0, dtype=np.int32)
_NO_SCORES = np.zeros(0, dtype=np.float64)


class TermScores:
    """Every document's BM25F score for a (field, term), as ``(docnums ascending, scores)``."""

    def __init__(self, searcher: Callable[[], object], doc_count: int) -> None:
        self._searcher = searcher  # this thread's Whoosh searcher
        self.doc_count = doc_count
        self._terms: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._lengths: dict[str, np.ndarray | None] = {}
        self._kept = 0
        self._lock = threading.Lock()

    def term(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        key = (field, text)
        got = self._terms.get(key)
        if got is not None:
            return got
        got = self._read(field, text)
        with self._lock:
            if self._kept + len(got[0]) <= MAX_KEPT_POSTINGS and key not in self._terms:
                self._terms[key] = got
                self._kept += len(got[0])
        return got

    def sum(self, terms: list[tuple[str, str]]) -> np.ndarray:
        """The summed scores of ``terms`` for every document (what an ``Or`` query scores), added
        term by term in the given order, as Python would."""
        total = np.zeros(self.doc_count, dtype=np.float64)
        for field, text in terms:
            docs, scores = self.term(field, text)
            total[docs] += scores  # a term lists a document once
        return total

    def _read(self, field: str, text: str) -> tuple[np.ndarray, np.ndarray]:
        s = self._searcher()
        try:
            m = s.postings(field, text)
        except TermNotFound:  # the index never saw this word
            return _NO_DOCS, _NO_SCORES
        lengths = self._field_lengths(field)
        scorer = s.weighting.scorer(s, field, text)
        ids: list[int] = []
        if lengths is None or not isinstance(scorer, BM25FScorer):
            scores: list[float] = []  # not a single segment, or another weighting: Whoosh scores it
            while m.is_active():
                ids.append(m.id())
                scores.append(m.score())
                m.next()
            return np.array(ids, dtype=np.int32), np.array(scores, dtype=np.float64)
        tfs: list[float] = []
        while m.is_active():
            ids.append(m.id())
            tfs.append(m.weight())
            m.next()
        docs = np.array(ids, dtype=np.int32)
        tf = np.array(tfs, dtype=np.float64)
        fl = lengths[docs]
        idf, avgfl, B, K1 = scorer.idf, scorer.avgfl, scorer.B, scorer.K1
        # whoosh.scoring.bm25, operation for operation
        return docs, idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))

    def _field_lengths(self, field: str) -> np.ndarray | None:
        """Each document's length of ``field`` as Whoosh's scorer reads it (its one-byte
        approximation), or None when the index is not a single Whoosh 3 segment."""
        if field in self._lengths:
            return self._lengths[field]
        reader = self._searcher().reader()
        raw = length_bytes(getattr(reader, "_perdoc", None), field) if reader.is_atomic() else None
        lengths = None if raw is None else _LENGTH_OF_BYTE[raw]
        self._lengths[field] = lengths
        return lengths


def length_bytes(perdoc, field: str) -> np.ndarray | None:
    """The one-byte field lengths Whoosh 3 keeps per document (its ``_<field>_len`` column), read
    at once from a per-document reader; None when there is no such column or reader."""
    if perdoc is None or not hasattr(perdoc, "_cached_reader"):
        return None
    column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
    return None if column is None else np.array(column.load(), dtype=np.uint8)
