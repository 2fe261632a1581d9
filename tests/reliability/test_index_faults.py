"""Item 3, faults during indexing: the build killed (SIGKILL) at each step and at random moments,
the disk full, the index directory read-only. The previous snapshot stays intact and serving,
the next build succeeds, and a damaged snapshot is refused at open with a clear error."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability._support import HERE, PY, ROOT, child_env, count, run
from samples import CENTRE_A, CENTRE_B, write_corpus
from search import Engine
from search.errors import IndexCorrupt
from search.indexer import build_index, read_manifest, resolve_snapshot
from search.terminology import default_terminology

pytestmark = pytest.mark.reliability

# A warm child process that forks one build per request and SIGKILLs it at a step, or after a
# delay: the kill lands inside the build itself, not in the interpreter's start-up. Requests and
# answers are JSON lines: {"corpus", "index", "step", "delay"} -> {"signal", "code"}.
ZYGOTE = r"""
import json, os, signal, sys, time
from pathlib import Path
import search.indexer as ix

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after(owner, attr, when=lambda *a, **k: True):
    real = getattr(owner, attr)
    def wrapper(*a, **k):
        out = real(*a, **k)
        if when(*a, **k):
            die()
        return out
    setattr(owner, attr, wrapper)

def arm(step, index):
    progress = None
    if step == "validated":            # corpus read and validated, nothing written yet
        after(ix, "load_corpus")
    elif step == "documents":          # half the offers given to Whoosh
        def progress(n, total):
            if 2 * n >= total:
                die()
    elif step == "segment":            # Whoosh segment committed in the temporary directory
        import whoosh.writing
        after(whoosh.writing.SegmentWriter, "commit")
    elif step == "terminology":        # half the compiled terminology written
        import search.terminology as t
        real_save = t.Terminology.save
        def save(self, path, *a, **k):
            real_save(self, path, *a, **k)
            os.truncate(path, os.path.getsize(path) // 2)
            die()
        t.Terminology.save = save
    elif step == "manifest":           # half the manifest written
        real_dump = json.dump
        def dump(obj, f, *a, **k):
            if isinstance(obj, dict) and "files" in obj and "digest" in obj:
                text = json.dumps(obj, *a, **k)
                f.write(text[: len(text) // 2])
                f.flush()
                die()
            return real_dump(obj, f, *a, **k)
        json.dump = dump
    elif step == "renamed":            # snapshot directory in place, link not switched
        after(os, "rename", when=lambda src, dst, *a, **k: Path(src).name.startswith(f".{index.name}.tmp-"))
    elif step == "linked":             # new link made beside the live one, not switched
        after(os, "symlink")
    elif step == "switched":           # link switched; directory not synced, old snapshots not cleaned
        after(os, "replace", when=lambda src, dst, *a, **k: Path(dst) == index)
    elif step != "none":
        raise SystemExit(f"unknown step {step}")
    return progress

import shutil, tempfile
warm = Path(tempfile.mkdtemp())  # one build first: later forks start with every model loaded
ix.build_index([sys.argv[1]], warm / "indexes" / "default")
shutil.rmtree(warm)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    index = Path(req["index"])
    pid = os.fork()
    if pid == 0:
        try:
            ix.build_index([req["corpus"]], index, progress=arm(req["step"], index))
        except BaseException:
            os._exit(3)
        os._exit(0)
    if req.get("delay") is not None:
        time.sleep(req["delay"])
        os.kill(pid, signal.SIGKILL)  # a build already finished is a zombie: nothing happens
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                      "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}), flush=True)
"""
STEPS = ["validated", "documents", "segment", "terminology", "manifest", "renamed", "linked", "switched"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An index link with a snapshot of corpus A, and corpus B (one more centre) to rebuild with."""
    root = tmp_path_factory.mktemp("faults")
    a = write_corpus(root / "a", {"centre-a.toml": CENTRE_A})
    b = write_corpus(root / "b", {"centre-a.toml": CENTRE_A, "centre-b.toml": CENTRE_B})
    index = root / "indexes" / "default"
    build_index([a], index)
    return {"root": root, "index": index, "corpora": [a, b]}


class Zygote:
    def __init__(self, corpus: Path) -> None:
        self.proc = subprocess.Popen([PY, "-c", ZYGOTE, str(corpus)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=child_env(), cwd=str(ROOT), text=True)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def build(self, corpus: Path, index: Path, step: str = "none", delay: float | None = None) -> dict:
        self.proc.stdin.write(json.dumps({"corpus": str(corpus), "index": str(index), "step": step,
                                          "delay": delay}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()[-3000:]
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def zygote(site):
    z = Zygote(site["corpora"][0])
    yield z
    z.close()


def serving(index: Path) -> str:
    """The digest now served at ``index``, checked end to end: the link resolves, every file
    matches the manifest, a fresh engine opens and answers from that snapshot."""
    snap = resolve_snapshot(index)
    digest = read_manifest(snap, verify=True)["digest"]
    out = Engine.open(index, terminology=default_terminology()).search("cancer du sein", limit=3)
    assert out["index"]["digest"] == digest and out["results"]
    return digest


def leftovers(index: Path) -> set[str]:
    return {p.name for p in index.parent.iterdir() if p.name.startswith(f".{index.name}.")}


def next_corpus(site) -> Path:
    """The corpus whose index is not live: every build changes the digest."""
    live = read_manifest(resolve_snapshot(site["index"]), verify=False)["counts"]["centres"]
    return site["corpora"][1] if live == 1 else site["corpora"][0]


@pytest.mark.parametrize("step", STEPS)
def test_build_killed_at_each_step_leaves_the_previous_index_serving(site, zygote, step):
    index = site["index"]
    before, left_before = serving(index), leftovers(index)
    engine = Engine.open(index, terminology=default_terminology())
    status = zygote.build(next_corpus(site), index, step)
    count("faults.sigkill")
    assert status["signal"] == signal.SIGKILL, f"the kill point {step!r} was never reached: {status}"

    after = serving(index)
    if step == "switched":  # killed after the atomic switch: the new snapshot, whole
        assert after != before
    else:
        assert after == before
    answer = engine.search("sarcome deuxième avis", limit=3)  # the engine opened before the kill
    assert answer["index"]["digest"] == after

    # the next build succeeds and clears what the dead one left
    report = build_index([next_corpus(site)], index)
    assert serving(index) == report.digest != after
    assert leftovers(index) <= left_before, f"left by the build killed at {step!r}: {leftovers(index) - left_before}"
    assert engine.search("cancer du sein", limit=3)["index"]["digest"] == report.digest


def test_build_killed_at_random_moments(site, zygote):
    """Builds SIGKILLed at random moments of their run (uniform over a full build's duration)."""
    index = site["index"]
    t0 = time.monotonic()
    assert zygote.build(next_corpus(site), index) == {"signal": None, "code": 0}
    full = time.monotonic() - t0
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    left_before = leftovers(index)
    kills = []
    for _ in range(8):
        before = serving(index)
        delay = rng.uniform(0.0, 1.1) * full
        status = zygote.build(next_corpus(site), index, delay=delay)
        count("faults.sigkill")
        after = serving(index)  # whole, whichever it is
        kills.append((round(delay, 3), status["signal"], after == before))
        if status["signal"] is None:
            assert status["code"] == 0 and after != before, kills
    report = build_index([next_corpus(site)], index)
    assert serving(index) == report.digest
    assert leftovers(index) <= left_before, (kills, leftovers(index) - left_before)
    assert any(k[1] == signal.SIGKILL for k in kills), kills


def _unshare() -> list[str] | None:
    """A private mount namespace: as any user with user namespaces, or as root without."""
    exe = shutil.which("unshare")
    if not exe:
        return None
    for cmd in ([exe, "--user", "--map-root-user", "--mount"], [exe, "--mount"]):
        probe = subprocess.run([*cmd, "--", "true"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return cmd
    return None


def test_disk_full_and_read_only_index_directory(site, tmp_path):
    """A 320 MiB tmpfs, in a mount namespace of its own: builds fail with the disk full (at
    several amounts of free space) and read-only; the previous index serves throughout and the
    next build succeeds."""
    ns = _unshare()
    if ns is None:
        pytest.skip("no mount namespace here (util-linux unshare with user namespaces, or root)")
    a, b = site["corpora"]
    proc = subprocess.run([*ns, "--", PY, str(HERE / "_fs_faults.py"), str(tmp_path), str(a), str(b)],
                          capture_output=True, timeout=240, env=child_env(), cwd=str(ROOT))
    steps = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.startswith("{")]
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    first, *faults, last = steps
    for s in steps:  # what could not be read or opened at a step, said plainly
        assert not {k: v for k, v in s.items() if k.endswith("_error")}, (s["step"], s)
    assert [s["step"] for s in faults] == ["disk full"] * (len(faults) - 1) + ["read-only"]
    good = first["digest"]
    for s in faults:
        count("faults.disk_full" if s["step"] == "disk full" else "faults.read_only")
        where = f"{s['step']} ({s.get('free', '-')} bytes free)"
        assert s["rc"] == 1, (where, s["stderr"])
        assert s["link"] == first["link"], where
        assert s["manifest_digest"] == s["fresh_digest"] == s["running_digest"] == good, (where, s)
        assert s["leftovers"] == [], (where, s["leftovers"])
    assert last["rc"] == 0, last["stderr"]
    assert last["manifest_digest"] == last["fresh_digest"] == last["running_digest"] != good
    # a failed `carematch index` is a clear one-line error, not a traceback
    for s in (s for s in faults if s["via"] == "cli"):
        assert "Traceback" not in s["stderr"], (s["step"], s.get("free"), s["stderr"][-1500:])
        assert s["stderr"].startswith("carematch: error: ") and (
            "No space left on device" in s["stderr"] or "Read-only file system" in s["stderr"]), s["stderr"]


# --- damaged snapshots ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    corpus = write_corpus(root / "c", {"centre-a.toml": CENTRE_A, "centre-b.toml": CENTRE_B})
    report = build_index([corpus], root / "indexes" / "default")
    return report.snapshot


DAMAGE = st.sampled_from(["truncate", "flip", "delete", "append", "empty"])


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_damaged_snapshot_is_refused_at_open_never_served(pristine, tmp_path_factory, data):
    """Any file of a snapshot truncated, a byte changed, deleted, grown or emptied: opening it
    raises IndexCorrupt naming the file and saying to rebuild; nothing is served from it."""
    files = sorted(p.name for p in pristine.iterdir() if p.is_file())
    name = data.draw(st.sampled_from(files), label="file")
    size = (pristine / name).stat().st_size
    kind = data.draw(DAMAGE.filter(lambda k: size > 0 or k in ("delete", "append")), label="damage")
    root = tmp_path_factory.mktemp("damaged")
    snap = root / pristine.name
    shutil.copytree(pristine, snap, copy_function=os.link)  # hard links: cheap copies of ~80 MiB
    os.symlink(snap.name, root / "default")
    path = snap / name
    if path.exists():  # the file to damage gets a copy of its own, the pristine one stays intact
        path.unlink()
        shutil.copyfile(pristine / name, path)
    if kind == "truncate":
        os.truncate(path, data.draw(st.integers(0, size - 1), label="length"))
    elif kind == "flip":
        pos = data.draw(st.integers(0, size - 1), label="position")
        with path.open("r+b") as f:
            f.seek(pos)
            byte = f.read(1)[0]
            f.seek(pos)
            f.write(bytes([byte ^ data.draw(st.integers(1, 255), label="xor")]))
    elif kind == "delete":
        path.unlink()
    elif kind == "append":
        with path.open("ab") as f:
            f.write(data.draw(st.binary(min_size=1, max_size=64), label="junk"))
    else:
        os.truncate(path, 0)
    count("faults.damaged_snapshot")
    if name == "manifest.json" and kind in ("flip", "append"):
        # a changed manifest may still parse; then every file must still match what it says
        try:
            manifest = read_manifest(snap, verify=True)
        except IndexCorrupt as e:
            assert "rebuild" in e.message
            return
        assert manifest["files"] == json.loads((pristine / "manifest.json").read_text())["files"]
        return
    with pytest.raises(IndexCorrupt) as err:
        Engine.open(root / "default")
    msg = err.value.message
    assert "rebuild" in msg and (name in msg or "manifest" in msg), msg


def test_engine_never_switches_to_a_damaged_snapshot(site, caplog):
    """A new snapshot is damaged before a running engine switches to it: the engine refuses it,
    says so once in its log and in ``refused``, goes on answering from the snapshot it has, and
    switches with the next good build."""
    index = site["index"]
    engine = Engine.open(index)
    old = engine.digest
    report = build_index([next_corpus(site)], index)
    seg = next(p for p in report.snapshot.iterdir() if p.suffix == ".seg")
    with seg.open("r+b") as f:
        f.seek(seg.stat().st_size // 2)
        f.write(b"\xff\x00\xff\x00")
    count("faults.damaged_snapshot")
    with caplog.at_level("ERROR", logger="carematch.engine"):
        for _ in range(3):  # refused once, not re-checked on every query
            answer = engine.search("cancer du sein deuxième avis")
            assert answer["index"]["digest"] == old and answer["results"]  # never the damaged one
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "deuxième" not in refusals[0].getMessage()
    assert engine.refused and engine.refused["snapshot"] == report.snapshot.name and "rebuild" in engine.refused["error"]
    fixed = build_index([next_corpus(site)], index)
    assert engine.search("cancer du sein", limit=2)["index"]["digest"] == fixed.digest
    assert engine.refused is None


def test_server_refuses_to_start_on_a_damaged_index(pristine, tmp_path):
    snap = tmp_path / pristine.name
    shutil.copytree(pristine, snap)
    os.symlink(snap.name, tmp_path / "default")
    toc = next(p for p in snap.iterdir() if p.suffix == ".toc")
    os.truncate(toc, toc.stat().st_size - 7)
    count("faults.damaged_snapshot")
    proc = run(["serve", "--host", "127.0.0.1", "--port", "0", "--index", str(tmp_path / "default")], timeout=120)
    log = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    assert proc.returncode != 0, log[-2000:]
    assert toc.name in log and "rebuild" in log, log[-2000:]
