"""The patient page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)
against a real server. Screenshots go to tests/output/ (git-ignored)."""
from __future__ import annotations


import httpx
import pytest

from search.server.testing import start_server
from samples import OUTPUT, chromium

pytestmark = pytest.mark.browser

SPANISH = "cáncer de mama segunda opinión"


@pytest.fixture(scope="module")
def server(bundled_index, tmp_path_factory):
    srv = start_server(bundled_index, env={"CAREMATCH_TRIAGE_TOKEN": None},
                       log_path=tmp_path_factory.mktemp("browser") / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page_factory(browser):
    """New pages that record console errors (a CSP violation is one) and page errors."""
    contexts, problems = [], []

    def make(**context_options):
        ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context_options})
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert problems == [], problems


def card_texts(page) -> list[list]:
    return page.eval_on_selector_all(
        "#cards li.card", "cards => cards.map(c => [c.querySelector('h3').textContent.trim(),"
        " Array.from(c.querySelectorAll('.why li')).map(li => li.textContent.trim())])")


def test_spanish_search_shows_spanish_results_and_reasons(server, page_factory):
    page = page_factory(locale="es-ES")
    page.goto(server.url + "/")
    assert page.get_attribute("html", "lang") == "es"  # from Accept-Language
    page.fill("#q", SPANISH)
    page.press("#q", "Enter")
    page.wait_for_selector("#cards li.card")
    page.wait_for_selector("#searched-q:not(:empty)")
    shown = card_texts(page)

    api = httpx.get(server.url + "/api/search", params={"q": SPANISH, "limit": 10}).json()
    assert api["language"]["code"] == "es"
    assert page.get_attribute("#cards", "data-query-language") == "es"
    assert shown == [[r["centre"]["name"], [w["text"] for w in r["why"]]] for r in api["results"]]
    # the reasons are Spanish, not the English fallback: each differs from the English sentence
    english = httpx.get(server.url + "/api/search", params={"q": SPANISH, "limit": 10, "lang": "en"}).json()
    en_lines = {w["rule"]: w["text"] for w in english["results"][0]["why"]}
    es_lines = {w["rule"]: w["text"] for w in api["results"][0]["why"]}
    assert es_lines and all(es_lines[rule] != en_lines.get(rule) for rule in es_lines)
    assert "Segunda opinión" in page.inner_text("#cards li.card .badge.service")
    assert page.inner_text("#status").startswith("Centros que coinciden")
    assert "segunda" in page.url and "q=" in page.url  # the address can be shared or reloaded

    # the server renders the same cards as the script (same data, same order)
    page.goto(page.url)
    assert card_texts(page) == shown
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "page-es.png"), full_page=True)


def test_arabic_page_is_right_to_left(server, page_factory):
    page = page_factory(locale="ar")
    page.goto(server.url + "/?ui=ar&q=" + "سرطان الثدي")
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    page.wait_for_selector("#cards li.card")
    # right-to-left layout: the search button sits left of the search box
    box = page.locator("#q").bounding_box()
    button = page.locator("#search-form button[type=submit]").bounding_box()
    assert button["x"] < box["x"]
    assert "ابحث عن علاج السرطان في فرنسا" in page.inner_text("h1")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "page-ar.png"), full_page=True)
    assert (OUTPUT / "page-ar.png").stat().st_size > 10_000


def test_the_form_works_without_javascript(server, page_factory):
    page = page_factory(java_script_enabled=False, locale="fr-FR")
    page.goto(server.url + "/")
    assert page.get_attribute("html", "lang") == "fr"
    page.fill("#q", "Lungenkrebs")
    page.select_option("#country", "DE")
    page.check("input[name=service][value=second_opinion]")
    with page.expect_navigation():
        page.click("#search-form button[type=submit]")
    assert "q=Lungenkrebs" in page.url and "country=DE" in page.url and "service=second_opinion" in page.url
    assert page.locator("#cards li.card").count() > 0
    assert page.input_value("#q") == "Lungenkrebs"
    assert page.eval_on_selector("#country", "s => s.value") == "DE"
    assert page.is_checked("input[name=service][value=second_opinion]")
    assert page.is_visible("#results")


@pytest.mark.parametrize("javascript", [True, False])
def test_a_script_in_the_query_is_shown_as_text(server, page_factory, javascript):
    evil = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> cancer du sein'
    page = page_factory(java_script_enabled=javascript)
    page.goto(server.url + "/?ui=en")
    page.fill("#q", evil)
    if javascript:
        page.press("#q", "Enter")
        page.wait_for_selector("#searched-q:not(:empty)")
    else:
        with page.expect_navigation():
            page.press("#q", "Enter")
    assert page.inner_text("#searched-q") == evil
    assert page.locator("img[src=x]").count() == 0
    if javascript:
        assert page.evaluate("window.__pwned") is None
    page.wait_for_selector("#cards li.card")


def test_keyboard_focus_is_visible_and_in_order(server, page_factory):
    page = page_factory()
    page.goto(server.url + "/?ui=en")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert page.locator(".skip").bounding_box()["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # from the search box's position: the next stop is the button
    assert page.evaluate("document.activeElement.type") == "submit"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type("Hodgkin")
    page.keyboard.press("Enter")
    page.wait_for_selector("#cards li.card")
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.name || "
                                   "document.activeElement.tagName"))
    assert order[:3] == ["BUTTON", "country", "service"], order  # then the results' links
    labels = page.eval_on_selector_all("input, select", "els => els.filter(e => e.type !== 'hidden')"
                                       ".map(e => e.labels && e.labels.length > 0)")
    assert all(labels)


def test_results_come_as_you_type(server, page_factory):
    page = page_factory()
    page.goto(server.url + "/?ui=de")
    assert page.is_hidden("#results")
    page.click("#q")
    page.keyboard.type("Lungenkrebs", delay=30)  # no Enter: the script searches after a pause
    page.wait_for_selector("#cards li.card")
    assert page.inner_text("#searched-q") == "Lungenkrebs"
    assert page.inner_text("#status").startswith("Passende Zentren")
    assert "q=Lungenkrebs" in page.url and "ui=de" in page.url
    switch = page.get_attribute(".langmenu a[hreflang=fr]", "href")
    assert "q=Lungenkrebs" in switch and "ui=fr" in switch  # the language links keep the search
    page.check("input[name=service][value=teleconsultation]")
    page.wait_for_url("**service=teleconsultation**")
