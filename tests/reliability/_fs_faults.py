"""Disk full and read-only index directory, for real: run inside a private mount namespace
(``unshare --user --map-root-user --mount``, or ``unshare --mount`` as root) by
``test_index_faults.py``, never on its own.

    python _fs_faults.py WORKDIR GOOD_CORPUS OTHER_CORPUS

mounts a small tmpfs on WORKDIR/fs (gone with the namespace), builds an index there, then tries
builds with the disk full (several amounts of free space, so that the write fails at different
steps: the first through the real CLI in a subprocess, the others in this process) and with the
file system remounted read-only (the CLI);
after each failure it checks that the previous snapshot is intact and serving. It prints one JSON
object per step on stdout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TMPFS_BYTES = 320 * 2**20
FREE_LEVELS = (0, 48 * 1024, 1 * 2**20, 40 * 2**20)  # snapshot: ~9 MiB terminology, ~70 MiB langid


def say(**step) -> None:
    print(json.dumps(step, ensure_ascii=False), flush=True)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int) -> Path:
    """Write a filler file so that about ``leave`` bytes stay free."""
    filler = path / "filler.bin"
    block = b"\0" * (1 << 20)
    with filler.open("wb") as f:
        while (room := free_bytes(path) - leave) > 0:
            try:
                f.write(block[: min(room, len(block))])
                f.flush()
            except OSError:
                break
    return filler


def cli_build(corpus: Path, index: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "search", "index", str(corpus), "--index", str(index)],
                          capture_output=True, timeout=180, text=True)
    return {"rc": proc.returncode, "stderr": proc.stderr[-3000:], "stdout": proc.stdout[-500:], "via": "cli"}


def library_build(corpus: Path, index: Path) -> dict:
    """The same build in this process (no interpreter start-up): OSError is what a full or
    read-only disk gives."""
    from search.indexer import build_index
    try:
        build_index([corpus], index)
    except OSError as e:
        return {"rc": 1, "stderr": f"{type(e).__name__}: {e}", "stdout": "", "via": "library"}
    return {"rc": 0, "stderr": "", "stdout": "", "via": "library"}


def state(index: Path, engine) -> dict:
    """What serves now: the link's target, its verified manifest, a fresh engine's and the
    running engine's answers, and leftovers of failed builds."""
    from search import Engine
    from search.indexer import read_manifest, resolve_snapshot
    out: dict = {"link": os.readlink(index)}
    try:
        out["manifest_digest"] = read_manifest(resolve_snapshot(index), verify=True)["digest"]
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        out["manifest_error"] = f"{type(e).__name__}: {e}"
    try:
        fresh = Engine.open(index).search("cancer du sein", limit=3)
        out["fresh_digest"], out["fresh_results"] = fresh["index"]["digest"], len(fresh["results"])
    except Exception as e:  # noqa: BLE001
        out["fresh_error"] = f"{type(e).__name__}: {e}"
    try:
        running = engine.search("sarcome deuxième avis", limit=3)
        out["running_digest"], out["running_results"] = running["index"]["digest"], len(running["results"])
    except Exception as e:  # noqa: BLE001
        out["running_error"] = f"{type(e).__name__}: {e}"
    parent = index.parent
    out["leftovers"] = sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{index.name}.tmp-"))
    return out


def main(workdir: Path, good: Path, other: Path) -> int:
    from search import Engine
    from search.indexer import build_index
    fs = workdir / "fs"
    fs.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(fs)], check=True)
    index = fs / "indexes" / "default"
    report = build_index([good], index)
    engine = Engine.open(index)
    say(step="first build", digest=report.digest, **state(index, engine))

    for n, leave in enumerate(FREE_LEVELS):
        filler = fill(fs, leave)
        free = free_bytes(fs)
        result = cli_build(other, index) if n == 0 else library_build(other, index)
        filler.unlink()
        say(step="disk full", free=free, **result, **state(index, engine))

    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    result = cli_build(other, index)
    say(step="read-only", **result, **state(index, engine))
    subprocess.run(["mount", "-o", "remount,rw", str(fs)], check=True)

    result = cli_build(other, index)
    say(step="next build", **result, **state(index, engine))
    subprocess.run(["umount", str(fs)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
