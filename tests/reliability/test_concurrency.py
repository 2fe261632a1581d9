"""Item 4, concurrency: 8 threads and 2 processes search while the index is rebuilt 3 times (by
another process), and one more thread keeps opening the index afresh as a new worker would; no
errors, and every answer comes from one complete snapshot: the digest it reports is one of the
builds', and what it lists is exactly that build's offers."""
from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from reliability._support import PY, ROOT, child_env, count, run, wait_until
from samples import CENTRE_A, CENTRE_B, write_corpus
from search import Engine
from search.indexer import build_index, read_manifest, resolve_snapshot

pytestmark = pytest.mark.reliability

QUERY = "cancer du sein"  # every variant's extra centre has a breast-cancer offer
OTHER_QUERIES = ["sarcome deuxième avis", "Brustkrebs", "\u4e73\u817a\u764c", "leucémie enfant", "C50.9", "xyzzy"]
READERS = 8
HTTP_CLIENTS = 4
HTTP_REBUILDS = 1
REBUILDS = 3

VARIANT = """\
schema = 1

[centre]
id = "centre-v{n}"
name = "Centre V{n}"
city = "Nantes"
country = "FR"
kind = "cancer_centre"
website = "https://example.org/v{n}"
office_languages = ["fr", "en"]

[[offer]]
id = "centre-v{n}-breast"
service = "treatment"
icd10 = ["C50"]
age_groups = ["adult"]
languages = ["fr", "en"]
delivery = "on_site"

[offer.text.fr]
title = "Cancer du sein (variante {n})"
description = "Chirurgie du cancer du sein."

[offer.text.en]
title = "Breast cancer (variant {n})"
description = "Breast cancer surgery."
"""

# A reader in another process: searches until the stop file appears, one JSON line per answer.
READER = r"""
import json, sys, time
from pathlib import Path
from search import Engine
index, out, stop, query = sys.argv[1:5]
engine = Engine.open(index)
n = 0
with open(out, "w", encoding="utf-8") as f:
    while not Path(stop).exists():
        n += 1
        try:
            a = engine.search(f"{query} {n}", limit=50)  # a new text each time: never from the cache
            f.write(json.dumps({"digest": a["index"]["digest"],
                                "centres": sorted(r["centre"]["id"] for r in a["results"])}) + "\n")
        except Exception as e:
            f.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
        f.flush()
"""


# Builds in a process of its own (as `carematch index` would), warm after its first build.
BUILDER = r"""
import json, shutil, sys, tempfile
from pathlib import Path
from search.indexer import build_index
warm = Path(tempfile.mkdtemp())
build_index([sys.argv[1]], warm / "default")  # models loaded once, before the clock starts
shutil.rmtree(warm)
print("ready", flush=True)
for line in sys.stdin:
    corpus, index = json.loads(line)
    print(json.dumps({"digest": build_index([corpus], Path(index)).digest}), flush=True)
"""


def variant(root: Path, n: int) -> Path:
    return write_corpus(root / f"v{n}", {"centre-a.toml": CENTRE_A, "centre-b.toml": CENTRE_B,
                                         f"centre-v{n}.toml": VARIANT.format(n=n)})


def test_searches_during_rebuilds_each_come_from_one_complete_snapshot(tmp_path):
    corpora = [variant(tmp_path, n) for n in range(REBUILDS + 1)]
    index = tmp_path / "indexes" / "default"
    expected: dict[str, list[str]] = {}  # digest -> the centres a complete snapshot lists
    first = build_index([corpora[0]], index)
    expected[first.digest] = ["centre-a", "centre-b", "centre-v0"]

    engine = Engine.open(index)
    stop = threading.Event()
    seen: list[list] = [[] for _ in range(READERS)]
    errors: list[str] = []

    def reader(i: int) -> None:
        n = 0
        while not stop.is_set():
            # a number makes each text new: no answer comes from the engine's cache
            base = QUERY if n % 2 == 0 else OTHER_QUERIES[(n // 2 + i) % len(OTHER_QUERIES)]
            q = f"{base} {i * 1_000_000 + n}"
            n += 1
            try:
                a = engine.search(q, limit=50)
            except Exception as e:  # noqa: BLE001 - any error fails the test below
                errors.append(f"thread {i}: {type(e).__name__}: {e}")
                continue
            centres = sorted(r["centre"]["id"] for r in a["results"]) if base == QUERY else None
            seen[i].append((a["index"]["digest"], centres))

    opened: list = []

    def opener() -> None:
        """What a new worker or a `carematch search` arriving mid-rebuild does: open the index
        afresh, then search."""
        from search.terminology import default_terminology
        n = 0
        while not stop.is_set():
            n += 1
            try:
                a = Engine.open(index, terminology=default_terminology()).search(f"{QUERY} {n}", limit=50)
            except Exception as e:  # noqa: BLE001 - any error fails the test below
                errors.append(f"fresh open: {type(e).__name__}: {e}")
                continue
            opened.append((a["index"]["digest"], sorted(r["centre"]["id"] for r in a["results"])))

    stop_file = tmp_path / "stop"
    outs = [tmp_path / f"reader-{k}.jsonl" for k in range(2)]
    procs = [subprocess.Popen([PY, "-c", READER, str(index), str(out), str(stop_file), QUERY], env=child_env(),
                              cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for out in outs]
    builder = subprocess.Popen([PY, "-c", BUILDER, str(corpora[0])], env=child_env(), cwd=str(ROOT), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(READERS)]
    threads.append(threading.Thread(target=opener, daemon=True))
    try:
        assert builder.stdout.readline().strip() == "ready", builder.stderr.read()[-2000:]
        # both processes answering, then the threads, before the first rebuild
        assert wait_until(lambda: all(o.exists() and o.stat().st_size > 0 for o in outs), 120), \
            [p.stderr.read().decode()[-2000:] for p in procs if p.poll() is not None]
        for t in threads:
            t.start()
        for n in range(1, REBUILDS + 1):
            time.sleep(0.5)
            builder.stdin.write(json.dumps([str(corpora[n]), str(index)]) + "\n")
            builder.stdin.flush()
            line = builder.stdout.readline()
            assert line, builder.stderr.read()[-2000:]
            expected[json.loads(line)["digest"]] = ["centre-a", "centre-b", f"centre-v{n}"]
        last = list(expected)[-1]

        def on_last(out: Path) -> bool:
            lines = out.read_text(encoding="utf-8").splitlines()
            try:
                return bool(lines) and json.loads(lines[-1]).get("digest") == last
            except ValueError:  # a line being written
                return False

        # everyone switches to the last snapshot (each refresh checks ~80 MiB of digests)
        assert wait_until(lambda: all(per and per[-1][0] == last for per in seen)
                          and all(on_last(o) for o in outs), 60), "a reader never reached the last build"
    finally:
        stop.set()
        stop_file.touch()
        for t in threads:
            t.join(30)
        builder.stdin.close()
        for p in (*procs, builder):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    answers = [a for per in seen for a in per] + opened
    for k, out in enumerate(outs):
        assert procs[k].returncode == 0, procs[k].stderr.read().decode()[-2000:]
        for line in out.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if "error" in rec:
                errors.append(f"process {k}: {rec['error']}")
            else:
                answers.append((rec["digest"], rec["centres"]))
    count("load.engine_answers", len(answers))
    count("load.rebuilds", REBUILDS)
    assert errors == [], errors[:5]
    assert len(expected) == REBUILDS + 1
    for digest, centres in answers:
        assert digest in expected, f"an answer from an unknown snapshot {digest[:12]}"
        if centres is not None:
            assert centres == expected[digest], (digest[:12], centres)
    for i, per in enumerate(seen):  # every thread lived through a switch and ended on the last build
        assert len({d for d, _ in per}) >= 2 and per[-1][0] == last, (i, len(per))
    for out in outs:
        digests = [json.loads(line)["digest"] for line in out.read_text().splitlines()]
        assert len(set(digests)) >= 2 and digests[-1] == last


def test_http_answers_during_rebuilds_of_the_served_index(server, rel_corpus, rel_index):
    """4 client threads against the 2-worker server while ``carematch index`` rebuilds its index
    in another process: every request answered (200), from a complete snapshot, and the workers
    switch to the new build."""
    import httpx
    digests = {httpx.get(server.url + "/healthz", timeout=30).json()["index"]["digest"]}
    stop = threading.Event()
    statuses: list[int] = []
    seen: list[str] = []
    failures: list[str] = []
    queries = [QUERY, *OTHER_QUERIES, "quokkaxss"]
    counter = iter(range(10**9))

    def client(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            n = i
            while not stop.is_set():
                q = f"{queries[n % len(queries)]} {next(counter)}"  # new texts: no answer from a cache
                n += 1
                try:
                    r = c.get("/api/search", params={"q": q, "limit": 5})
                except httpx.HTTPError as e:
                    failures.append(f"{type(e).__name__}: {e}")
                    continue
                statuses.append(r.status_code)
                if r.status_code == 200:
                    seen.append(r.json()["index"]["digest"])

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(HTTP_CLIENTS)]
    for t in threads:
        t.start()
    try:
        for _ in range(HTTP_REBUILDS):
            time.sleep(0.5)
            proc = run(["index", str(rel_corpus), "--index", str(rel_index)], timeout=180)
            assert proc.returncode == 0, proc.stderr.decode()[-2000:]
            digests.add(read_manifest(resolve_snapshot(rel_index), verify=False)["digest"])
        last = read_manifest(resolve_snapshot(rel_index), verify=False)["digest"]
        # each worker refreshes on its next request
        assert wait_until(lambda: len(seen) > 0 and seen[-1] == last, 30)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    count("load.http_requests", len(statuses) + len(failures))
    count("load.rebuilds", HTTP_REBUILDS)
    assert failures == [], failures[:5]
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    assert set(seen) <= digests and len(set(seen)) >= 2
    assert seen[-HTTP_CLIENTS:] == [last] * HTTP_CLIENTS
    assert len(statuses) > 100
