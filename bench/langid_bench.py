#!/usr/bin/env python3
"""Language identification on short patient queries: langdetect vs py3langid vs the pipeline.

Usage (from the project's root):
    .venv/bin/python bench/langid_bench.py [QUERIES.tsv] [--json]

QUERIES.tsv has the columns of ../shared/eval/dev_queries.tsv (``lang`` = gold, ``-`` = no
language: those rows are timed but not scored). Each contender runs in its own fresh process so
that its load time and resident memory are its own:

- ``langdetect-22``: langdetect with only the 22 supported languages' profiles, seeded;
- ``langdetect-22-unseeded``: the same without a seed (its "unstable" column is why the seed);
- ``py3langid-22``: py3langid's model restricted to the 22 languages, its raw answer;
- ``pipeline``: ``search.langid.identify`` (script rules, letter priors, py3langid), no lexicon;
- ``pipeline+cues``: the same with the languages of the intent cues the query holds as lexicon;
- ``pipeline+lexicon``: with the concept matcher's alias languages and the cue languages as
  lexicon, as the engine can call it (only when the terminology loads).

Accuracy is over the labelled rows and over the one-to-two-word Latin-script ones; "stable" counts
queries whose answer differs between two passes (should be 0). Times are per call, warm (a first
pass is not timed), for identification only (the lexicon is computed before the clock starts).
RSS is the process's resident memory after loading and running, and its growth from before the
load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TSV = ROOT.parent / "shared" / "eval" / "dev_queries.tsv"
CONTENDERS = ("langdetect-22", "langdetect-22-unseeded", "py3langid-22", "pipeline", "pipeline+cues", "pipeline+lexicon")
BUDGET_MS = 0.3


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def is_short_latin(text: str) -> bool:
    from search.textnorm import script_counts

    counts = script_counts(text)
    return len(text.split()) <= 2 and set(counts) == {"latin"}


def make_detector(name: str):
    """(function text -> code or None, lexicon function or None)"""
    sys.path.insert(0, str(ROOT))
    from search.locales import SUPPORTED

    if name.startswith("langdetect-22"):
        from search.langid import _LangDetect

        ld = _LangDetect()
        if name.endswith("unseeded"):
            ld.factory.set_seed(None)

        def detect(text, _lex=None):
            probs = ld.probabilities(text)
            return max(sorted(probs), key=probs.get) if probs else None
        return detect, None
    if name == "py3langid-22":
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        ident.set_languages(SUPPORTED)

        def detect(text, _lex=None):
            return ident.classify(text)[0]
        return detect, None

    from search.langid import identify, warm_up

    warm_up()
    lexicon = None
    if name in ("pipeline+cues", "pipeline+lexicon"):
        from search.intent import detect_intent_text

        def cue_langs(text):
            return detect_intent_text(text).languages()
        lexicon = cue_langs
    if name == "pipeline+lexicon":
        from search.intent import known_words
        from search.matcher import ConceptMatcher
        from search.terminology import default_terminology

        matcher = ConceptMatcher(default_terminology(), known_words=known_words())

        def both(text):
            out = dict(matcher.match(text).languages)
            for lang, w in cue_langs(text).items():
                out[lang] = out.get(lang, 0.0) + w
            return out
        lexicon = both

    def detect(text, lex=None):
        return identify(text, lexicon=lex).code
    return detect, lexicon


def worker(name: str, tsv: Path) -> dict:
    rows = read_rows(tsv)
    before = rss_mib()
    t0 = time.perf_counter()
    detect, lexicon = make_detector(name)
    lexicons = [lexicon(r["query"]) if lexicon else None for r in rows]
    load_s = time.perf_counter() - t0
    first = [detect(r["query"], lex) for r, lex in zip(rows, lexicons)]  # warm-up pass
    times, second = [], []
    for r, lex in zip(rows, lexicons):
        t = time.perf_counter_ns()
        code = detect(r["query"], lex)
        times.append((time.perf_counter_ns() - t) / 1e6)
        second.append(code)
    scored = [(r, c) for r, c in zip(rows, second) if r["lang"] != "-"]
    short = [(r, c) for r, c in scored if is_short_latin(r["query"])]
    times.sort()
    return {
        "name": name, "n": len(scored), "ok": sum(r["lang"] == c for r, c in scored),
        "short_n": len(short), "short_ok": sum(r["lang"] == c for r, c in short),
        "unstable": sum(a != b for a, b in zip(first, second)),
        "ms_median": statistics.median(times), "ms_p95": times[min(len(times) - 1, int(0.95 * len(times)))],
        "load_s": load_s, "rss_mib": rss_mib(), "rss_growth_mib": rss_mib() - before,
        "errors": [[r["lang"], c, r["query"]] for r, c in scored if r["lang"] != c],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tsv", nargs="?", default=str(DEFAULT_TSV))
    ap.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    ap.add_argument("--errors", action="store_true", help="list the pipeline's misses")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    tsv = Path(args.tsv)
    if args.worker:
        print(json.dumps(worker(args.worker, tsv), ensure_ascii=False))
        return 0
    if not tsv.is_file():
        print(f"no query file at {tsv}", file=sys.stderr)
        return 2
    results = []
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in CONTENDERS:
        proc = subprocess.run([sys.executable, __file__, str(tsv), "--worker", name],
                              capture_output=True, text=True, env=env, cwd=ROOT)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["failed"]
            print(f"{name}: skipped ({tail[0]})", file=sys.stderr)
            continue
        results.append(json.loads(proc.stdout))
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return 0
    print(f"queries: {tsv} ({results[0]['n'] if results else 0} labelled)\n")
    print(f"{'contender':23} {'acc':>6} {'1-2w Latin':>11} {'unstable':>8} {'ms med':>7} {'ms p95':>7} "
          f"{'load s':>7} {'RSS MiB':>8} {'+MiB':>6}")
    for r in results:
        print(f"{r['name']:23} {r['ok'] / r['n']:6.3f} {r['short_ok'] / r['short_n']:6.3f} ({r['short_n']:2d}) "
              f"{r['unstable']:8d} {r['ms_median']:7.3f} {r['ms_p95']:7.3f} {r['load_s']:7.2f} "
              f"{r['rss_mib']:8.1f} {r['rss_growth_mib']:6.1f}")
    pipe = next((r for r in results if r["name"] == "pipeline"), None)
    if pipe:
        verdict = "within" if pipe["ms_median"] <= BUDGET_MS else "OVER"
        print(f"\npipeline: {pipe['ok'] / pipe['n']:.3f} accuracy without lexicon, "
              f"{pipe['ms_median']:.3f} ms median per query ({verdict} the {BUDGET_MS} ms budget)")
    if args.errors:
        for r in results:
            if r["name"].startswith("pipeline"):
                print(f"\n{r['name']} misses (gold, guess, query):")
                for gold, guess, query in r["errors"]:
                    print(f"  {gold:3} {str(guess):5} {query}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
