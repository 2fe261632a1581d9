"""Fixtures of the reliability tests: one corpus with hostile texts, its index, one real server
behind the network guard, and the figures file ``bench/reliability.py`` reads."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from reliability._support import HERE, STATS, TOKEN, copy_bundled, guard_report, guarded_env, xss_centre

STATS_ENV = "CAREMATCH_RELIABILITY_STATS"


@pytest.fixture(scope="session", autouse=True)
def _figures():
    """Write what the tests tried (inputs, faults, requests) where bench/reliability.py asks."""
    yield STATS
    path = os.environ.get(STATS_ENV)
    if path:
        Path(path).write_text(json.dumps(dict(sorted(STATS.items())), indent=1), encoding="utf-8")


@pytest.fixture(scope="session")
def guard_dir(tmp_path_factory) -> Path:
    """A directory whose sitecustomize.py makes every outgoing connection of a child Python fail."""
    d = tmp_path_factory.mktemp("netguard")
    shutil.copyfile(HERE / "netguard.py", d / "sitecustomize.py")
    return d


@pytest.fixture(scope="session")
def rel_corpus(tmp_path_factory) -> Path:
    """The bundled corpus plus one centre whose every shown field carries a script."""
    root = copy_bundled(tmp_path_factory.mktemp("relcorpus") / "centres")
    (root / "centre-xss.toml").write_text(xss_centre(), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def rel_index(tmp_path_factory, rel_corpus) -> Path:
    from search.indexer import build_index
    index = tmp_path_factory.mktemp("relindex") / "default"
    build_index([rel_corpus], index)
    return index


@pytest.fixture(scope="session")
def server_netlog(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("servernet") / "netguard.log"


@pytest.fixture(scope="session")
def server(rel_index, guard_dir, server_netlog, tmp_path_factory):
    """``carematch serve`` with 2 workers, the triage token set, query logging at its default
    (off) and the network guard loaded in the server and in each worker."""
    from search.server.testing import start_server
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = guarded_env(guard_dir, server_netlog, {"CAREMATCH_TRIAGE_TOKEN": TOKEN, "CAREMATCH_LOG_QUERIES": None})
    srv = start_server(rel_index, workers=2, env=env, log_path=log, timeout=120)
    yield srv
    srv.stop()
    # whatever every test sent it, the server tried no outgoing connection
    loaded, blocked = guard_report(server_netlog)
    assert loaded >= 3 and blocked == [], (loaded, blocked)


@pytest.fixture(scope="session")
def http(server):
    import httpx
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c
