"""The ``carematch`` command line: a thin shell over :class:`search.engine.Engine`.

Exit status: 0 on success, 1 on errors (bad corpus, missing index...), 2 on usage errors.
Every command's ``--help`` has an example.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .errors import CarematchError, CorpusError, UsageError
from .paths import DEFAULT_CORPUS, DEFAULT_INDEX



# Characters that str.splitlines() and some readers take for line breaks although JSON does not:
# escaped so that one object is always one line.
# (json.dumps already escapes the C0 controls.)
# Lone surrogates (possible in a decoded JSON string) cannot be written as UTF-8: escaped too.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029",
                              **{cp: f"\\u{cp:04x}" for cp in range(0xD800, 0xE000)}})


def json_line(obj) -> str:
    """One JSON object on exactly one line (UTF-8 kept readable)."""
    return json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKS)


def _engine(args):
    from .engine import Engine
    return Engine.open(args.index)


def _progress(label: str):
    """A progress callback drawing on a terminal, or nothing when output is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def draw(n: int, total: int) -> None:
        if n == total or n % 50 == 0:
            width = 30
            done = int(width * n / max(total, 1))
            sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (width - done)}] {n}/{total}")
            if n == total:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return draw


# --- commands ------------------------------------------------------------------------------

def cmd_index(args) -> int:
    """Build the Whoosh index from the corpus, atomically.

    Example: carematch index corpus/centres --index indexes/default
    """
    from .indexer import build_index
    paths = args.corpus or [DEFAULT_CORPUS]
    report = build_index(paths, args.index, progress=_progress("indexing"))
    print(f"indexed {report.offers} offers of {report.centres} centres into {report.snapshot.name} "
          f"in {report.seconds:.2f} s ({report.offers / max(report.seconds, 1e-9):.0f} offers/s); "
          f"digest {report.digest[:12]}; {args.index} now points at it")
    return 0


def cmd_corpus_check(args) -> int:
    """Validate corpus files; print every problem as file:line: field: message (hint).

    Example: carematch corpus check corpus/centres
    """
    from .corpus import check_corpus
    corpus, problems = check_corpus(args.paths or [DEFAULT_CORPUS])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(corpus.centres)} centres, {len(corpus.offers)} offers in {len(corpus.files)} files")
    return 0


def _print_text(out: dict) -> None:
    lang = out["language"]
    print(f"query: {out['query']}")
    print(f"language: {lang['code'] or '?'} ({lang['source']}, {lang['confidence']:.2f})")
    for c in out["concepts"]:
        print(f"concept: {c['id']} {c['label']} [{c['match']} \"{c['matched']}\" {c['score']:.2f}]")
    intent = out["intent"]
    print("intent: " + ", ".join(f"{k}={v}" for k, v in intent.items() if v))
    if not out["results"]:
        print("no results")
    for i, r in enumerate(out["results"], 1):
        c = r["centre"]
        print(f"{i:2d}. {c['name']}, {c['city']}  [{r['score']:.3f}]  {r['service']}")
        print(f"    {r['title']}")
        for w in r["why"]:
            print(f"    - {w['text']}")
        if r["more"]:
            print(f"    (+{len(r['more'])} more offers of this centre)")
    print(f"took {out['took_ms']:.2f} ms")


def _batch_line(line: str) -> tuple[str, dict]:
    """A batch line is a query, or a JSON object {"q": ..., "lang": ..., ...}."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError:
            return line.rstrip("\n"), {}
        if isinstance(obj, dict) and isinstance(obj.get("q"), str):
            opts = {k: obj[k] for k in ("lang", "country", "service", "age_group", "limit") if obj.get(k) is not None}
            return obj["q"], opts
    return line.rstrip("\r\n"), {}


def cmd_search(args) -> int:
    """Search care offers for a patient's words, in any language.

    Examples:
      carematch search "cáncer de mama segunda opinión"
      carematch search "乳腺癌" --format json
      carematch search --batch queries.txt --format jsonl   (one query per line; - for stdin)
    """
    if args.batch is None and not args.query:
        raise UsageError("give a QUERY or --batch FILE")
    engine = _engine(args)
    opts = {"lang": args.lang, "country": args.country, "service": args.service,
            "age_group": args.age_group, "limit": args.limit}
    if args.batch is not None:
        try:
            stream = sys.stdin.buffer if args.batch == "-" else open(args.batch, "rb")
        except OSError as e:
            raise CarematchError(f"--batch {args.batch}: cannot read ({e.strerror or e})") from e
        failures = 0
        with stream:
            # bytes, split on \n only: one output line per input line, whatever the line holds
            for lineno, raw in enumerate(stream, 1):
                try:
                    query, own = _batch_line(raw.decode("utf-8").removesuffix("\n").removesuffix("\r"))
                    out = engine.search(query, **{**opts, **own})
                except UnicodeDecodeError as e:
                    failures += 1
                    out = {"query": None, "error": {"code": "bad_encoding", "line": lineno,
                                                    "message": f"line {lineno}: not valid UTF-8 (byte {e.start + 1})"}}
                except CarematchError as e:
                    failures += 1
                    out = {"query": query, "error": {"code": e.code, "message": e.message, "line": lineno}}
                sys.stdout.write(json_line(out) + "\n")
                sys.stdout.flush()
        return 1 if failures and args.strict else 0
    out = engine.search(" ".join(args.query), **opts)
    if args.format == "text":
        _print_text(out)
    else:
        print(json_line(out) if args.format == "jsonl" else json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def cmd_terminology_lookup(args) -> int:
    """Show which concepts the matcher finds in a text, with their evidence.

    Example: carematch terminology lookup "Bauchspeicheldrüsenkrebs Zweitmeinung"
    """
    from .matcher import ConceptMatcher
    from .terminology import default_terminology
    term = default_terminology()
    result = ConceptMatcher(term).match(" ".join(args.text))
    out = [{"id": m.concept.id, "icd10": list(m.concept.icd10), "label": term.label(m.concept, args.lang or m.lang),
            "matched": m.matched, "alias": m.alias, "lang": m.lang, "match": m.match,
            "span": list(m.span), "score": m.score} for m in result.matches]
    if args.format == "json":
        print(json.dumps({"concepts": out, "languages": result.languages}, ensure_ascii=False, indent=2))
    else:
        if not out:
            print("no concept found")
        for c in out:
            print(f"{c['id']:<14} {c['label']}  <- \"{c['matched']}\" ({c['match']}, alias \"{c['alias']}\" "
                  f"[{c['lang'] or '-'}], span {c['span'][0]}-{c['span'][1]}, score {c['score']:.2f})")
    return 0


def cmd_terminology_show(args) -> int:
    """Labels per language, parents and children of a concept or ICD-10 code.

    Example: carematch terminology show C50
    """
    from .icd10 import normalize_code
    from .terminology import default_terminology
    term = default_terminology()
    code = args.code if args.code in term.concepts else (normalize_code(args.code) or args.code)
    concept = term.concept(code)
    if concept is None:
        print(f"unknown concept or ICD-10 code {args.code!r}", file=sys.stderr)
        return 1
    bb = term.backbone
    first = concept.icd10[0].split("-")[0]
    info = {"id": concept.id, "icd10": list(concept.icd10), "flags": sorted(concept.flags),
            "labels": dict(sorted(concept.labels.items())) or bb.labels(first),
            "official": bb.labels(first) if bb.exists(first) else {},
            "parents": bb.ancestors(first) if bb.exists(first) else [],
            "children": bb.children(first) if bb.exists(first) else []}
    if args.format == "json":
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"{info['id']}  icd10: {', '.join(info['icd10'])}  flags: {', '.join(info['flags']) or '-'}")
    for lang, label in info["labels"].items():
        print(f"  {lang}: {label}")
    print(f"parents: {' > '.join(info['parents']) or '-'}")
    print(f"children: {', '.join(info['children']) or '-'}")
    return 0


def cmd_serve(args) -> int:
    """Start the HTTP API and the patient web page.

    Example: carematch serve --host 127.0.0.1 --port 8000 --workers 2
    """
    from .server import run
    return run(host=args.host, port=args.port, workers=args.workers, index=args.index,
               log_queries=args.log_queries) or 0


def cmd_triage(args) -> int:
    """Route a whole inbox of patient requests (JSONL, CSV, a directory of .eml, or mbox).

    Example: carematch triage inbox.jsonl --out routed.jsonl --csv routed.csv --report report.html
    """
    from .triage import run_cli
    return run_cli(args)


# --- parser --------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors exit 2 with the usage line, as click does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _doc(func) -> dict:
    lines = (func.__doc__ or "").strip().splitlines()
    return {"help": lines[0] if lines else "", "description": "\n".join(lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="carematch", description="Multilingual matching of foreign patients to French care offers.")
    p.add_argument("--version", action="version", version=f"carematch {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("index", **_doc(cmd_index))
    s.add_argument("corpus", nargs="*", help="corpus files or directories (default: corpus/centres)")
    s.add_argument("--index", default=str(DEFAULT_INDEX), help="index link to build (default: %(default)s)")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("corpus", help="corpus tools")
    csub = s.add_subparsers(dest="corpus_command", required=True, parser_class=_Parser)
    c = csub.add_parser("check", **_doc(cmd_corpus_check))
    c.add_argument("paths", nargs="*", help="files or directories (default: corpus/centres)")
    c.set_defaults(func=cmd_corpus_check)

    s = sub.add_parser("search", **_doc(cmd_search))
    s.add_argument("query", nargs="*", help="the patient's words")
    s.add_argument("--batch", metavar="FILE", help="one query per line ('-' for standard input)")
    s.add_argument("--lang", help="the patient's language, if known (e.g. es, pt-BR)")
    s.add_argument("--country", help="the patient's country (ISO code or name)")
    s.add_argument("--service", help="treatment, second_opinion, teleconsultation, training, diagnostics, clinical_trials")
    s.add_argument("--age-group", choices=("adult", "pediatric"))
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--format", choices=("text", "json", "jsonl"), default=None)
    s.add_argument("--strict", action="store_true", help="with --batch: exit 1 if any line failed")
    s.add_argument("--index", default=str(DEFAULT_INDEX))
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("terminology", help="the multilingual ICD-10 terminology")
    tsub = s.add_subparsers(dest="terminology_command", required=True, parser_class=_Parser)
    t = tsub.add_parser("lookup", **_doc(cmd_terminology_lookup))
    t.add_argument("text", nargs="+")
    t.add_argument("--lang", help="language for labels")
    t.add_argument("--format", choices=("text", "json"), default="text")
    t.set_defaults(func=cmd_terminology_lookup)
    t = tsub.add_parser("show", **_doc(cmd_terminology_show))
    t.add_argument("code")
    t.add_argument("--format", choices=("text", "json"), default="text")
    t.set_defaults(func=cmd_terminology_show)

    s = sub.add_parser("serve", **_doc(cmd_serve))
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--index", default=str(DEFAULT_INDEX))
    s.add_argument("--log-queries", action="store_true",
                   help="operator opt-in: write query text to the logs (off by default: health data)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("triage", **_doc(cmd_triage))
    s.add_argument("input", help="requests: .jsonl, .csv, a directory of .eml files, or an mbox file")
    s.add_argument("--out", required=True, help="routed requests, JSON Lines")
    s.add_argument("--csv", help="also write a CSV")
    s.add_argument("--report", help="also write a self-contained HTML report")
    s.add_argument("--index", default=str(DEFAULT_INDEX))
    s.set_defaults(func=cmd_triage)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "command", None) == "search" and args.format is None:
        args.format = "jsonl" if args.batch is not None else "text"
    if getattr(args, "command", None) == "search" and args.batch is not None and args.format != "jsonl":
        parser.error("--batch writes JSON Lines: use --format jsonl")
    try:
        return args.func(args)
    except UsageError as e:
        print(f"carematch: error: {e.message}", file=sys.stderr)
        return 2
    except CorpusError as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        print(f"carematch: {len(e.problems)} problem(s) in the corpus; nothing was indexed", file=sys.stderr)
        return 1
    except CarematchError as e:
        print(f"carematch: error: {e.message}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except OSError as e:  # disk full, read-only directory, missing file: say what, no traceback
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"carematch: error: {e.strerror or e}{where}; nothing was changed", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
