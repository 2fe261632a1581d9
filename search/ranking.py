"""Ranking: named rules, each giving a score in [0, 1] and its evidence, combined by a published policy.

Policy (also in the README): the final score is the weighted mean of the rules that *ran* for this
request (a rule with nothing to judge, such as ``place`` when no place was asked for, is marked
skipped and left out of the mean). Weights are in :data:`WEIGHTS`; nothing else moves a result.
Ties break on ``(-score, offer_id)``. A child's request never gets adult-only care.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .icd10 import categories as _categories, range_width

GENERAL_RANGE_WIDTH = 15
# General offers ("all cancers") fill the page only when fewer centres than this have an offer
# for the pathology itself.
MIN_SPECIFIC_CENTRES = 3
WEIGHTS: dict[str, float] = {
    "pathology": 0.40, "service": 0.20, "language": 0.12, "age": 0.10,
    "expertise": 0.06, "place": 0.07, "text": 0.05,
}
# When the patient names a service ("second opinion", "video consultation"), that service comes
# first: its weight rises so that a matching service for a general offer outranks another service
# for the exact pathology.
EXPLICIT_SERVICE_WEIGHT = 0.45
# With no pathology recognised, the words themselves are the evidence: ``text`` takes the
# weight that ``pathology`` would have had.
TEXT_ONLY_WEIGHT = 0.40
RULE_ORDER = tuple(WEIGHTS)
REFERENCE_NETWORKS = frozenset({"EURACAN", "NETSARC", "PAEDCAN", "RENATEN", "EuroBloodNet", "ERN-EuroBloodNet",
                                "ERN GENTURIS", "GENTURIS", "ERN-EYE", "ERN EYE", "TENGpaC", "RARECAN",
                                "INCa rare cancers", "CARADERM", "ENDOCAN", "REFCOR", "TMRG", "Sarcoma",
                                "ERN PaedCan", "ERN EURACAN", "SIREDO"})
# How well an offer of one service answers a request for another (rows: asked; columns: offered).
SERVICE_FIT: dict[str, dict[str, float]] = {
    "treatment": {"treatment": 1.0, "clinical_trials": 0.6, "second_opinion": 0.5, "teleconsultation": 0.5,
                  "diagnostics": 0.4, "international_office": 0.3, "training": 0.0},
    "second_opinion": {"second_opinion": 1.0, "teleconsultation": 0.5, "diagnostics": 0.4, "treatment": 0.3,
                       "international_office": 0.3, "clinical_trials": 0.2, "training": 0.0},
    "teleconsultation": {"teleconsultation": 1.0, "second_opinion": 0.6, "international_office": 0.3,
                         "treatment": 0.2, "diagnostics": 0.2, "clinical_trials": 0.1, "training": 0.0},
    "training": {"training": 1.0},
    "clinical_trials": {"clinical_trials": 1.0, "treatment": 0.5, "second_opinion": 0.3, "teleconsultation": 0.2},
    "diagnostics": {"diagnostics": 1.0, "second_opinion": 0.6, "treatment": 0.3, "teleconsultation": 0.2},
    "international_office": {"international_office": 1.0, "treatment": 0.3},
}


@dataclass(frozen=True)
class Request:
    """What the ranking needs to know of a query (from the understanding step)."""

    concepts: Sequence  # ConceptMatch, best first
    lang: str | None
    service: str | None
    age_group: str | None
    place: str | None           # a city slug
    place_region: str = ""      # that city's region, where a centre of the corpus stands in it
    rare: bool = False          # a recognised concept is a rare or paediatric cancer
    text_max: float = 0.0       # best BM25F score among candidates, to scale ``text``


class Verdict(NamedTuple):
    """One rule's judgment (a named tuple: thousands are made per query)."""

    rule: str
    score: float | None     # None: the rule had nothing to judge (skipped)
    evidence: dict


@lru_cache(maxsize=65536)
def categories(code: str) -> frozenset[str]:
    return frozenset(_categories(code))


@lru_cache(maxsize=65536)
def _is_general(code: str) -> bool:
    return "-" in code and range_width(code) > GENERAL_RANGE_WIDTH


@lru_cache(maxsize=65536)
def _offer_codes(codes: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str], frozenset[str], bool]:
    """(specific codes, their categories, categories of general ranges, any subcategory)."""
    specific = tuple(c for c in codes if not _is_general(c))
    cats = frozenset().union(*(categories(c) for c in specific))
    general = frozenset().union(*(categories(c) for c in codes if _is_general(c)))
    return specific, cats, general, any("." in c for c in specific)


def pathology(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    """Exact concept (1.0) > parent or child concept (0.8) > general offer (0.3) > text only (0.2,
    for offers that name no pathology). An offer coded for other pathologies scores 0."""
    if not req.concepts:
        return Verdict("pathology", None, {})
    codes = doc.get("_codes") or tuple(doc["icd10"])
    return _pathology(tuple(m.concept for m in req.concepts), codes, text_score > 0 and not codes)


@lru_cache(maxsize=65536)
def _pathology(concepts: tuple, codes: tuple[str, ...], words_only: bool) -> Verdict:
    """The pathology verdict for the concepts asked and an offer's codes (many offers share them)."""
    best = Verdict("pathology", 0.0, {})
    offer_codes, offer_cats, general_cats, offer_sub = _offer_codes(codes)
    for rank, concept in enumerate(concepts):
        weight = 1.0 if rank == 0 else 0.9  # the first-named pathology leads
        concept_cats = concept.categories
        shared = offer_cats & concept_cats
        if shared:
            # same codes as written, or both at category level: exact; a subcategory on one side
            # only (C22.0 asked, C22 offered, or the reverse): parent or child
            concept_sub = any("." in c for c in concept.icd10)
            exact = bool(set(concept.icd10) & set(offer_codes)) or not (offer_sub or concept_sub)
            score, how = (1.0, "exact") if exact else (0.8, "related")
            # a team dedicated to this pathology before one that covers thirty others
            score -= 0.1 * min(1.0, max(0, len(offer_cats) - 3) / 30)
        elif concept_cats & general_cats:
            score, how = 0.3, "general"
        elif words_only:
            # an offer with no pathology of its own (an international office) whose words match
            score, how = 0.2, "text"
        else:
            score, how = 0.0, "none"
        score *= weight
        if score > (best.score or 0):
            best = Verdict("pathology", round(score, 4), {"match": how, "concept": concept.id,
                                                          "codes": sorted(shared) or list(codes)})
    return best


def service(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    asked = req.service or "treatment"
    fit = SERVICE_FIT.get(asked, {}).get(doc["service"], 0.0)
    return Verdict("service", fit, {"asked": asked, "offered": doc["service"], "explicit": req.service is not None})


def language(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    """The service speaks the patient's language (1.0) > its office does (0.8) > English/French (0.4)."""
    if not req.lang:
        return Verdict("language", None, {})
    if req.lang in doc["languages"]:
        return Verdict("language", 1.0, {"match": "service", "language": req.lang})
    if req.lang in centre["office_languages"]:
        return Verdict("language", 0.8, {"match": "office", "language": req.lang})
    common = [lg for lg in ("en", "fr") if lg in doc["languages"]]
    if common:
        return Verdict("language", 0.4, {"match": "fallback", "languages": common})
    return Verdict("language", 0.0, {"match": "none"})


def age(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    groups = doc["age_groups"]
    if req.age_group == "pediatric":
        return Verdict("age", 1.0 if "pediatric" in groups else 0.0, {"asked": "pediatric", "groups": groups})
    if "adult" in groups:
        return Verdict("age", 1.0, {"asked": req.age_group or "adult", "groups": groups})
    return Verdict("age", 0.2, {"asked": req.age_group or "adult", "groups": groups})


def expertise(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    """Reference-network membership counts for rare and paediatric cancers only."""
    if not req.rare:
        return Verdict("expertise", None, {})
    nets = sorted(n for n in doc["networks"] if n in REFERENCE_NETWORKS or n.upper() in REFERENCE_NETWORKS)
    return Verdict("expertise", 1.0 if nets else 0.0, {"networks": nets})


def place(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    """The requested city (1.0), another city of the same region (0.6: Villejuif for Paris)."""
    if not req.place:
        return Verdict("place", None, {})
    if centre.get("city_slug") == req.place:
        return Verdict("place", 1.0, {"asked": req.place, "city": centre["city"], "match": "city"})
    if req.place_region and centre.get("region") == req.place_region:
        return Verdict("place", 0.6, {"asked": req.place, "city": centre["city"], "match": "region"})
    return Verdict("place", 0.0, {"asked": req.place, "city": centre["city"]})


def text(req: Request, doc: dict, centre: dict, text_score: float) -> Verdict:
    if req.text_max <= 0:
        return Verdict("text", None, {})
    return Verdict("text", round(min(1.0, text_score / req.text_max), 4), {"bm25f": round(text_score, 4)})


RULES = (pathology, service, language, age, expertise, place, text)
DECISIVE = RULES[:-1]  # all but text, which needs the candidates' BM25F scores


def _runs(req: Request) -> dict[str, bool]:
    """Which rules have something to judge for this request (the others are skipped)."""
    return {"pathology": bool(req.concepts), "service": True, "language": req.lang is not None, "age": True,
            "expertise": req.rare, "place": req.place is not None, "text": req.text_max > 0}


def _excluded(req: Request, v: Verdict, doc: dict) -> bool:
    """The hard constraints, each read from one rule's verdict: when a pathology was recognised an
    offer must cover it (or be a general offer that does); adult-only care is not offered for a
    child; training only when asked."""
    if v.rule == "pathology":
        return bool(req.concepts) and not v.score
    if v.rule == "age":
        return req.age_group == "pediatric" and "pediatric" not in doc["age_groups"]
    if v.rule == "service":
        return doc["service"] == "training" and req.service != "training"
    return False


def allowed(req: Request, doc: dict, verdicts: list[Verdict]) -> bool:
    """Whether no hard constraint (:func:`_excluded`) rules the offer out."""
    return not any(_excluded(req, v, doc) for v in verdicts)


def judge(req: Request, doc: dict, centre: dict, text_score: float) -> tuple[float, list[Verdict]]:
    """All rules in order; the final score is the weighted mean of those that ran."""
    verdicts = [rule(req, doc, centre, text_score) for rule in RULES]
    weights = weights_for(req)
    total_w = acc = 0.0
    for v in verdicts:  # the same additions, in the same order, as Plan's
        if v.score is not None:
            total_w += weights[v.rule]
            acc += weights[v.rule] * v.score
    return (round(acc / total_w, 4) if total_w else 0.0), verdicts


# What each decisive rule reads of an offer and its centre. Offers equal on a rule's key get the
# same verdict from it for any request, so a query judges each distinct key once (Plan).
READS: dict[str, Callable[[dict, dict], object]] = {
    "pathology": lambda doc, centre: doc.get("_codes") or tuple(doc["icd10"]),
    "service": lambda doc, centre: doc["service"],
    "language": lambda doc, centre: (tuple(doc["languages"]), tuple(centre["office_languages"])),
    "age": lambda doc, centre: tuple(doc["age_groups"]),
    "expertise": lambda doc, centre: tuple(doc["networks"]),
    "place": lambda doc, centre: (centre.get("city_slug"), centre.get("region", ""), centre["city"]),
}


# What each decisive rule reads of the request: its verdicts for a snapshot's offers are kept per
# value of this key and shared by every request with the same one (Features.table).
REQUEST_KEYS: dict[str, Callable[[Request], object]] = {
    "pathology": lambda req: tuple(m.concept for m in req.concepts),
    "service": lambda req: req.service,
    "language": lambda req: req.lang,
    "age": lambda req: req.age_group,
    "expertise": lambda req: req.rare,
    "place": lambda req: (req.place, req.place_region),
}
MATCHES = ("", "none", "text", "general", "related", "exact")  # pathology matches, as small codes
MAX_TABLES = 512  # verdict tables kept per snapshot (Features.table)


class Table(NamedTuple):
    """One rule's verdicts for one request key, per id of that rule (see Features)."""

    known: np.ndarray     # bool: judged yet
    score: np.ndarray     # float64
    excluded: np.ndarray  # bool: a hard constraint rules the offer out
    match: np.ndarray     # int8: pathology match, index into MATCHES


class Features:
    """Per offer of a snapshot, a small integer per decisive rule naming what that rule reads of
    it (:data:`READS`), plus its centre; built once when a snapshot is
    opened. ``docs[i] is None`` (a deleted document) is never a candidate (``alive``)."""

    def __init__(self, docs: Sequence[dict | None], centres: dict[str, dict]) -> None:
        self.docs = docs
        self.centres = centres
        interned: list[dict] = [{} for _ in DECISIVE]
        self.reps: list[list[int]] = [[] for _ in DECISIVE]  # a document of each id, to judge it
        columns: list[list[int]] = [[] for _ in DECISIVE]
        centre_numbers: dict[str, int] = {}
        centre: list[int] = []
        for d, doc in enumerate(docs):
            if doc is None:
                for column in columns:
                    column.append(0)
                centre.append(-1)
                continue
            c = centres[doc["centre_id"]]
            for i, rule in enumerate(DECISIVE):
                key = READS[rule.__name__](doc, c)
                fid = interned[i].get(key)
                if fid is None:
                    fid = interned[i][key] = len(self.reps[i])
                    self.reps[i].append(d)
                columns[i].append(fid)
            centre.append(centre_numbers.setdefault(doc["centre_id"], len(centre_numbers)))
        self.columns = [np.array(column, dtype=np.int64) for column in columns]
        self.centre = np.array(centre, dtype=np.int64)
        self.alive = self.centre >= 0
        self.no_codes = np.array([doc is not None and not (doc.get("_codes") or doc["icd10"]) for doc in docs],
                                 dtype=bool)
        self._tables: OrderedDict[tuple, Table] = OrderedDict()
        self._lock = threading.Lock()

    def table(self, i: int, key: object) -> Table:
        """The verdict table of decisive rule ``i`` for a request key (:data:`REQUEST_KEYS`),
        filled as candidates need it; the pathology rule's has two slots per id (without and
        with ``words_only``)."""
        with self._lock:
            got = self._tables.get((i, key))
            if got is not None:
                self._tables.move_to_end((i, key))
                return got
            size = len(self.reps[i]) * (2 if DECISIVE[i] is pathology else 1)
            got = self._tables[(i, key)] = Table(np.zeros(size, dtype=bool), np.zeros(size, dtype=np.float64),
                                                 np.zeros(size, dtype=bool), np.zeros(size, dtype=np.int8))
            if len(self._tables) > MAX_TABLES:
                self._tables.popitem(last=False)
            return got


class Plan:
    """One request's ranking over a snapshot's offers, for candidate sets of thousands: each
    decisive rule judges each distinct id among the candidates once (:class:`Features`) and the
    offers get their values by array look-up. The additions are :func:`judge`'s, in its order,
    so :meth:`score` (Python's rounding) equals the score :func:`judge` gives; :meth:`approx`
    is the same sum before rounding, for choosing which offers to score exactly."""

    def __init__(self, req: Request, features: Features) -> None:
        self.req = req
        self.features = features
        weights = weights_for(req)
        runs = _runs(req)
        self._rules = [(i, rule, weights[rule.__name__]) for i, rule in enumerate(DECISIVE) if runs[rule.__name__]]
        self.total = 0.0
        for rule in RULES:  # as judge adds them
            if runs[rule.__name__]:
                self.total += weights[rule.__name__]
        self.text_weight = weights["text"] if runs["text"] else 0.0

    def decisive(self, docnums: np.ndarray, words_only: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For candidate documents: the weighted sum of the decisive rules (not yet divided by the
        total weight), whether no hard constraint excludes them, and their pathology match (an
        index into :data:`MATCHES`). ``words_only``: the offer names no pathology and its words
        matched (see :func:`pathology`)."""
        f = self.features
        acc = np.zeros(len(docnums), dtype=np.float64)
        ok = f.alive[docnums]
        how = np.zeros(len(docnums), dtype=np.int64)
        for i, rule, weight in self._rules:
            ids = f.columns[i][docnums]
            if rule is pathology:
                ids = ids * 2 + words_only
            table = f.table(i, REQUEST_KEYS[rule.__name__](self.req))
            missing = np.zeros(len(table.known), dtype=bool)
            missing[ids] = True
            missing &= ~table.known
            keys = np.flatnonzero(missing).tolist()
            if keys:  # each id is judged once per request key, through the rule itself
                judged = []
                for key in keys:
                    doc = f.docs[f.reps[i][key >> 1 if rule is pathology else key]]
                    v = rule(self.req, doc, f.centres[doc["centre_id"]], float(rule is pathology and key & 1))
                    judged.append((v.score, _excluded(self.req, v, doc),
                                   MATCHES.index(v.evidence.get("match", "")) if rule is pathology else 0))
                score, excluded, match = zip(*judged)
                table.score[keys] = score
                table.excluded[keys] = excluded
                table.match[keys] = match
                table.known[keys] = True
            acc += weight * table.score[ids]
            ok &= ~table.excluded[ids]
            if rule is pathology:
                how = table.match[ids]
        return acc, ok, how

    def approx(self, decisive: np.ndarray, text_scores: np.ndarray) -> np.ndarray:
        """Final scores before Python's rounding (within 1e-4 of :meth:`score`)."""
        if self.text_weight:
            decisive = decisive + self.text_weight * np.minimum(1.0, text_scores / self.req.text_max)
        return decisive / self.total if self.total else np.zeros(len(decisive))

    def score(self, decisive: float, text_score: float) -> float:
        """The final score of an offer from its decisive sum and its BM25F score."""
        if self.text_weight:
            decisive += self.text_weight * round(min(1.0, text_score / self.req.text_max), 4)
        return round(decisive / self.total, 4) if self.total else 0.0


def weights_for(req: Request) -> dict[str, float]:
    weights = dict(WEIGHTS)
    if req.service is not None:
        weights["service"] = EXPLICIT_SERVICE_WEIGHT
    if not req.concepts:
        weights["text"] = TEXT_ONLY_WEIGHT
    return weights
