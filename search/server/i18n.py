"""The web page's interface language: gettext catalogs (managed with Babel's message tools),
negotiation from ``?ui=`` or ``Accept-Language``, right-to-left scripts, and numbers, dates,
language and country names through Babel (CLDR).

Catalogs live in ``locale/<lang>/LC_MESSAGES/messages.po`` next to this file; ``make messages``
extracts the strings (``babel.cfg``), updates every catalog and compiles the ``.mo`` files the
server reads. English is the source language.
"""
from __future__ import annotations

import unicodedata
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from babel.support import Translations
from markupsafe import Markup, escape

from ..locales import SUPPORTED, language_name, language_names, negotiate, parse_accept_language

LOCALE_DIR = Path(__file__).with_name("locale")
#: Interface languages, in the order the switcher shows them.
UI_LANGUAGES: tuple[str, ...] = ("fr", "en", "es", "de", "it", "pt", "ar", "ru", "zh", "tr", "fa", "he")
RTL_LANGUAGES = frozenset({"ar", "fa", "he"})
DEFAULT_UI = "en"
# Languages whose names the page's script may need (results as you type): the served languages
# and other languages French international offices commonly list. Unknown codes show as the code.
NAMED_LANGUAGES: tuple[str, ...] = tuple(dict.fromkeys(
    SUPPORTED + ("ca", "eu", "br", "hy", "ka", "sq", "sr", "hr", "bs", "bg", "cs", "sk", "hu", "sv", "da",
                 "nb", "no", "fi", "lt", "lv", "et", "sl", "mk", "ku", "tzm", "ber", "ur", "bn", "ta", "th",
                 "ms", "sw", "am", "wo", "ln", "mg", "az", "kk", "uz", "hy", "lb", "ga")))
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB", "XK"})


def N_(message: str) -> str:
    """Mark a string for extraction (``pybabel extract -k N_``); translated where it is shown."""
    return message


SERVICE_LABELS: dict[str, str] = {
    "treatment": N_("Treatment"),
    "second_opinion": N_("Second opinion"),
    "teleconsultation": N_("Teleconsultation"),
    "training": N_("Training for professionals"),
    "diagnostics": N_("Diagnostic tests"),
    "clinical_trials": N_("Clinical trials"),
    "international_office": N_("International patient office"),
}
#: What the form offers under "I want" (the other services still show on result cards).
FORM_SERVICES: tuple[str, ...] = ("treatment", "second_opinion", "teleconsultation")
DELIVERY_LABELS: dict[str, str] = {
    "on_site": N_("In France"),
    "remote": N_("Remote"),
    "on_site_and_remote": N_("In France or remote"),
}


def _sort_key(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


class UI:
    """Everything the page needs in one interface language."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.dir = "rtl" if code in RTL_LANGUAGES else "ltr"
        self.locale = Locale.parse(code)
        self.translations = Translations.load(str(LOCALE_DIR), [code], "messages")
        name = self.locale.get_display_name(code) or code
        self.autonym = name[:1].upper() + name[1:]

    def gettext(self, message: str, **values) -> str:
        text = self.translations.gettext(message)
        return text % values if values else text

    def number(self, n: int | float) -> str:
        return format_decimal(n, locale=self.locale)

    def date(self, d: date) -> str:
        return format_date(d, format="long", locale=self.locale)

    def language_name(self, code: str) -> str:
        return language_name(code, self.code)

    def language_names(self, codes) -> str:
        return language_names(codes, self.code)

    def service(self, service: str | None) -> str:
        return self.gettext(SERVICE_LABELS[service]) if service in SERVICE_LABELS else (service or "")

    def delivery(self, delivery: str | None) -> str:
        return self.gettext(DELIVERY_LABELS[delivery]) if delivery in DELIVERY_LABELS else ""

    @property
    def countries(self) -> list[tuple[str, str]]:
        return _countries(self.code)

    def country_options(self, selected: str = "") -> Markup:
        """The country ``<option>`` elements (about 250), rendered once per language."""
        html = _country_options(self.code)
        if len(selected) == 2 and selected.isascii() and selected.isalpha():
            html = html.replace(f'<option value="{selected.upper()}">', f'<option value="{selected.upper()}" selected>', 1)
        return Markup(html)

    def script_strings(self) -> dict:
        """What ``static/app.js`` shows, in this language (read from a data attribute)."""
        _ = self.gettext
        return {
            "lang": self.code,
            "services": {k: _(v) for k, v in SERVICE_LABELS.items()},
            "delivery": {k: _(v) for k, v in DELIVERY_LABELS.items()},
            "languages": {c: self.language_name(c) for c in NAMED_LANGUAGES},
            "searched": _("You searched for:"),
            "count": _("Matching centres: %(num)s"),
            "none": _("No care offer matches your words. Try the name of the disease, or an ICD-10 code such as C50."),
            "understood": _("Understood:"),
            "spoken": _("Languages spoken:"),
            "why": _("Why this result:"),
            "website": _("Centre website"),
            "more": _("Other offers of this centre"),
            "error": _("The search did not work. Please try again."),
            "tooLong": _("Your text is too long: at most %(num)s characters."),
        }


@lru_cache(maxsize=None)
def ui(code: str) -> UI:
    return UI(code if code in UI_LANGUAGES else DEFAULT_UI)


@lru_cache(maxsize=None)
def _countries(code: str) -> list[tuple[str, str]]:
    names = Locale.parse(code).territories
    out = [(c, n) for c, n in names.items() if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES]
    return sorted(out, key=lambda cn: _sort_key(cn[1]))


@lru_cache(maxsize=None)
def _country_options(code: str) -> str:
    return "".join(f'<option value="{escape(c)}">{escape(name)}</option>' for c, name in _countries(code))


def choose(ui_param: str | None, accept_language: str | None) -> tuple[str, bool]:
    """The interface language and whether the reader chose it (``?ui=``) rather than the browser."""
    if ui_param:
        picked = negotiate([ui_param], UI_LANGUAGES) if len(ui_param) <= 35 else None
        if picked:
            return picked, True
    wanted = parse_accept_language(accept_language or "")
    return (negotiate(wanted, UI_LANGUAGES) or DEFAULT_UI), False


def switcher() -> list[tuple[str, str]]:
    """(code, autonym) of every interface language, for the language links."""
    return [(c, ui(c).autonym) for c in UI_LANGUAGES]
