"""Index build figures: offers per second and index size, for the engine and the plain-BM25 baseline.

Contract: ``prepare(name, corpus_paths, work_dir)`` builds the engine index (``search.indexer.
build_index``) and the ``bench.baseline.PlainBM25`` index of the same offers, each in its own fresh
process and the two side by side (one per core of this 2-core machine), and returns their paths
and figures: seconds, offers/s, bytes on disk, peak resident memory of the build. ``synthetic(n,
seed, cache_root)`` does the same for a generated corpus and keeps the result in ``cache_root``
keyed by everything the build depends on (size, seed, generator, terminology, the engine's
source files, baseline source, Whoosh and Python versions); a later run with the same key reuses the indexes
and reports the figures measured when they were built (``cached: true``, with that date). The cache
saves what dominates a run: building 10,000 and 100,000 offers.

``python -m bench.build_bench --offers 1000`` prints the figures of one size.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_ROOT = ROOT / "bench" / "results" / "tmp"
TERMINOLOGY = ROOT / "corpus" / "terminology"


def dir_bytes(path: str | Path) -> int:
    """Bytes of the files under ``path`` (a symbolic link to a snapshot is followed)."""
    p = Path(path)
    if p.is_symlink():
        p = p.parent / os.readlink(p)
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _modules_used() -> dict[str, str]:
    """The engine's source files this process has loaded, with their digests: what a build ran."""
    out = {}
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and Path(f).suffix == ".py":
            p = Path(f).resolve()
            if (ROOT / "search") in p.parents:
                out[str(p.relative_to(ROOT))] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return dict(sorted(out.items()))


def build_engine(corpus_paths: list[str | Path], index_path: str | Path) -> dict:
    """Build the engine index in this process and time it (validation included, as `carematch index`)."""
    sys.path.insert(0, str(ROOT))
    from search.indexer import build_index

    t0 = time.perf_counter()
    report = build_index(list(corpus_paths), index_path)
    seconds = time.perf_counter() - t0
    return {"what": "engine", "offers": report.offers, "centres": report.centres, "seconds": round(seconds, 3),
            "offers_per_s": round(report.offers / seconds, 1), "bytes": dir_bytes(index_path),
            "peak_rss_mib": round(_peak_mib(), 1), "path": str(index_path), "modules": _modules_used()}


def build_baseline(corpus_paths: list[str | Path], directory: str | Path) -> dict:
    """Build the PlainBM25 baseline in this process and time it (corpus reading included)."""
    sys.path.insert(0, str(ROOT))
    from bench.baseline import PlainBM25

    t0 = time.perf_counter()
    bm25 = PlainBM25.build(list(corpus_paths), directory)
    seconds = time.perf_counter() - t0
    offers = bm25.info.get("offers", 0)
    bm25.close()
    return {"what": "baseline", "offers": offers, "seconds": round(seconds, 3),
            "offers_per_s": round(offers / seconds, 1) if seconds else None, "bytes": dir_bytes(directory),
            "peak_rss_mib": round(_peak_mib(), 1), "path": str(directory), "modules": _modules_used()}


def _spawn(what: str, corpus_paths: list[str | Path], target: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.build_bench", "--worker", what, "--target", str(target),
           "--json", str(out), *map(str, corpus_paths)]
    return subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def prepare(name: str, corpus_paths: list[str | Path], work_dir: str | Path, parallel: bool = True,
            timeout: float = 1800) -> dict:
    """Build both indexes of ``corpus_paths`` under ``work_dir``; their figures and paths."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    engine_path, baseline_path = work / "engine" / "default", work / "baseline"
    shutil.rmtree(baseline_path, ignore_errors=True)
    jobs = [("engine", engine_path), ("baseline", baseline_path)]
    results: dict[str, dict] = {}
    procs = []
    t0 = time.perf_counter()
    for what, target in jobs:
        out = work / f"build-{what}.json"
        out.unlink(missing_ok=True)
        p = _spawn(what, corpus_paths, target, out)
        procs.append((what, p, out))
        if not parallel:
            p.wait(timeout=timeout)
    for what, p, out in procs:
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError(f"{name}: {what} build took longer than {timeout:.0f} s")
        if p.returncode != 0 or not out.exists():
            raise RuntimeError(f"{name}: {what} build failed (exit {p.returncode}): {err.strip()[-800:]}")
        results[what] = json.loads(out.read_text(encoding="utf-8"))
    return {"name": name, "engine": results["engine"], "baseline": results["baseline"],
            "parallel": parallel, "wall_s": round(time.perf_counter() - t0, 3),
            "index": str(engine_path), "baseline_dir": str(baseline_path), "cached": False}


def _hash_files(h, paths) -> None:
    for p in paths:
        p = Path(p)
        h.update(str(p.relative_to(ROOT) if p.is_absolute() and ROOT in p.parents else p).encode() + b"\0")
        try:
            h.update(p.read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")


def cache_key(n: int, seed: int) -> str:
    """What a synthetic corpus and its two indexes are made from, apart from the engine's code:
    size, seed, generator, baseline, ICD-10 backbone, concepts and lexicon, bundled corpus, Whoosh
    and Python."""
    import whoosh

    h = hashlib.sha256(f"n={n} seed={seed} whoosh={whoosh.versionstring()} py={sys.version_info[:2]}".encode())
    _hash_files(h, [ROOT / "bench" / "synthetic.py", ROOT / "bench" / "baseline.py"])
    # the backbone and the curated concepts and lexicon (not cues.tsv: intent is query-time only)
    _hash_files(h, [TERMINOLOGY / "icd10.tsv"] + sorted(TERMINOLOGY.glob("concepts/*.tsv"))
                + sorted(TERMINOLOGY.glob("lexicon/*.tsv")))
    _hash_files(h, sorted((ROOT / "corpus" / "centres").glob("*.toml")))  # the generator's weights
    return h.hexdigest()[:16]


def _modules_unchanged(modules: dict[str, str]) -> bool:
    """Whether every engine source file a cached build ran is still as it was."""
    if not modules:
        return False
    for rel, digest in modules.items():
        p = ROOT / rel
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest()[:16] != digest:
            return False
    return True


def cached(n: int, seed: int = 1, cache_root: str | Path = CACHE_ROOT) -> dict | None:
    """The cached build of ``n`` offers if it is still valid, else None."""
    stamp = Path(cache_root) / f"synthetic-{n}-s{seed}" / "cache.json"
    try:
        saved = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("key") != cache_key(n, seed):
        return None
    if not (_modules_unchanged(saved["engine"].get("modules", {}))
            and _modules_unchanged(saved["baseline"].get("modules", {}))):
        return None
    if not (Path(saved.get("index", "")).exists() and Path(saved.get("baseline_dir", "")).exists()):
        return None
    saved["cached"] = True
    return saved


def synthetic(n: int, seed: int = 1, cache_root: str | Path = CACHE_ROOT, use_cache: bool = True,
              parallel: bool = True) -> dict:
    """Generate ``n`` offers and build both indexes, or reuse them from the cache."""
    from bench.synthetic import write_corpus

    if use_cache:
        hit = cached(n, seed, cache_root)
        if hit is not None:
            return hit
    work = Path(cache_root) / f"synthetic-{n}-s{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    files = write_corpus(n, seed, work / "corpus")
    gen_s = time.perf_counter() - t0
    result = prepare(f"synthetic-{n}", [work / "corpus"], work, parallel=parallel)
    result.update({"key": cache_key(n, seed), "offers": n, "seed": seed, "generate_s": round(gen_s, 3),
                   "corpus_bytes": sum(f.stat().st_size for f in files),
                   "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    (work / "cache.json").write_text(json.dumps(result, indent=1), encoding="utf-8")  # last: a complete build
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Index build figures (engine and plain BM25). "
                                             "Example: python -m bench.build_bench --offers 1000")
    ap.add_argument("corpus", nargs="*", help="corpus files or directories (with --worker)")
    ap.add_argument("--offers", type=int, help="generate this many synthetic offers and build them")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-cache", action="store_true", help="rebuild even when a cached build matches")
    ap.add_argument("--worker", choices=("engine", "baseline"), help=argparse.SUPPRESS)
    ap.add_argument("--target", help=argparse.SUPPRESS)
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args(argv)
    if args.worker:
        fn = build_engine if args.worker == "engine" else build_baseline
        res = fn(args.corpus, args.target)
    elif args.offers:
        res = synthetic(args.offers, args.seed, use_cache=not args.no_cache)
    else:
        res = prepare("corpus", args.corpus or [ROOT / "corpus" / "centres"], CACHE_ROOT / "corpus")
    text = json.dumps(res, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
