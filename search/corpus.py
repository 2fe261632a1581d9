"""Care-offer corpus: read centres and offers from TOML or JSON Lines and validate them.

Contract: ``load_corpus(paths)`` returns a :class:`Corpus` or raises :class:`CorpusError`
listing *every* problem as ``file:line: field: message (hint)``; nothing half-valid is ever
returned. The schema is documented in ``corpus/README.md`` and ``corpus/schema.json``.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from .errors import CorpusError, Problem

SCHEMA_VERSION = 1
SERVICES = ("treatment", "second_opinion", "teleconsultation", "training", "diagnostics",
            "clinical_trials", "international_office")
AGE_GROUPS = ("adult", "pediatric")
KINDS = ("cancer_centre", "university_hospital", "private_hospital", "general_hospital",
         "diagnostics", "training_institute")
DELIVERY = ("on_site", "remote", "on_site_and_remote")
REQUIRED_TEXT_LANGS = ("fr", "en")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TEXT_CHARS = 5000

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ICD10_CODE = re.compile(r"^[A-Z][0-9]{2}(?:\.[0-9]{1,2})?$")
ICD10_RANGE = re.compile(r"^([A-Z][0-9]{2}(?:\.[0-9]{1,2})?)-([A-Z][0-9]{2}(?:\.[0-9]{1,2})?)$")
COUNTRY = re.compile(r"^[A-Z]{2}$")

CENTRE_FIELDS = {"id": str, "name": str, "city": str, "region": str, "country": str, "kind": str,
                 "networks": list, "website": str, "office_languages": list}
CENTRE_REQUIRED = ("id", "name", "city", "country", "kind", "website", "office_languages")
OFFER_FIELDS = {"id": str, "service": str, "icd10": list, "age_groups": list, "languages": list,
                "delivery": str, "turnaround_days": int, "networks": list, "url": str, "text": dict,
                "centre": str, "type": str}
OFFER_REQUIRED = ("id", "service", "icd10", "age_groups", "languages", "delivery", "text")


@dataclass(frozen=True)
class Centre:
    id: str
    name: str
    city: str
    country: str
    kind: str
    website: str
    office_languages: tuple[str, ...]
    region: str = ""
    networks: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Offer:
    id: str
    centre_id: str
    service: str
    icd10: tuple[str, ...]
    age_groups: tuple[str, ...]
    languages: tuple[str, ...]
    delivery: str
    text: dict[str, dict[str, str]]  # lang -> {"title", "description"}
    turnaround_days: int | None = None
    networks: tuple[str, ...] = ()
    url: str = ""
    source: str = ""

    def title(self, lang: str) -> str:
        return (self.text.get(lang) or self.text.get("en") or self.text["fr"])["title"]


@dataclass
class Corpus:
    centres: dict[str, Centre] = field(default_factory=dict)
    offers: list[Offer] = field(default_factory=list)
    digest: str = ""
    files: list[str] = field(default_factory=list)


# --- reading files -------------------------------------------------------------------------

def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their ``*.toml`` and ``*.jsonl`` files, in a stable order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in (".toml", ".jsonl") and f.is_file()))
        else:
            out.append(p)
    return out


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as e:
        problems.append(Problem(str(path), 0, "", f"cannot read file: {e.strerror or e}"))
        return None
    if len(data) > MAX_FILE_BYTES:
        problems.append(Problem(str(path), 0, "", f"file is larger than {MAX_FILE_BYTES // 2**20} MiB"))
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        problems.append(Problem(str(path), line, "", f"not valid UTF-8 (byte 0x{data[e.start]:02x})",
                                "save the file as UTF-8"))
        return None
    if not text.strip():
        problems.append(Problem(str(path), 0, "", "file is empty"))
        return None
    return text.removeprefix("\ufeff")


class _TomlLines:
    """Where keys stand in a TOML file: tomllib gives values, not line numbers.

    Records the line of each ``[[offer]]`` header and of each ``key =`` inside it, so that a
    problem in the third offer's ``service`` points at that line.
    """

    HEADER = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(?:#.*)?$")
    KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, int], dict[str, int]] = {("", 0): {}}
        counts: dict[str, int] = {}
        table, sub = ("", 0), ""
        for no, line in enumerate(text.split("\n"), 1):  # JSON and TOML break lines on \n only
            m = self.HEADER.match(line)
            if m:
                name = m.group(2).replace('"', "").replace(" ", "")
                top, _, sub = name.partition(".")
                if m.group(1):  # [[array]] starts a new element
                    counts[top] = counts.get(top, -1) + 1
                table = (top, max(counts.get(top, 0), 0))
                entry = self.tables.setdefault(table, {"": no})
                if sub:
                    entry.setdefault(sub, no)
                continue
            k = self.KEY.match(line)
            if k:
                entry = self.tables.setdefault(table, {"": no})
                entry.setdefault(f"{sub}.{k.group(1)}" if sub else k.group(1), no)

    def line(self, table: str, index: int, key: str = "") -> int:
        tab = self.tables.get((table, index)) or {}
        while key:
            if key in tab:
                return tab[key]
            key = key.rpartition(".")[0]
        return tab.get("", 0)


def _records(path: Path, problems: list[Problem]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """Yield ``(kind, record, locate)`` where ``locate(field) -> line``."""
    text = _read_text(path, problems)
    if text is None:
        return
    if path.suffix == ".toml":
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"line (\d+)", str(e))
            problems.append(Problem(str(path), int(m.group(1)) if m else 0, "", f"broken TOML: {e}"))
            return
        lines = _TomlLines(text)
        schema = doc.get("schema")
        if schema != SCHEMA_VERSION:
            problems.append(Problem(str(path), lines.line("", 0, "schema"), "schema",
                                    f"schema version {schema!r} is not supported",
                                    f"write schema = {SCHEMA_VERSION} at the top"))
            return
        unknown = set(doc) - {"schema", "centre", "offer"}
        for key in sorted(unknown):
            problems.append(Problem(str(path), lines.line("", 0, key) or lines.line(key, 0), key, "unknown table or key",
                                    "a centre file holds [centre] and [[offer]] tables"))
        centre = doc.get("centre")
        if not isinstance(centre, dict):
            problems.append(Problem(str(path), 1, "centre", "missing [centre] table"))
            return
        yield "centre", centre, lambda f, _l=lines: _l.line("centre", 0, f)
        offers = doc.get("offer", [])
        if not isinstance(offers, list):
            problems.append(Problem(str(path), lines.line("offer", 0), "offer", "must be [[offer]] tables"))
            return
        for i, offer in enumerate(offers):
            if not isinstance(offer, dict):
                problems.append(Problem(str(path), lines.line("offer", i), "offer", "must be a table"))
                continue
            offer = dict(offer)
            offer.setdefault("centre", centre.get("id"))
            yield "offer", offer, lambda f, _l=lines, _i=i: _l.line("offer", _i, f)
    elif path.suffix == ".jsonl":
        for no, line in enumerate(text.split("\n"), 1):  # JSON and TOML break lines on \n only
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(Problem(str(path), no, "", f"broken JSON: {e.msg} (column {e.colno})"))
                continue
            if not isinstance(rec, dict):
                problems.append(Problem(str(path), no, "", "each line must be a JSON object"))
                continue
            kind = rec.get("type")
            if kind not in ("centre", "offer"):
                problems.append(Problem(str(path), no, "type", f"must be \"centre\" or \"offer\", got {kind!r}"))
                continue
            yield kind, rec, lambda f, _no=no: _no
    else:
        problems.append(Problem(str(path), 0, "", f"unsupported file type {path.suffix!r}",
                                "use .toml (one centre per file) or .jsonl"))


# --- validation ----------------------------------------------------------------------------

def _hint(value: object, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "one of: " + ", ".join(choices)


def _is_language(code: object) -> bool:
    return isinstance(code, str) and _known_language(code)


@lru_cache(maxsize=1024)
def _known_language(code: str) -> bool:
    # Babel answers with a stat() of its data file: seven per offer without the cache
    from babel import localedata
    return re.fullmatch(r"[a-z]{2}", code) is not None and localedata.exists(code)


class _Validator:
    def __init__(self, path: Path, locate, problems: list[Problem]) -> None:
        self.path, self.locate, self.problems = str(path), locate, problems

    def bad(self, fieldname: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.path, self.locate(fieldname), fieldname, message, hint))

    def fields(self, rec: dict[str, Any], spec: dict[str, type], required: tuple[str, ...], what: str) -> bool:
        ok = True
        for key in required:
            if key not in rec:
                self.bad(key, f"missing required field of {what}")
                ok = False
        for key, value in rec.items():
            if key not in spec:
                self.bad(key, f"unknown field of {what}", _hint(key, spec))
                ok = False
                continue
            want = spec[key]
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                self.bad(key, f"must be {want.__name__}, got {type(value).__name__}")
                ok = False
        return ok

    def nonempty(self, rec: dict[str, Any], key: str) -> None:
        if isinstance(rec.get(key), str) and not rec[key].strip():
            self.bad(key, "must not be empty")

    def str_list(self, rec: dict[str, Any], key: str, choices: tuple[str, ...] | None = None,
                 languages: bool = False, nonempty: bool = False) -> None:
        values = rec.get(key)
        if not isinstance(values, list):
            return
        if nonempty and not values:
            self.bad(key, "must not be empty")
        seen = set()
        for v in values:
            if not isinstance(v, str):
                self.bad(key, f"items must be strings, got {type(v).__name__}")
                continue
            if choices is not None and v not in choices:
                self.bad(key, f"unknown value {v!r}", _hint(v, choices))
            elif languages and not _is_language(v):
                self.bad(key, f"unknown language {v!r}", "use an ISO 639-1 code such as 'fr', 'ar', 'zh'")
            elif v in seen:
                self.bad(key, f"duplicate value {v!r}")
            seen.add(v)


def _icd10_problem(code: str, backbone) -> tuple[str, str] | None:
    """Why ``code`` is not a valid ICD-10 code or range, or None when it is."""
    m = ICD10_RANGE.match(code)
    ends = [m.group(1), m.group(2)] if m else [code]
    if not m and not ICD10_CODE.match(code):
        return f"invalid ICD-10 code {code!r}", "write a WHO ICD-10 code such as 'C50', 'C50.9' or a range 'C40-C41'"
    if m and (m.group(1)[0], float(m.group(1)[1:])) > (m.group(2)[0], float(m.group(2)[1:])):
        return f"invalid ICD-10 range {code!r}: start is after end", "write the lower code first"
    if backbone is not None:
        for end in ends:
            if not backbone.exists(end):
                return f"unknown ICD-10 code {end!r}", "not in the WHO ICD-10 backbone (corpus/terminology/icd10.tsv)"
    return None


def _default_backbone():
    try:
        from .icd10 import Backbone
        return Backbone.load()
    except (ImportError, FileNotFoundError, OSError):  # backbone not built yet: syntax checks only
        return None


def check_corpus(paths: Iterable[str | Path], backbone=None) -> tuple[Corpus, list[Problem]]:
    """Read and validate every record; return what was read and every problem found."""
    problems: list[Problem] = []
    files = corpus_files(paths)
    if not files:
        problems.append(Problem(", ".join(map(str, paths)) or ".", 0, "", "no .toml or .jsonl corpus files found"))
    backbone = backbone if backbone is not None else _default_backbone()
    corpus = Corpus(files=[str(f) for f in files])
    digest = hashlib.sha256()
    centre_where: dict[str, str] = {}
    offer_where: dict[str, str] = {}
    pending_offers: list[tuple[dict[str, Any], _Validator]] = []
    for path in files:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            pass
        for kind, rec, locate in _records(path, problems):
            v = _Validator(path, locate, problems)
            if kind == "centre":
                centre = _centre(rec, v)
                if centre is None:
                    continue
                where = f"{path}:{locate('id')}"
                if centre.id in centre_where:
                    v.bad("id", f"duplicate centre id {centre.id!r}", f"first defined at {centre_where[centre.id]}")
                    continue
                centre_where[centre.id] = where
                corpus.centres[centre.id] = centre
            else:
                pending_offers.append((rec, v))
    for rec, v in pending_offers:
        offer = _offer(rec, v, corpus.centres, backbone)
        if offer is None:
            continue
        where = f"{v.path}:{v.locate('id')}"
        if offer.id in offer_where:
            v.bad("id", f"duplicate offer id {offer.id!r}", f"first defined at {offer_where[offer.id]}")
            continue
        offer_where[offer.id] = where
        corpus.offers.append(offer)
    corpus.digest = digest.hexdigest()
    return corpus, problems


def load_corpus(paths: Iterable[str | Path], backbone=None) -> Corpus:
    """Read and validate; raise :class:`CorpusError` with every problem if anything is wrong."""
    corpus, problems = check_corpus(list(paths), backbone)
    if problems:
        raise CorpusError(problems)
    return corpus


def _centre(rec: dict[str, Any], v: _Validator) -> Centre | None:
    rec = {k: val for k, val in rec.items() if k != "type"}
    n = len(v.problems)
    v.fields(rec, CENTRE_FIELDS, CENTRE_REQUIRED, "a centre")
    for key in ("id", "name", "city", "website"):
        v.nonempty(rec, key)
    if isinstance(rec.get("id"), str) and rec["id"] and not SLUG.match(rec["id"]):
        v.bad("id", f"{rec['id']!r} is not a lowercase slug", "use letters, digits and '-' only")
    if isinstance(rec.get("country"), str) and not COUNTRY.match(rec["country"]):
        v.bad("country", f"{rec['country']!r} is not an ISO 3166-1 alpha-2 code", "e.g. 'FR'")
    if isinstance(rec.get("kind"), str) and rec["kind"] not in KINDS:
        v.bad("kind", f"unknown kind {rec['kind']!r}", _hint(rec["kind"], KINDS))
    if isinstance(rec.get("website"), str) and rec["website"] and not rec["website"].startswith("https://"):
        v.bad("website", "must be a public https:// URL")
    v.str_list(rec, "office_languages", languages=True, nonempty=True)
    v.str_list(rec, "networks")
    if len(v.problems) > n:
        return None
    return Centre(id=rec["id"], name=rec["name"], city=rec["city"], country=rec["country"],
                  kind=rec["kind"], website=rec["website"],
                  office_languages=tuple(rec["office_languages"]), region=rec.get("region", ""),
                  networks=tuple(rec.get("networks", ())), source=v.path)


def _offer(rec: dict[str, Any], v: _Validator, centres: dict[str, Centre], backbone) -> Offer | None:
    n = len(v.problems)
    v.fields(rec, OFFER_FIELDS, OFFER_REQUIRED, "an offer")
    v.nonempty(rec, "id")
    oid, centre_id = rec.get("id"), rec.get("centre")
    if isinstance(oid, str) and oid and not SLUG.match(oid):
        v.bad("id", f"{oid!r} is not a lowercase slug", "use letters, digits and '-' only")
    if not isinstance(centre_id, str) or centre_id not in centres:
        v.bad("centre", f"unknown centre {centre_id!r}", _hint(centre_id, centres) if centres else "define the centre first")
    elif isinstance(oid, str) and not oid.startswith(centre_id + "-"):
        v.bad("id", f"offer id {oid!r} does not start with its centre id", f"e.g. '{centre_id}-...'")
    if isinstance(rec.get("service"), str) and rec["service"] not in SERVICES:
        v.bad("service", f"unknown service {rec['service']!r}", _hint(rec["service"], SERVICES))
    if isinstance(rec.get("delivery"), str) and rec["delivery"] not in DELIVERY:
        v.bad("delivery", f"unknown delivery {rec['delivery']!r}", _hint(rec["delivery"], DELIVERY))
    v.str_list(rec, "age_groups", choices=AGE_GROUPS, nonempty=True)
    v.str_list(rec, "languages", languages=True, nonempty=True)
    v.str_list(rec, "networks")
    v.str_list(rec, "icd10")
    for code in rec.get("icd10") if isinstance(rec.get("icd10"), list) else []:
        if isinstance(code, str):
            why = _icd10_problem(code, backbone)
            if why:
                v.bad("icd10", *why)
    if isinstance(rec.get("turnaround_days"), int) and not 0 < rec["turnaround_days"] <= 365:
        v.bad("turnaround_days", "must be between 1 and 365")
    if isinstance(rec.get("url"), str) and not rec["url"].startswith("https://"):
        v.bad("url", "must be a public https:// URL")
    text = rec.get("text")
    if isinstance(text, dict):
        for lang in REQUIRED_TEXT_LANGS:
            if lang not in text:
                v.bad(f"text.{lang}", "missing required text", "every offer has a French and an English title and description")
        for lang, body in text.items():
            key = f"text.{lang}"
            if not _is_language(lang):
                v.bad(key, f"unknown language {lang!r}", "use an ISO 639-1 code")
                continue
            if not isinstance(body, dict):
                v.bad(key, "must be a table with title and description")
                continue
            for part in ("title", "description"):
                value = body.get(part)
                if not isinstance(value, str) or not value.strip():
                    v.bad(f"{key}.{part}", "missing or empty")
                elif len(value) > MAX_TEXT_CHARS:
                    v.bad(f"{key}.{part}", f"longer than {MAX_TEXT_CHARS} characters")
            for extra in set(body) - {"title", "description"}:
                v.bad(f"{key}.{extra}", "unknown field of a text", "a text has title and description")
    if len(v.problems) > n:
        return None
    return Offer(id=oid, centre_id=centre_id, service=rec["service"], icd10=tuple(rec["icd10"]),
                 age_groups=tuple(rec["age_groups"]), languages=tuple(rec["languages"]),
                 delivery=rec["delivery"],
                 text={lang: {"title": b["title"].strip(), "description": b["description"].strip()}
                       for lang, b in text.items()},
                 turnaround_days=rec.get("turnaround_days"), networks=tuple(rec.get("networks", ())),
                 url=rec.get("url", ""), source=v.path)
