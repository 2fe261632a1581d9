"""The Engine: one object that opens an index snapshot and the terminology once and answers queries.

``Engine.open(path).search(text, lang=None, country=None, service=None, age_group=None, limit=10)``
returns the search output object of DESIGN.md ("Search output"). Every caller (CLI, HTTP API,
web page, triage, bench) goes through it. Each answer comes from exactly one complete snapshot,
whose digest it reports; when ``indexes/default`` is switched to a new snapshot, the next query
opens it (``refresh``) while queries in flight finish on the old one.
"""
from __future__ import annotations

import heapq
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh.reading import TermNotFound

from . import explain, langid, ranking
from .bm25 import TermScores
from .errors import IndexCorrupt, QueryError, UsageError
from .icd10 import range_width
from .ranking import categories
from .indexer import read_manifest, resolve_snapshot, slug
from .intent import Intent, detect_intent, known_words as cue_words, modality_phrases
from .langid import LanguageGuess, identify
from .locales import country_languages, normalize_country, normalize_lang
from .paths import DEFAULT_INDEX
from .matcher import ConceptMatch, ConceptMatcher, MatchResult
from .terminology import Terminology, default_terminology
from .textnorm import clean, fold

NO_DOCS = np.zeros(0, dtype=np.int64)
log = logging.getLogger("carematch.engine")
MAX_QUERY_CHARS = 1000
MAX_LIMIT = 50
CACHE_SIZE = 2048
TEXT_FALLBACK_LIMIT = 200
ROUNDING = 1e-3  # more than the gap between a score before and after rounding to 4 decimals
SERVICES = ranking.SERVICE_FIT.keys()
SPECIFIC = (ranking.MATCHES.index("related"), ranking.MATCHES.index("exact"))
AGE_GROUPS = ("adult", "pediatric")


@dataclass(frozen=True)
class Understanding:
    """What the engine read in a query: pathology, language and what is asked."""

    text: str
    match: MatchResult
    language: LanguageGuess
    intent: Intent
    service: str | None
    age_group: str | None
    place: str | None
    country: str | None

    @property
    def concepts(self) -> list[ConceptMatch]:
        return self.match.matches


class _Snapshot:
    """One opened index snapshot and the per-document data read from it, shared by all threads."""

    def __init__(self, path: Path, verify: bool) -> None:
        self.path = path
        self.manifest = read_manifest(path, verify=verify)
        self.digest: str = self.manifest["digest"]
        try:
            self.ix = whoosh_index.open_dir(str(path))
            with self.ix.searcher() as s:
                self.docs: list[dict | None] = [None] * s.doc_count_all()
                for docnum, stored in s.iter_docs():
                    self.docs[docnum] = json.loads(stored["doc"])
                    self.docs[docnum]["_docnum"] = docnum
                    self.docs[docnum]["_codes"] = tuple(self.docs[docnum]["icd10"])
        except IndexCorrupt:
            raise
        except Exception as e:  # whoosh raises many kinds on damaged files
            raise IndexCorrupt(f"{path}: the Whoosh index cannot be read ({type(e).__name__}: {e}); rebuild it") from e
        self.centres: dict[str, dict] = json.loads((path / "centres.json").read_text(encoding="utf-8"))
        for c in self.centres.values():
            c["city_slug"] = slug(c["city"])
        self.regions_by_city = {c["city_slug"]: c.get("region", "") for c in self.centres.values()}
        # what the ranking rules read of each offer, as small ids per rule (see ranking.Plan)
        self.features = ranking.Features(self.docs, self.centres)
        self.schema = self.ix.schema  # FileIndex.schema re-reads the TOC from disk on each access
        self.text_fields = [f for f in self.schema.names() if f.startswith("text_")]
        self.analyzers = {f: self.schema[f].analyzer for f in self.text_fields}
        self.stop_terms: dict[str, frozenset[str]] = {}
        self.modality_terms: dict[tuple[str, str], frozenset[str]] = {}
        self._local = threading.local()
        self._postings: dict[tuple[str, str], np.ndarray] = {}
        self.text = TermScores(self.searcher, len(self.docs))
        self.cache: OrderedDict = OrderedDict()
        self.cache_lock = threading.Lock()

    def postings(self, field: str, *terms: str) -> np.ndarray:
        """Documents holding any of ``terms`` in ``field`` (ascending), read once per term and kept."""
        found = []
        for term in terms:
            key = (field, term)
            ids = self._postings.get(key)
            if ids is None:
                try:
                    ids = np.fromiter(self.searcher().postings(field, term).all_ids(), dtype=np.int64)
                except TermNotFound:
                    ids = NO_DOCS
                self._postings[key] = ids
            found.append(ids)
        return np.unique(np.concatenate(found)) if len(found) > 1 else (found[0] if found else NO_DOCS)

    def searcher(self):
        s = getattr(self._local, "searcher", None)
        if s is None:
            s = self._local.searcher = self.ix.searcher()
        return s


def _open_snapshot(index_path: Path, verify: bool, attempts: int = 3) -> _Snapshot:
    """Open the snapshot the link points at. Builds keep the two newest snapshots, so one being
    opened while two rebuilds finish can be deleted under the reader: then the link, which has
    moved on, is read again (a snapshot that is still the live one and fails is damaged, and
    that error stands)."""
    for attempt in range(attempts):
        path = resolve_snapshot(index_path)
        try:
            return _Snapshot(path, verify)
        except (IndexCorrupt, OSError) as e:
            still_live = resolve_snapshot(index_path) == path if index_path.is_symlink() else True
            if still_live or attempt == attempts - 1:
                if isinstance(e, IndexCorrupt):
                    raise
                raise IndexCorrupt(f"{path}: {e}; rebuild with `carematch index`") from e
    raise AssertionError("unreachable")


class Engine:
    """Open once, search many times; thread-safe."""

    def __init__(self, index_path: Path, snapshot: _Snapshot, terminology: Terminology) -> None:
        self.index_path = index_path
        self._snap = snapshot
        self._snap_target = self._link_target()
        self.terminology = terminology
        self.matcher = ConceptMatcher(terminology, known_words=cue_words())
        self._lock = threading.Lock()
        self._refused_target: str | None = None
        self.refused: dict | None = None  # the last new snapshot refused as damaged, and why

    @classmethod
    def open(cls, path: str | Path | None = None, verify: bool = True,
             terminology: Terminology | None = None) -> "Engine":
        """Open the snapshot ``path`` points at (default ``indexes/default``), checking its digests."""
        index_path = Path(path) if path else DEFAULT_INDEX
        snapshot = _open_snapshot(index_path, verify)
        # the snapshot's uncompressed language model, else py3langid's own (slower) in the background
        if not langid.load_short_model(snapshot.path / "langid.pickle"):
            langid.warm_up(background=True)
        _warm_locales_in_background(snapshot)
        if terminology is None:
            # the snapshot's compiled terminology when the data files have not changed since
            terminology = Terminology.load_compiled(snapshot.path / "terminology.pickle") or default_terminology()
        # the typo index is built on first use; build it now without making the caller wait
        threading.Thread(target=lambda: terminology.fuzzy, name="fuzzy-warm-up", daemon=True).start()
        return cls(index_path, snapshot, terminology)

    def clear_cache(self) -> None:
        """Forget cached answers (benchmarks time the real work with it)."""
        with self._snap.cache_lock:
            self._snap.cache.clear()

    @property
    def manifest(self) -> dict:
        return self._snap.manifest

    @property
    def digest(self) -> str:
        return self._snap.digest

    def _link_target(self) -> str | None:
        try:
            return os.readlink(self.index_path)
        except OSError:
            return None

    def refresh(self) -> bool:
        """Switch to a newer snapshot if the index link moved; True when it did. A new snapshot
        that fails its checks is refused once (logged, and kept in :attr:`refused` for the health
        check) and the engine goes on answering from the snapshot it has, until the link moves
        again."""
        target = self._link_target()
        if target is None or target == self._snap_target or target == self._refused_target:
            return False
        with self._lock:
            if target == self._snap_target or target == self._refused_target:
                return False
            try:
                snap = _open_snapshot(self.index_path, verify=True)
            except IndexCorrupt as e:
                self._refused_target, self.refused = target, {"snapshot": target, "error": e.message}
                log.error("index: new snapshot %s refused, still serving %s: %s", target, self._snap.digest[:12],
                          e.message)
                return False
            self._snap, self._snap_target = snap, target
            self._refused_target, self.refused = None, None
        return True

    # --- understanding ---------------------------------------------------------------------

    def understand(self, text: str, lang: str | None = None, country: str | None = None,
                   service: str | None = None, age_group: str | None = None) -> Understanding:
        declared = normalize_lang(lang) if lang else None
        if service is not None and service not in SERVICES:
            raise UsageError(f"service: unknown value {service!r} (one of {', '.join(SERVICES)})")
        if age_group is not None and age_group not in AGE_GROUPS:
            raise UsageError(f"age_group: unknown value {age_group!r} (one of {', '.join(AGE_GROUPS)})")
        country_code = None
        if country:
            country_code = normalize_country(country)
            if country_code is None:
                raise UsageError(f"country: unknown country {country!r} (use an ISO 3166 code such as 'MA')")
        match = self.matcher.match(text)
        # words inside a pathology's name are not cues: "أطفال الأنابيب" (IVF) or "Kinderwunsch"
        # name no child; a condition of children says so through its concept's flags
        keys = [None if i in match.covered else fold(t.text, t.script) for i, t in enumerate(match.tokens)]
        intent = detect_intent(match.tokens, ["\0" if k is None else k for k in keys])
        evidence = dict(match.languages)
        for lang, weight in intent.languages().items():  # cue words are evidence of language too
            evidence[lang] = evidence.get(lang, 0.0) + weight
        guess = identify(match.text, declared=declared, lexicon=evidence or None)
        if guess.code is None and country_code:
            prior = [lg for lg in country_languages(country_code)]
            if prior:
                guess = LanguageGuess(prior[0], 0.3, "country")
        age = age_group or intent.age_group
        if age is None and any("pediatric" in m.concept.flags for m in match.matches):
            age = "pediatric"
        return Understanding(match.text, match, guess, intent, service or intent.service, age,
                             intent.place, country_code)

    # --- search ----------------------------------------------------------------------------

    def search(self, text: str, lang: str | None = None, country: str | None = None,
               service: str | None = None, age_group: str | None = None, limit: int = 10) -> dict:
        """The search output object (DESIGN.md); raises QueryError/UsageError on a bad request."""
        t0 = time.perf_counter()
        if not isinstance(text, str):
            raise QueryError("query: must be text")
        if len(text) > MAX_QUERY_CHARS:
            raise QueryError(f"query: longer than {MAX_QUERY_CHARS} characters ({len(text)})")
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit: must be between 1 and {MAX_LIMIT}")
        cleaned = clean(text)
        if not cleaned and not service:
            raise QueryError("query: empty (type a diagnosis, a code or what you are looking for)")
        self.refresh()
        snap = self._snap
        key = (cleaned, lang, country, service, age_group, limit)
        with snap.cache_lock:
            cached = snap.cache.get(key)
            if cached is not None:
                snap.cache.move_to_end(key)
        if cached is None:
            cached = self._search(snap, cleaned, lang, country, service, age_group, limit)
            with snap.cache_lock:
                snap.cache[key] = cached
                if len(snap.cache) > CACHE_SIZE:
                    snap.cache.popitem(last=False)
        out = dict(cached)
        out["query"] = text
        out["took_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        return out

    def _search(self, snap: _Snapshot, text: str, lang, country, service, age_group, limit) -> dict:
        return self._route(snap, self.understand(text, lang, country, service, age_group), limit)

    def route(self, understanding: Understanding, limit: int = 3) -> dict:
        """Rank offers for an already-understood request (triage reads long e-mails itself and
        passes what it understood); same output object as :meth:`search`, without ``took_ms``."""
        self.refresh()
        return self._route(self._snap, understanding, limit)

    def _route(self, snap: _Snapshot, u: Understanding, limit: int) -> dict:
        text = u.text
        out_lang = u.language.code or "en"
        concepts = u.concepts

        # candidates: the concepts' codes first; text alone only when no concept was recognised
        rare = any(m.concept.flags & {"rare", "pediatric"} for m in concepts)
        req = ranking.Request(concepts=concepts, lang=u.language.code, service=u.service,
                              age_group=u.age_group, place=u.place,
                              place_region=snap.regions_by_city.get(u.place or "", ""), rare=rare)
        words = self._text_terms(snap, u)  # the text query, scored once for every candidate set
        text = snap.text.sum(words) if words else None
        if concepts:
            terms: set[str] = set()
            for m in concepts:
                terms.update(m.concept.icd10)
                for code in m.concept.icd10:
                    if "-" not in code or range_width(code) <= 40:
                        terms.update(categories(code))
                    if "." in code:
                        terms.add(code.split(".")[0])
            first = self._score(snap, text, req, snap.postings("codes", *terms))
            specific = first.take(np.isin(first.how, SPECIFIC))
            if len(np.unique(snap.features.centre[specific.docnums])) >= ranking.MIN_SPECIFIC_CENTRES:
                scored = [specific]
            else:  # too few teams for this pathology itself: general offers ("all cancers") help
                general = np.setdiff1d(snap.postings("codes", "general"), first.docnums, assume_unique=True)
                scored = [first, self._score(snap, text, req, general)]
        else:
            # no pathology named: the words, and what was asked for (a service, a child's care)
            extra = [NO_DOCS]
            if u.service and u.service != "treatment":  # treatment is most offers: no filter
                extra.append(snap.postings("service", u.service))
            if u.age_group == "pediatric":
                extra.append(snap.postings("age", "pediatric"))
            scored = [self._score(snap, text, req, None, np.unique(np.concatenate(extra)))]
        weights = ranking.weights_for(req)
        shown, folded = _page(snap, scored, limit)

        label = self.terminology.label(concepts[0].concept, out_lang) if concepts else ""
        results = []
        for r, more in zip(shown, folded):
            doc = snap.docs[r[2]]
            centre = snap.centres[doc["centre_id"]]
            # the shown offer's verdicts and evidence, from the rules themselves
            score, verdicts = ranking.judge(r[4].req, doc, centre, r[3])  # == -r[0]: Plan adds as judge does
            results.append({
                "offer_id": doc["offer_id"], "service": doc["service"], "title": _title(doc, out_lang),
                "centre": {"id": centre["id"], "name": centre["name"], "city": centre["city"],
                           "country": centre["country"], "website": centre["website"]},
                "concepts": list(doc["icd10"]), "languages": list(doc["languages"]),
                "age_groups": list(doc["age_groups"]), "delivery": doc["delivery"],
                "url": doc["url"], "score": score,
                "why": explain.why(verdicts, out_lang, label, centre["city"]),
                "explanation": {v.rule: {"order": i, "score": v.score, "weight": weights[v.rule],
                                         **({"skipped": True} if v.score is None else {}), **v.evidence}
                                for i, v in enumerate(verdicts)},
                "more": [{"offer_id": m[1], "service": snap.docs[m[2]]["service"],
                          "title": _title(snap.docs[m[2]], out_lang), "score": -m[0]} for m in more],
            })
        return {
            "query": text,
            "language": {"code": u.language.code, "confidence": round(u.language.confidence, 3),
                         "source": u.language.source},
            "concepts": [_concept_json(m, self.terminology, out_lang) for m in concepts],
            "intent": {"service": u.service, "age_group": u.age_group, "place": u.place,
                       "urgent": u.intent.urgent, "country": u.country},
            "results": results,
            "total": sum(len(part.docnums) for part in scored),
            "index": {"digest": snap.digest},
        }

    @staticmethod
    def _score(snap: _Snapshot, text: np.ndarray | None, req: ranking.Request, candidates: np.ndarray | None,
               extra: np.ndarray = NO_DOCS) -> "_Scored":
        """Score candidates (``None``: the ``TEXT_FALLBACK_LIMIT`` best the text finds, plus
        ``extra``) and keep those no hard constraint excludes; ``text``: every document's BM25F
        score for the query's words (None without words)."""
        if candidates is None:  # no pathology: the words find the candidates
            found = np.flatnonzero(text) if text is not None else NO_DOCS
            if len(found) > TEXT_FALLBACK_LIMIT:  # the best, ties on the lower document number
                found = found[np.lexsort((found, -text[found]))[:TEXT_FALLBACK_LIMIT]]
            candidates = np.union1d(found, extra)
        text_scores = text[candidates] if text is not None else np.zeros(len(candidates))
        plan = ranking.Plan(replace(req, text_max=float(text_scores.max(initial=0.0))), snap.features)
        decisive, ok, how = plan.decisive(candidates, (text_scores > 0) & snap.features.no_codes[candidates])
        return _Scored(plan, candidates[ok], decisive[ok], text_scores[ok], how[ok])

    def _text_terms(self, snap: _Snapshot, u: Understanding) -> list[tuple[str, str]]:
        """The text query, as (field, term) pairs: words that are neither pathology nor cue, plus
        the recognised concepts' labels, in the patient's language, French and English fields,
        plus the cue words of the modalities named (:func:`~search.intent.expansion`), each field
        in its own language: "质子治疗" searches text_fr for "protonthérapie", text_en for "proton
        therapy" (the patient's own cue words are not in ``words``). Of each cue phrase, the words
        found in more than a fifth of the offers ("radiothérapie" in "radiothérapie par protons")
        are left out, unless all of its words are that common ("radiothérapie" alone)."""
        cue_tokens = {i for ev in u.intent.evidence for i in range(ev.start, ev.end)}
        words = [t.text for i, t in enumerate(u.match.tokens)
                 if i not in u.match.covered and i not in cue_tokens and len(t.text) > 1 and not t.text.isdigit()]
        lang = u.language.code
        fields = [f"text_{lg}" for lg in dict.fromkeys([lang, "fr", "en"]) if lg and f"text_{lg}" in snap.text_fields]
        cache = snap.modality_terms
        searcher = snap.searcher()
        queries = []
        for fname in fields:
            lg = fname[5:]
            phrase = " ".join(words)
            labels = [self.terminology.label(m.concept, lg) for m in u.concepts[:2]]
            analyzer = snap.analyzers[fname]
            stop = self._stop_terms(snap, fname)
            terms = {tok.text for tok in analyzer(" ".join([phrase, *labels]))} - stop
            for value in u.intent.modalities:
                key = (fname, value)
                found = cache.get(key)
                if found is None:  # analysed once per snapshot, field and modality
                    found = set()
                    common = searcher.doc_count() / 5
                    for cue in modality_phrases(value, (lg,)):
                        cue_terms = {tok.text for tok in analyzer(cue)} - stop
                        found |= {t for t in cue_terms if searcher.doc_frequency(fname, t) <= common} or cue_terms
                    found = cache[key] = frozenset(found)
                terms |= found
            queries.extend((fname, t) for t in sorted(terms))
        return queries

    def _stop_terms(self, snap: _Snapshot, fname: str) -> frozenset[str]:
        """Domain stop words of a text field: the cancer and tumour head words of every language
        ("cancer", "tumeur", "Krebs"...), which carry no signal once candidates share a concept
        and would make Whoosh score nearly every offer."""
        cached = snap.stop_terms.get(fname)
        if cached is None:
            heads = " ".join(h.text for entries in self.terminology.heads._phrases.values() for h in entries)
            extra = "malignant maligne maligno maligna bösartig neoplasm néoplasie tumor tumour treatment traitement"
            cached = frozenset(tok.text for tok in snap.analyzers[fname](f"{heads} {extra}"))
            snap.stop_terms[fname] = cached
        return cached

    # --- concepts --------------------------------------------------------------------------

    def concept_info(self, code: str, lang: str | None = None) -> dict | None:
        concept = self.terminology.concept(code)
        if concept is None:
            return None
        bb = self.terminology.backbone
        first = concept.icd10[0]
        return {
            "id": concept.id, "icd10": list(concept.icd10), "flags": sorted(concept.flags),
            "label": self.terminology.label(concept, lang),
            "labels": dict(sorted((concept.labels or bb.labels(first)).items())),
            "parents": bb.ancestors(first) if bb.exists(first) else [],
            "children": bb.children(first) if bb.exists(first) else [],
        }


def _warm_locales_in_background(snap: _Snapshot) -> None:
    """Load Babel's locale data for the reasons' language names (a first query in a new
    language would otherwise pay ~10 ms per locale) without making the engine wait."""
    codes = sorted({lg for doc in snap.docs if doc for lg in doc["languages"]}
                   | {lg for c in snap.centres.values() for lg in c["office_languages"]})

    def load() -> None:
        for reader in langid.SUPPORTED:
            for code in codes:
                explain.language_name(code, reader)

    threading.Thread(target=load, name="locale-warm-up", daemon=True).start()


@dataclass(frozen=True)
class _Scored:
    """Candidates one plan scored that no hard constraint excludes, as parallel arrays."""

    plan: ranking.Plan
    docnums: np.ndarray
    decisive: np.ndarray  # weighted sum of the decisive rules (ranking.Plan.decisive)
    text: np.ndarray      # BM25F
    how: np.ndarray       # pathology match, index into ranking.MATCHES

    def take(self, mask: np.ndarray) -> "_Scored":
        return _Scored(self.plan, self.docnums[mask], self.decisive[mask], self.text[mask], self.how[mask])

    def rows(self, snap: _Snapshot, mask: np.ndarray) -> list[tuple]:
        """Exact rows ``(-score, offer_id, docnum, text score, plan)`` of the offers in ``mask``,
        which compare on ``(-score, offer_id)``."""
        score, docs = self.plan.score, snap.docs
        return [(-score(dec, ts), docs[d]["offer_id"], d, ts, self.plan)
                for d, dec, ts in zip(self.docnums[mask].tolist(), self.decisive[mask].tolist(), self.text[mask].tolist())]


def _page(snap: _Snapshot, scored: list[_Scored], limit: int) -> tuple[list[tuple], list[list[tuple]]]:
    """One card per centre: the ``limit`` centres with the best offers, each as its best offer's
    row and up to five others' rows (:meth:`_Scored.rows`), all in ``(-score, offer_id)`` order.

    Only offers that can matter are scored exactly: the ``limit``-th best of the centres' best
    approximate scores is a bar that an offer's exact score misses by more than the rounding
    only if the approximate one does too."""
    centre = snap.features.centre
    approx = [part.plan.approx(part.decisive, part.text) for part in scored]
    everything = np.concatenate(approx)
    if not len(everything):
        return [], []
    centres = np.concatenate([centre[part.docnums] for part in scored])
    best = np.full(int(centres.max()) + 1, -np.inf)
    np.maximum.at(best, centres, everything)
    best = best[np.isfinite(best)]
    bar = -np.inf if len(best) <= limit else np.partition(best, len(best) - limit)[len(best) - limit] - ROUNDING
    rows = [r for part, a in zip(scored, approx) for r in part.rows(snap, a >= bar)]
    leaders: dict[int, tuple] = {}
    for r in rows:
        c = centre[r[2]]
        if c not in leaders or r < leaders[c]:
            leaders[c] = r
    shown = heapq.nsmallest(limit, leaders.values())
    slot = {int(centre[r[2]]): i for i, r in enumerate(shown)}
    wanted = np.array(list(slot), dtype=np.int64)
    folded: list[list[tuple]] = [[] for _ in shown]
    for part in scored:  # every offer of the shown centres, for the folded ones
        for r in part.rows(snap, np.isin(centre[part.docnums], wanted)):
            i = slot[int(centre[r[2]])]
            if r[2] != shown[i][2]:
                folded[i].append(r)
    return shown, [sorted(more)[:5] for more in folded]


def _title(doc: dict, lang: str) -> str:
    titles = doc["titles"]
    return titles.get(lang) or titles.get("en") or titles.get("fr") or next(iter(titles.values()))


def _concept_json(m: ConceptMatch, term: Terminology, lang: str) -> dict:
    return {"id": m.concept.id, "icd10": list(m.concept.icd10), "label": term.label(m.concept, lang),
            "matched": m.matched, "match": m.match, "score": m.score, "lang": m.lang,
            "span": list(m.span), "flags": sorted(m.concept.flags)}
