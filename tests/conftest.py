"""Shared fixtures: small corpora written into tmp_path, and one index of the bundled corpus."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from samples import BUNDLED, CENTRE_A, CENTRE_B, CHROMIUM, CHROMIUM_ARGS, write_corpus

@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", {"centre-a.toml": CENTRE_A, "centre-b.toml": CENTRE_B})


@pytest.fixture
def mini_index(tmp_path: Path, mini_corpus: Path) -> Path:
    from search.indexer import build_index
    index = tmp_path / "indexes" / "default"
    build_index([mini_corpus], index)
    return index


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory) -> Path:
    """The bundled corpus, indexed once per test session."""
    from search.indexer import build_index
    index = tmp_path_factory.mktemp("bundled") / "default"
    build_index([BUNDLED], index)
    return index


@pytest.fixture(scope="session")
def engine(bundled_index: Path):
    from search import Engine
    return Engine.open(bundled_index)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright, one for the whole session (Playwright's sync API
    allows one instance per thread)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian's chromium is not installed: run `make browser` (make test does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
