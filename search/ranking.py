"""Ranking: named rules, each giving a score in [0, 1] and its evidence, combined by a published policy.

Policy (also in the README): the final score is the weighted mean of the rules that *ran* for this
request (a rule with nothing to judge, such as ``place`` when no place was asked for, is marked
skipped and left out of the mean). Weights are in :data:`WEIGHTS`; nothing else moves a result.
Ties break on ``(-score, offer_id)``. A child's request never gets adult-only care.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

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


def judge(req: Request, doc: dict, centre: dict, text_score: float) -> tuple[float, list[Verdict]]:
    """All rules in order; the final score is the weighted mean of those that ran."""
    verdicts = [rule(req, doc, centre, text_score) for rule in RULES]
    ran = [v for v in verdicts if v.score is not None]
    weights = weights_for(req)
    total_w = sum(weights[v.rule] for v in ran)
    score = sum(weights[v.rule] * v.score for v in ran) / total_w if total_w else 0.0
    return round(score, 4), verdicts


DECISIVE = (pathology, service, language, age, expertise, place)  # all but text: cheap


def bounds(req: Request) -> "Callable[[dict, dict], tuple[float, float] | None]":
    """For pruning large candidate sets safely: a function giving an offer's lowest and highest
    possible final score from the decisive rules alone (the others counted at 0 and at 1), or
    None when a hard constraint already excludes it. Exact top-k results are kept."""
    weights = weights_for(req)
    runs = {"language": req.lang is not None, "expertise": req.rare, "place": req.place is not None,
            "text": req.text_max > 0, "pathology": bool(req.concepts), "service": True, "age": True}
    total = sum(w for rule, w in weights.items() if runs[rule])
    rest = (weights["text"] if runs["text"] else 0.0) / total
    decisive = [(rule, weights[rule.__name__] / total) for rule in DECISIVE if runs[rule.__name__]]

    def bound(doc: dict, centre: dict) -> tuple[float, float] | None:
        if req.age_group == "pediatric" and "pediatric" not in doc["age_groups"]:
            return None
        if doc["service"] == "training" and req.service != "training":
            return None
        low = 0.0
        for rule, w in decisive:
            v = rule(req, doc, centre, 0.0)
            if rule is pathology and not v.score and not (doc["_codes"] == () and req.text_max > 0):
                return None
            low += w * (v.score or 0.0)
        return low, low + rest

    return bound


def weights_for(req: Request) -> dict[str, float]:
    weights = dict(WEIGHTS)
    if req.service is not None:
        weights["service"] = EXPLICIT_SERVICE_WEIGHT
    if not req.concepts:
        weights["text"] = TEXT_ONLY_WEIGHT
    return weights


def allowed(req: Request, doc: dict, verdicts: list[Verdict]) -> bool:
    """Hard constraints: adult-only care is not offered for a child; training only when asked;
    when a pathology was recognised, an offer must cover it (or be a general offer that does)."""
    if req.concepts and not verdicts[0].score:
        return False
    if req.age_group == "pediatric" and "pediatric" not in doc["age_groups"]:
        return False
    if doc["service"] == "training" and req.service != "training":
        return False
    return True
