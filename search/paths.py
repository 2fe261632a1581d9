"""Where things are by default: the repository's corpus and the live index link."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "corpus" / "centres"
DEFAULT_INDEX = Path(os.environ.get("CAREMATCH_INDEX") or ROOT / "indexes" / "default")
