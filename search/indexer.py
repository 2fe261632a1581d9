"""Build a Whoosh index of care offers into a fresh snapshot and swap it in atomically.

Contract: ``build_index(corpus_paths, index_path)`` validates the whole corpus first (a bad
record raises :class:`CorpusError` before anything is written), writes the new snapshot in a
temporary directory next to the live one, writes ``manifest.json`` last (with a digest of every
file), renames the directory into place and then switches the ``index_path`` symbolic link to
it with one ``rename``. A build that fails or is killed at any point leaves the previous snapshot
serving; leftovers of a dead build are removed by the next one.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from whoosh import fields, index as whoosh_index
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length

from . import __version__
from .corpus import SCHEMA_VERSION, Corpus, Offer, load_corpus
from .errors import CarematchError, IndexCorrupt, IndexMissing
from .icd10 import Backbone, categories, range_width
from . import langid
from .analysis import analyzer_for, describe as describe_analysis, index_terms
from .bm25 import length_bytes

MANIFEST = "manifest.json"
INDEX_FORMAT = 1
KEEP_SNAPSHOTS = 2
GENERAL_RANGE_WIDTH = 15  # a range wider than this is a "general" offer, not a pathology


@dataclass(frozen=True)
class BuildReport:
    path: Path
    snapshot: Path
    centres: int
    offers: int
    seconds: float
    digest: str


def offer_codes(offer: Offer, backbone: Backbone) -> list[str]:
    """The terms an offer is found by in the ``codes`` field: each code as written, the
    3-character categories it covers, their subcategories' parents and their ancestors (block,
    chapter), so that a query for a subtype reaches the parent's offers and the reverse."""
    out: list[str] = []
    for code in offer.icd10:
        out.append(code)
        if "-" in code and range_width(code) > GENERAL_RANGE_WIDTH:
            out.append("general")
            continue
        cats = categories(code)
        out.extend(sorted(cats))
        if "-" not in code and backbone.exists(code):
            out.extend(backbone.ancestors(code))
        for cat in cats:
            if backbone.exists(cat):
                out.extend(backbone.ancestors(cat))
    seen: set[str] = set()
    return [c for c in out if not (c in seen or seen.add(c))]


def text_languages(corpus: Corpus) -> list[str]:
    return sorted({lang for o in corpus.offers for lang in o.text})


class TermListText(fields.TEXT):
    """Whoosh's TEXT field, which counts a list of already analysed terms (what the indexer gives
    it: :func:`~search.analysis.index_terms`) with one Counter instead of a token object and
    three generators per word; the same postings (term, frequency, weight, frequency bytes, in
    first-occurrence order). Text is analysed as TEXT does, and queries use ``analyzer``."""

    def index(self, value, **kwargs):
        if not isinstance(value, list) or kwargs:
            yield from super().index(value, **kwargs)
            return
        boost = self.format.field_boost
        for term, freq in Counter(value).items():
            yield term.encode("utf-8"), freq, float(freq) * boost, pack_uint(freq)


def make_schema(langs: Iterable[str]) -> fields.Schema:
    # Only the fields the engine looks up are indexed (codes, service, age); the rest of an offer is
    # in ``doc``. They are "scorable" so that Whoosh keeps their lengths in a column: without one,
    # its writer looks for the missing column file on disk for every posting (a stat() each,
    # about a tenth of the build).
    schema = fields.Schema(
        offer_id=fields.STORED,
        centre_id=fields.STORED,
        service=fields.KEYWORD(scorable=True),
        codes=fields.KEYWORD(lowercase=False, commas=False, scorable=True),
        age=fields.KEYWORD(scorable=True),
        doc=fields.STORED,
    )
    for lang in langs:
        schema.add(f"text_{lang}", TermListText(analyzer=analyzer_for(lang), phrase=False))
    return schema


def _doc_data(offer: Offer, corpus: Corpus) -> dict:
    centre = corpus.centres[offer.centre_id]
    return {
        "offer_id": offer.id, "centre_id": centre.id, "service": offer.service,
        "icd10": list(offer.icd10), "age_groups": list(offer.age_groups),
        "languages": list(offer.languages), "delivery": offer.delivery,
        "turnaround_days": offer.turnaround_days,
        "networks": sorted(set(offer.networks) | set(centre.networks)),
        "url": offer.url or centre.website,
        "titles": {lang: t["title"] for lang, t in offer.text.items()},
    }


def _centre_data(corpus: Corpus) -> dict:
    return {c.id: {"id": c.id, "name": c.name, "city": c.city, "region": c.region, "country": c.country,
                   "kind": c.kind, "website": c.website, "networks": list(c.networks),
                   "office_languages": list(c.office_languages)}
            for c in corpus.centres.values()}


def slug(text: str) -> str:
    from .textnorm import fold_tokens
    return "-".join(fold_tokens(text))


def _digest_files(root: Path) -> dict[str, dict]:
    out = {}
    for p in sorted(root.iterdir()):
        if p.name == MANIFEST or not p.is_file():
            continue
        h = hashlib.sha256()
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        out[p.name] = {"size": p.stat().st_size, "sha256": h.hexdigest()}
    return out


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _clean_leftovers(parent: Path, name: str) -> None:
    """Remove temporary directories of builds that died, and snapshots beyond the newest kept."""
    for tmp in list(parent.glob(f".{name}.tmp-*")) + list(parent.glob(f".{name}.link-*")):
        try:
            pid = int(tmp.name.rsplit("-", 1)[-1] if ".link-" in tmp.name else tmp.name.rsplit("-", 2)[-2])
            os.kill(pid, 0)
            continue  # that build is still running
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            pass
        if tmp.is_symlink() or tmp.is_file():
            tmp.unlink(missing_ok=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    live = os.readlink(parent / name) if (parent / name).is_symlink() else None
    snaps = sorted((p for p in parent.glob(f"{name}.*") if p.is_dir() and not p.is_symlink()),
                   key=lambda p: p.name, reverse=True)
    for old in snaps[KEEP_SNAPSHOTS:]:
        if old.name != live:
            shutil.rmtree(old, ignore_errors=True)


def build_index(corpus_paths: Iterable[str | Path], index_path: str | Path,
                progress: Callable[[int, int], None] | None = None) -> BuildReport:
    """Validate the corpus, build a new snapshot and switch ``index_path`` to it atomically."""
    t0 = time.perf_counter()
    backbone = Backbone.load()
    corpus = load_corpus(list(corpus_paths), backbone)  # raises CorpusError before any write
    index_path = Path(index_path)
    parent, name = index_path.parent, index_path.name
    parent.mkdir(parents=True, exist_ok=True)
    if index_path.exists() and not index_path.is_symlink():
        raise CarematchError(f"{index_path} is a directory, not a snapshot link; move it away and build again")
    _clean_leftovers(parent, name)

    from .terminology import default_terminology
    terminology = default_terminology()
    langs = text_languages(corpus)
    tmp = parent / f".{name}.tmp-{os.getpid()}-{int(time.time() * 1000)}"
    tmp.mkdir()
    try:
        ix = whoosh_index.create_in(str(tmp), make_schema(langs))
        writer = ix.writer(limitmb=256, procs=1)
        _lengths_from_memory(writer)
        total = len(corpus.offers)
        for n, offer in enumerate(sorted(corpus.offers, key=lambda o: o.id), 1):
            centre = corpus.centres[offer.centre_id]
            doc = {
                "offer_id": offer.id, "centre_id": centre.id, "service": offer.service,
                "codes": " ".join(offer_codes(offer, backbone)), "age": " ".join(offer.age_groups),
                "doc": json.dumps(_doc_data(offer, corpus), ensure_ascii=False),
            }
            for lang, text in offer.text.items():  # analysed here, with each word's term kept
                doc[f"text_{lang}"] = index_terms(f"{text['title']}\n{text['description']}\n{centre.name}", lang)
            writer.add_document(**doc)
            if progress:
                progress(n, total)
        writer.commit()
        terminology.save(tmp / "terminology.pickle")
        langid.save_short_model(tmp / "langid.pickle")
        (tmp / "centres.json").write_text(json.dumps(_centre_data(corpus), ensure_ascii=False, sort_keys=True),
                                          encoding="utf-8")
        files = _digest_files(tmp)
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        services = Counter(o.service for o in corpus.offers)
        manifest = {
            "format": INDEX_FORMAT, "schema_version": SCHEMA_VERSION, "carematch": __version__,
            "digest": digest, "corpus_digest": corpus.digest, "terminology_digest": terminology.digest,
            "counts": {"centres": len(corpus.centres), "offers": len(corpus.offers),
                       "services": dict(sorted(services.items()))},
            "text_languages": langs, "analysis": describe_analysis(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - t0, 3), "files": files,
        }
        with (tmp / MANIFEST).open("w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        snapshot = parent / f"{name}.{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{digest[:8]}-{os.getpid()}"
        os.rename(tmp, snapshot)
        link_tmp = parent / f".{name}.link-{os.getpid()}"
        if link_tmp.is_symlink() or link_tmp.exists():
            link_tmp.unlink()
        os.symlink(snapshot.name, link_tmp)
        os.replace(link_tmp, index_path)  # the atomic switch
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _clean_leftovers(parent, name)
    return BuildReport(index_path, snapshot, len(corpus.centres), len(corpus.offers),
                       time.perf_counter() - t0, digest)


class _Lengths:
    """Whoosh's per-document reader of the segment being written, whose field lengths the writer
    asks for at every posting it writes (a seek and a read in the length column each: about a
    tenth of a build); the same values, each field's column read once."""

    def __init__(self, reader) -> None:
        self._reader = reader
        self._fields: dict[str, list | None] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0):
        if fieldname not in self._fields:
            raw = length_bytes(self._reader, fieldname)
            # as whoosh.codec.whoosh3's doc_field_length: the length of a non-zero byte, else None
            self._fields[fieldname] = None if raw is None else [byte_to_length(b) if b else None for b in raw.tolist()]
        lengths = self._fields[fieldname]
        if lengths is None or docnum >= len(lengths):
            return self._reader.doc_field_length(docnum, fieldname, default)
        return lengths[docnum]

    def __getattr__(self, name: str):
        return getattr(self._reader, name)


def _lengths_from_memory(writer) -> None:
    """Have ``writer`` (a Whoosh SegmentWriter) read field lengths through :class:`_Lengths` when
    it writes the postings at commit; left as it is if this Whoosh has no such hook."""
    original = getattr(writer, "per_document_reader", None)
    if original is not None:
        writer.per_document_reader = lambda: _Lengths(original())


def resolve_snapshot(index_path: str | Path) -> Path:
    """The snapshot directory ``index_path`` points at now (a snapshot path is accepted too)."""
    p = Path(index_path)
    if p.is_symlink():
        target = p.parent / os.readlink(p)
        if not target.is_dir():
            raise IndexCorrupt(f"{p} points at {target}, which does not exist; rebuild with `carematch index`")
        return target
    if p.is_dir() and (p / MANIFEST).exists():
        return p
    if p.is_dir():
        raise IndexCorrupt(f"{p} has no {MANIFEST}: an incomplete build? rebuild with `carematch index`")
    raise IndexMissing(f"no index at {p}: build it with `carematch index` (or `make index`)")


def read_manifest(snapshot: Path, verify: bool = True) -> dict:
    """Read a snapshot's manifest and, with ``verify``, check every file's size and digest."""
    try:
        manifest = json.loads((snapshot / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise IndexCorrupt(f"{snapshot}: {MANIFEST} is missing; rebuild with `carematch index`") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise IndexCorrupt(f"{snapshot}/{MANIFEST}: unreadable ({e}); rebuild with `carematch index`") from e
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexCorrupt(f"{snapshot}: index format {manifest.get('format')!r} is not {INDEX_FORMAT}; rebuild")
    if verify:
        expected = manifest.get("files") or {}
        if hashlib.sha256(json.dumps(expected, sort_keys=True).encode()).hexdigest() != manifest.get("digest"):
            raise IndexCorrupt(f"{snapshot}/{MANIFEST}: its file list does not match its digest; rebuild")
        actual = _digest_files(snapshot)
        for fname, meta in sorted(expected.items()):
            got = actual.get(fname)
            if got is None:
                raise IndexCorrupt(f"{snapshot}: file {fname} is missing; rebuild with `carematch index`")
            if got["size"] != meta["size"]:
                raise IndexCorrupt(f"{snapshot}: file {fname} has {got['size']} bytes, expected {meta['size']} "
                                   "(truncated?); rebuild with `carematch index`")
            if got["sha256"] != meta["sha256"]:
                raise IndexCorrupt(f"{snapshot}: file {fname} is corrupted (digest mismatch); rebuild")
    return manifest
