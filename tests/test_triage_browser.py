"""The triage report opens in headless Chromium, offline, and shows its four charts."""
from __future__ import annotations

import shutil

import pytest
from samples import OUTPUT, chromium

pytestmark = pytest.mark.browser


REQUESTS = [
    {"id": "a1", "text": "Bonjour, ma mère a un cancer du sein diagnostiqué à Casablanca. Nous souhaitons un second avis."},
    {"id": "a2", "text": "My father was diagnosed with lung cancer in Dubai, we would like a second opinion in Paris."},
    {"id": "a3", "text": "Здравствуйте! У моей мамы рак желудка. Мы из Казахстана."},
    {"id": "a4", "text": "السلام عليكم، والدي مصاب بسرطان الرئة ونحن من المغرب."},
    {"id": "a5", "text": "您好，我母亲被诊断为乳腺癌，希望到法国接受治疗。"},
    {"id": "a6", "text": "URGENT: my son (8 years old) has osteosarcoma, please help as soon as possible."},
    {"id": "a7", "text": "Hola, me diagnosticaron cáncer de próstata y quisiera una teleconsulta."},
    {"id": "a8", "text": "Bonjour, comment envoyer mon dossier ?"},
    {"id": "<img src=x onerror=alert(1)>", "text": "Brustkrebs <script>document.title='pwned'</script>"},
    {"id": "a10", "text": ""},
]


def test_report_in_headless_chromium(engine, tmp_path):
    from search.triage import triage_records
    from search.triage_report import write_report

    results = triage_records(engine, REQUESTS)
    report = tmp_path / "report.html"
    write_report(report, results, source="inbox.jsonl")

    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / "triage_report.png"
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")

        charts = page.locator("svg.chart-svg")
        assert charts.count() == 4
        for cid in ("chart-language", "chart-pathology", "chart-service", "chart-centre"):
            svg = page.locator(f"svg#{cid}")
            assert svg.is_visible()
            box = svg.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 20
            bars = svg.locator("rect.bar-rect")
            assert bars.count() >= 2, cid
            assert all(bars.nth(i).bounding_box()["width"] > 0 for i in range(bars.count()))
        # the language chart holds the counts of this inbox
        lang_labels = page.locator("svg#chart-language text.bar-label").all_text_contents()
        assert any(label.startswith("fr") for label in lang_labels) and len(lang_labels) >= 5
        counts = sum(int(t) for t in page.locator("svg#chart-language text.bar-count").all_text_contents())
        assert counts == sum(1 for r in results if r["status"] == "ok")

        # review queue first, and the request with a child's urgent case in it
        order = page.evaluate("""() => [...document.querySelectorAll('section')].map(s => s.id)""")
        assert order[0] == "review-queue"
        queue = page.locator("#review-queue").inner_text()
        assert "a6" in queue and "Words of urgency" in queue and "a10" in queue
        assert page.locator("#requests article.request").count() == len(REQUESTS)

        # hostile text is shown as text: no script ran, no element was injected
        assert page.title().startswith("carematch triage report")
        assert dialogs == []
        assert page.locator("#requests img").count() == 0
        assert "<img src=x onerror=alert(1)>" in page.locator("#requests").inner_text()

        page.screenshot(path=str(shot), full_page=True)
    # offline: the page asked for nothing but itself
    assert requests == [report.as_uri()]
    assert shot.stat().st_size > 20_000
    shutil.copy(report, OUTPUT / "triage_report.html")
