"""HTTP load test: the real server (``carematch serve``) on loopback, 1 and 2 workers, concurrency
1..32, each step bounded in time; requests/s, p50 and p99 per step, and a JSON summary.

    python -m bench.load                       # 1 and 2 workers, concurrency 1 2 4 8 16 32, 3 s a step
    python -m bench.load --json bench/results/load.json --seconds 5
    python -m bench.load --workers 2 --engine-calls direct thread   # compare the two ways of calling the engine

Target (DESIGN.md): >= 300 search requests/s with 2 workers and p99 <= 50 ms on the bundled corpus.

Requests. ``--cache cold`` (default) sends every request with a different (query, limit, country)
combination drawn from a cycle of about 8,000, more than the engine's per-process result cache
(2,048) holds, so each request is understood, retrieved and ranked anew: the honest figure.
``--cache warm`` repeats 48 queries, so after the first pass the engine answers from its cache and
the step measures the HTTP layer alone. Queries are patient phrases in 20 languages.

The client and the CPU. This machine has 2 cores and the server gets 2 workers, so the client must
be cheap: it is one asyncio process on raw keep-alive HTTP/1.1 connections (requests pre-encoded,
responses read by Content-Length, no HTTP library, no JSON decoding). Each step reports the
client's own CPU time (``time.process_time``) and the server's (utime+stime of the server process
and its workers from ``/proc``), as a percentage of one core: what the client takes is what the
server could not have. ``load`` is the 1-minute load average at the end of the step: anything
well above the server's own share means other programs took CPU and the figures are low.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from search.server.testing import start_server  # noqa: E402

QUERIES = [
    "cancer du sein", "cáncer de mama segunda opinión", "Brustkrebs Zweitmeinung", "乳腺癌", "سرطان الثدي",
    "рак молочной железы", "meme kanseri", "سرطان پستان", "סרטן השד", "tumore al seno", "cancro da mama",
    "borstkanker", "rak piersi", "cancer de sân", "рак молочної залози", "乳がん", "유방암", "ung thư vú",
    "स्तन कैंसर", "καρκίνος του μαστού", "kanker payudara", "lung cancer treatment", "cancer du poumon",
    "Lungenkrebs", "cáncer de pulmón", "肺癌", "سرطان الرئة", "рак лёгких", "leucémie enfant",
    "leucemia infantil", "childhood leukemia", "neuroblastoma", "Wilms tumour", "Ewing sarcoma second opinion",
    "Hodgkin lymphoma", "melanoma", "glioblastoma", "sarcome des tissus mous", "cancer de la prostate",
    "prostate cancer", "C50", "C34.1", "colon cancer teleconsultation", "cancer du pancréas deuxième avis",
    "Bauchspeicheldrüsenkrebs", "carcinome hépatocellulaire", "thyroid cancer", "cancer de l'ovaire",
]
COUNTRIES = [None, "MA", "DZ", "TN", "ES", "DE", "IT", "PT", "RU", "CN", "TR", "IL", "IR", "SA", "LB", "BR"]
LIMITS = list(range(5, 15))


def request_bytes(cache: str) -> list[bytes]:
    """The requests of one cycle, pre-encoded; consecutive requests differ in every field."""
    combos = []
    if cache == "warm":
        combos = [{"q": q} for q in QUERIES]
    else:
        n = len(QUERIES) * len(LIMITS) * len(COUNTRIES)
        for i in range(n):  # a walk that changes query, limit and country at every step
            params = {"q": QUERIES[i % len(QUERIES)], "limit": LIMITS[(i // len(QUERIES)) % len(LIMITS)]}
            country = COUNTRIES[(i // (len(QUERIES) * len(LIMITS))) % len(COUNTRIES)]
            if country:
                params["country"] = country
            combos.append(params)
    return [f"GET /api/search?{urlencode(p)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode() for p in combos]


# --- the client -------------------------------------------------------------------------------

async def _connection(host: str, port: int, requests: list[bytes], start: int, stride: int, deadline: float,
                      measure_from: float, latencies: list[float], errors: list[int], limit: int | None = None,
                      done: list[int] | None = None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    n = len(requests)
    perf = time.perf_counter
    sent = 0
    try:
        while True:
            t0 = perf()
            if t0 >= deadline or (limit is not None and sent >= limit):
                break
            sent += 1
            writer.write(requests[i % n])
            i += stride
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            if length:
                await reader.readexactly(length)
            t1 = perf()
            if done is not None:
                done[0] += 1
            if t0 >= measure_from:
                if status == 200:
                    latencies.append(t1 - t0)
                else:
                    errors.append(status)
            if b"connection: close" in head.lower():
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _step(port: int, requests: list[bytes], concurrency: int, seconds: float, warmup: float,
                offset: int) -> tuple[list[float], list[int], int]:
    latencies: list[float] = []
    errors: list[int] = []
    done = [0]
    now = time.perf_counter()
    measure_from = now + warmup
    deadline = measure_from + seconds
    await asyncio.gather(*(_connection("127.0.0.1", port, requests, offset + k, concurrency, deadline, measure_from,
                                       latencies, errors, done=done) for k in range(concurrency)))
    return latencies, errors, done[0]


async def _prime(port: int, requests: list[bytes], connections: int = 8) -> None:
    """Send every request on several connections, so that each worker has every answer cached."""
    sink: list[float] = []
    now = time.perf_counter()
    await asyncio.gather(*(_connection("127.0.0.1", port, requests, 0, 1, now + 120, now, sink, [],
                                       limit=len(requests)) for _ in range(connections)))


def _loadavg() -> float:
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return float("nan")


def _proc_cpu_seconds(root_pid: int) -> float:
    """utime + stime of a process and its children (the uvicorn workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def run_steps(index: Path, workers: int, engine_calls: str, cache: str, concurrencies: list[int],
              seconds: float, warmup: float) -> list[dict]:
    requests = request_bytes(cache)
    out = []
    log = Path(tempfile.mkstemp(prefix="carematch-load-", suffix=".log")[1])
    with start_server(index, workers=workers, env={"CAREMATCH_ENGINE_CALLS": engine_calls,
                                                   "CAREMATCH_LOG_QUERIES": None, "CAREMATCH_TRIAGE_TOKEN": None},
                      log_path=log) as server:
        offset = 0
        if cache == "warm":
            asyncio.run(_prime(server.port, requests))
        for c in concurrencies:
            load_before = _loadavg()
            cpu_server0, cpu_client0, wall0 = _proc_cpu_seconds(server.proc.pid), time.process_time(), time.perf_counter()
            latencies, errors, done = asyncio.run(_step(server.port, requests, c, seconds, warmup, offset))
            wall = time.perf_counter() - wall0
            cpu_server = _proc_cpu_seconds(server.proc.pid) - cpu_server0
            cpu_client = time.process_time() - cpu_client0
            offset += len(latencies) + len(errors) + 1000
            latencies.sort()
            step = {
                "workers": workers, "engine_calls": engine_calls, "cache": cache, "concurrency": c,
                "seconds": seconds, "requests": len(latencies), "errors": len(errors),
                "rps": round(len(latencies) / seconds, 1),
                "p50_ms": round(_percentile(latencies, 50) * 1000, 2),
                "p99_ms": round(_percentile(latencies, 99) * 1000, 2),
                "max_ms": round((latencies[-1] if latencies else float("nan")) * 1000, 2),
                "client_cpu_pct": round(100 * cpu_client / wall, 1),
                "server_cpu_pct": round(100 * cpu_server / wall, 1),
                "server_cpu_ms_per_request": round(1000 * cpu_server / max(done, 1), 3),
                "client_cpu_ms_per_request": round(1000 * cpu_client / max(done, 1), 3),
                "loadavg": [load_before, _loadavg()],
            }
            out.append(step)
            print(f"{workers:>7} {engine_calls:>6} {cache:>5} {c:>4} {step['rps']:>9.1f} {step['p50_ms']:>8.2f} "
                  f"{step['p99_ms']:>8.2f} {step['errors']:>6} {step['client_cpu_pct']:>9.1f} "
                  f"{step['server_cpu_pct']:>9.1f} {step['server_cpu_ms_per_request']:>8.2f} "
                  f"{step['loadavg'][1]:>6.1f}", flush=True)
        if any(s["errors"] for s in out):
            print(f"  errors: see the server log {log}", file=sys.stderr)
    return out


def verdict(steps: list[dict], min_rps: float = 300, max_p99: float = 50) -> dict:
    """The target on 2 workers: the best step whose p99 is within budget."""
    ok = [s for s in steps if s["workers"] == 2 and s["cache"] == "cold" and s["errors"] == 0
          and s["p99_ms"] <= max_p99]
    best = max(ok, key=lambda s: s["rps"], default=None)
    cold2 = [s for s in steps if s["workers"] == 2 and s["cache"] == "cold" and s["requests"]]
    cost = sorted(s["server_cpu_ms_per_request"] + s["client_cpu_ms_per_request"] for s in cold2)
    median_cost = cost[len(cost) // 2] if cost else None
    return {"min_rps": min_rps, "max_p99_ms": max_p99, "workers": 2,
            "best": best, "pass": bool(best and best["rps"] >= min_rps),
            "cpu_ms_per_request": median_cost,
            "capacity_rps_2_cores": round(2000 / median_cost) if median_cost else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", help="an index link (default: the bundled corpus, indexed into a temporary directory)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    p.add_argument("--seconds", type=float, default=3.0, help="measured time per step (default 3)")
    p.add_argument("--warmup", type=float, default=0.5, help="unmeasured time at the start of each step")
    p.add_argument("--cache", nargs="+", choices=("cold", "warm"), default=["cold"])
    p.add_argument("--engine-calls", nargs="+", choices=("direct", "thread"), default=["direct"],
                   help="how the server calls the engine (CAREMATCH_ENGINE_CALLS)")
    p.add_argument("--json", help="write the summary here")
    args = p.parse_args(argv)

    tmp = None
    if args.index:
        index = Path(args.index)
    else:
        from search.indexer import build_index
        tmp = tempfile.TemporaryDirectory(prefix="carematch-load-")
        index = Path(tmp.name) / "default"
        build_index([ROOT / "corpus" / "centres"], index)
    print(f"carematch HTTP load test: {os.cpu_count()} CPUs, {platform.python_implementation()} "
          f"{platform.python_version()}, {args.seconds:g} s per step")
    print(f"{'workers':>7} {'calls':>6} {'cache':>5} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'client%':>9} {'server%':>9} {'cpu ms':>8} {'load':>6}")
    steps: list[dict] = []
    try:
        for calls in args.engine_calls:
            for cache in args.cache:
                for w in args.workers:
                    steps += run_steps(index, w, calls, cache, args.concurrency, args.seconds, args.warmup)
    finally:
        if tmp:
            tmp.cleanup()
    result = verdict(steps)
    best = result["best"]
    if best:
        print(f"target (2 workers, cold): >= {result['min_rps']:g} req/s with p99 <= {result['max_p99_ms']:g} ms: "
              f"{'PASS' if result['pass'] else 'FAIL'} (best: {best['rps']:.0f} req/s at concurrency "
              f"{best['concurrency']}, p99 {best['p99_ms']:.1f} ms, {best['engine_calls']})")
    elif any(s["workers"] == 2 and s["cache"] == "cold" for s in steps):
        print("target (2 workers, cold): FAIL (no step within the p99 budget)")
    if result["cpu_ms_per_request"]:
        print(f"CPU per cold request (server + client, median over the 2-worker steps): "
              f"{result['cpu_ms_per_request']:.2f} ms: two otherwise idle cores serve at most "
              f"~{result['capacity_rps_2_cores']} req/s (load average during the run: "
              f"{max(s['loadavg'][1] for s in steps):.1f})")
    summary = {
        "bench": "http_load", "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform()},
        "config": {"seconds": args.seconds, "warmup": args.warmup, "concurrency": args.concurrency,
                   "workers": args.workers, "cache": args.cache, "engine_calls": args.engine_calls,
                   "queries": len(QUERIES)},
        "steps": steps, "target": result,
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"summary written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
