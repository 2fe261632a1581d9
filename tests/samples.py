"""Sample corpus records and helpers shared by the tests (imported by conftest and test modules)."""
from __future__ import annotations

import os
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "corpus" / "centres"

CENTRE_A = """\
schema = 1

[centre]
id = "centre-a"
name = "Centre A"
city = "Lyon"
region = "Auvergne-Rhône-Alpes"
country = "FR"
kind = "cancer_centre"
networks = ["Unicancer", "EURACAN"]
website = "https://example.org/a"
office_languages = ["fr", "en", "es", "ar"]

[[offer]]
id = "centre-a-breast"
service = "treatment"
icd10 = ["C50"]
age_groups = ["adult"]
languages = ["fr", "en", "es"]
delivery = "on_site"

[offer.text.fr]
title = "Cancer du sein"
description = "Chirurgie et traitements du cancer du sein."

[offer.text.en]
title = "Breast cancer"
description = "Surgery and treatment of breast cancer."

[[offer]]
id = "centre-a-sarcoma-second-opinion"
service = "second_opinion"
icd10 = ["C40-C41", "C49"]
age_groups = ["adult", "pediatric"]
languages = ["fr", "en"]
delivery = "remote"
networks = ["NETSARC"]

[offer.text.fr]
title = "Deuxième avis sarcome"
description = "Relecture du dossier et des lames par le réseau sarcome."

[offer.text.en]
title = "Sarcoma second opinion"
description = "Review of the file and slides by the sarcoma network."
"""

CENTRE_B = """\
schema = 1

[centre]
id = "centre-b"
name = "Centre B"
city = "Paris"
region = "Île-de-France"
country = "FR"
kind = "university_hospital"
website = "https://example.org/b"
office_languages = ["fr", "en", "ru"]

[[offer]]
id = "centre-b-leukaemia-children"
service = "treatment"
icd10 = ["C91-C95"]
age_groups = ["pediatric"]
languages = ["fr", "en", "ru"]
delivery = "on_site"

[offer.text.fr]
title = "Leucémies de l'enfant"
description = "Traitement des leucémies aiguës de l'enfant."

[offer.text.en]
title = "Childhood leukaemia"
description = "Treatment of acute leukaemia in children."

[[offer]]
id = "centre-b-breast-teleconsultation"
service = "teleconsultation"
icd10 = ["C50"]
age_groups = ["adult"]
languages = ["fr", "en"]
delivery = "remote"

[offer.text.fr]
title = "Téléconsultation sein"
description = "Consultation vidéo avec un oncologue du sein."

[offer.text.en]
title = "Breast teleconsultation"
description = "Video consultation with a breast oncologist."
"""


def write_corpus(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root



# Debian's Chromium, driven by Playwright in every browser test; the background-networking flags
# keep it from calling out on this machine's closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = ROOT / "tests" / "output"


@contextmanager
def chromium():
    """A headless Chromium for one test module or test. Not one for the whole session: Playwright's
    sync API keeps an asyncio loop running in the main thread, which breaks later tests that call
    ``asyncio.run``."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Debian's chromium ({CHROMIUM}) is not installed: run `make browser` (make test does)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
