"""The same-run baseline every bench measures carematch against: plain Whoosh BM25.

One document per offer, one ``TEXT`` field analysed by Whoosh's ``StandardAnalyzer`` that holds
all the offer's texts (every language's title and description) and its centre's name; the query
is the patient's raw text through ``QueryParser(..., group=OrGroup)``, with the parser's syntax
characters stripped so that no query can fail. No terminology, no language handling, no ranking
rules: this is what the understanding and ranking layers are compared with.

    >>> import tempfile
    >>> from search.corpus import Offer
    >>> offer = Offer(id="a-breast", centre_id="a", service="treatment", icd10=("C50",),
    ...               age_groups=("adult",), languages=("fr",), delivery="on_site",
    ...               text={"fr": {"title": "Cancer du sein", "description": "Chirurgie."},
    ...                     "en": {"title": "Breast cancer", "description": "Surgery."}})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with PlainBM25.build([offer], d + "/plain") as bm25:
    ...         bm25.search('breast "cancer" (OR')
    ['a-breast']

Offers are indexed in offer-id order, so Whoosh's own tie-break (lower document number first)
is the offer id; :meth:`PlainBM25.search` sorts on ``(-score, offer_id)`` all the same.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.analysis import StandardAnalyzer
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import OrGroup, QueryParser

MARKER = "plainbm25.json"
FORMAT = 1
# Characters Whoosh's default query parser gives a meaning to: fields (:), phrases ("),
# single-quoted terms ('), groups ( ), ranges [ ] { }, boosts (^), wildcards (* ?), fuzzy (~),
# required/prohibited (+ -), escapes (\), plus < > = used by some plugins.
_SYNTAX = re.compile(r"""[:"'()\[\]{}^*?~+\-\\/<>=!&|]""")
_OPERATORS = re.compile(r"\b(AND|OR|NOT|ANDNOT|ANDMAYBE|TO)\b")


def schema() -> Schema:
    return Schema(offer_id=ID(stored=True, unique=True), text=TEXT(analyzer=StandardAnalyzer()))


def plain_query(text: str) -> str:
    """The raw query with every parser syntax character and operator word neutralised.

    >>> plain_query('sein AND "cancer" (OR) title:foo* -bar ~2')
    'sein and cancer or title foo bar 2'
    """
    text = _OPERATORS.sub(lambda m: m.group(0).lower(), text)
    return " ".join(_SYNTAX.sub(" ", text).split())


def _offer_fields(offer: Any) -> tuple[str, str, dict]:
    """(offer id, centre id, {lang: {title, description}}) of an Offer object or a JSONL-shaped dict."""
    if isinstance(offer, Mapping):
        return str(offer["id"]), str(offer.get("centre") or offer.get("centre_id") or ""), offer.get("text") or {}
    return offer.id, offer.centre_id, offer.text


def _offer_text(texts: Mapping, centre_name: str) -> str:
    parts = []
    for lang in sorted(texts):
        t = texts[lang] or {}
        parts.extend([t.get("title", ""), t.get("description", "")])
    parts.append(centre_name)
    return "\n".join(p for p in parts if p)


def _load(source: Any, centres: Mapping[str, Any] | None) -> tuple[list, dict[str, str]]:
    """Offers and {centre id: name} from a Corpus, corpus paths, or an iterable of offers."""
    names: dict[str, str] = {}
    if isinstance(source, (str, os.PathLike)):
        source = [source]
    if hasattr(source, "offers") and hasattr(source, "centres"):  # a search.corpus.Corpus
        offers = list(source.offers)
        centres = source.centres
    else:
        items = list(source)
        if items and all(isinstance(i, (str, os.PathLike)) for i in items):
            from search.corpus import load_corpus
            corpus = load_corpus(items)
            offers, centres = list(corpus.offers), corpus.centres
        else:
            offers = items
    for cid, c in (centres or {}).items():
        names[cid] = c.get("name", cid) if isinstance(c, Mapping) else getattr(c, "name", cid)
    return offers, names


class PlainBM25:
    """Plain Whoosh BM25 over one text field per offer; open once, query many times."""

    def __init__(self, ix, directory: Path) -> None:
        self.ix = ix
        self.directory = directory
        self.parser = QueryParser("text", ix.schema, group=OrGroup)
        self._local = threading.local()
        self._searchers: list = []
        self._lock = threading.Lock()
        self._closed = False

    # --- building and opening ----------------------------------------------------------------

    @classmethod
    def build(cls, offers_or_corpus_paths: Any, directory: str | os.PathLike,
              centres: Mapping[str, Any] | None = None) -> "PlainBM25":
        """Index offers (a ``Corpus``, corpus files/directories, or ``Offer`` objects / JSONL-shaped
        dicts, with ``centres`` giving their centres' names) into ``directory`` and open it.

        The index is written to a temporary sibling and renamed into place, so a failure leaves
        no half-built index; an existing ``directory`` is replaced only if it holds a previous
        PlainBM25 index.
        """
        t0 = time.perf_counter()
        offers, names = _load(offers_or_corpus_paths, centres)
        directory = Path(directory)
        if directory.exists() and any(directory.iterdir()) and not (directory / MARKER).exists():
            raise FileExistsError(f"{directory} exists and is not a PlainBM25 index; choose another directory")
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}.tmp-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            ix = whoosh_index.create_in(str(tmp), schema())
            writer = ix.writer(limitmb=256, procs=1)
            rows = sorted((_offer_fields(o) for o in offers), key=lambda r: r[0])
            seen: set[str] = set()
            for oid, cid, texts in rows:
                if oid in seen:
                    raise ValueError(f"duplicate offer id {oid!r}")
                seen.add(oid)
                writer.add_document(offer_id=oid, text=_offer_text(texts, names.get(cid, "")))
            writer.commit()
            (tmp / MARKER).write_text(json.dumps({
                "format": FORMAT, "offers": len(rows), "analyzer": "whoosh StandardAnalyzer",
                "fields": ["all offer texts (every language)", "centre name"],
                "build_seconds": round(time.perf_counter() - t0, 3)}, indent=1), encoding="utf-8")
            if directory.exists():
                old = directory.parent / f".{directory.name}.old-{os.getpid()}-{threading.get_ident()}"
                os.rename(directory, old)
                os.rename(tmp, directory)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls.open(directory)

    @classmethod
    def open(cls, directory: str | os.PathLike) -> "PlainBM25":
        directory = Path(directory)
        if not (directory / MARKER).exists():
            raise FileNotFoundError(f"{directory}: no PlainBM25 index here (build one with PlainBM25.build)")
        return cls(whoosh_index.open_dir(str(directory)), directory)

    @property
    def info(self) -> dict:
        return json.loads((self.directory / MARKER).read_text(encoding="utf-8"))

    # --- searching -----------------------------------------------------------------------------

    def _searcher(self):
        s = getattr(self._local, "searcher", None)
        if s is None:
            if self._closed:
                raise RuntimeError("PlainBM25 is closed")
            s = self.ix.searcher()
            with self._lock:
                self._searchers.append(s)
            self._local.searcher = s
        return s

    def search(self, text: str, limit: int = 10) -> list[str]:
        """Offer ids for the raw query, best first, ties broken on offer id."""
        return [oid for oid, _ in self.search_scored(text, limit)]

    def search_scored(self, text: str, limit: int = 10) -> list[tuple[str, float]]:
        """``(offer id, BM25 score)`` pairs, best first, ties broken on offer id."""
        if limit < 1:
            return []
        q = plain_query(text)
        if not q:
            return []
        query = self.parser.parse(q)
        hits = self._searcher().search(query, limit=limit, terms=False)
        out = [(hit["offer_id"], float(hit.score)) for hit in hits]
        out.sort(key=lambda r: (-r[1], r[0]))
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            searchers, self._searchers = self._searchers, []
        for s in searchers:
            s.close()
        self._local = threading.local()

    def __enter__(self) -> "PlainBM25":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
