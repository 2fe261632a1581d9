"""Shared fixtures: small corpora written into tmp_path, and one index of the bundled corpus."""
from __future__ import annotations

from pathlib import Path

import pytest

from samples import BUNDLED, CENTRE_A, CENTRE_B, write_corpus

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
