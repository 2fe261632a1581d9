"""The triage report: one self-contained, offline HTML file for the international office.

:func:`render_report` turns triage results (:mod:`search.triage`) into HTML with inline SVG
bar charts (requests by language, pathology group, service and routed centre), the review
queue first, then every request's routing with its reasons. Nothing in the page loads anything:
no script, no external style, font or image, and a Content-Security-Policy that forbids it.
Every value is escaped by Jinja2's autoescaping (request data is untrusted).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .locales import language_name

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "triage_report.html"
MAX_BARS = 12
SERVICE_NAMES = {
    "treatment": "Treatment", "second_opinion": "Second opinion", "teleconsultation": "Teleconsultation",
    "training": "Training", "diagnostics": "Diagnostics", "clinical_trials": "Clinical trials",
    "international_office": "International office",
}
# Review order: what cannot wait first, then what a human must decide.
REVIEW_PRIORITY = ("urgent", "child", "failed", "several_pathologies", "not_covered", "no_pathology",
                   "low_language_confidence", "no_route", "bad_field")


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


def _bars(counter: Counter, name=lambda k: k) -> list[dict]:
    """Bars for a chart: the most frequent first (ties by label), the tail summed as 'other'."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    if len(items) > MAX_BARS:
        items = items[:MAX_BARS - 1] + [("__other__", sum(v for _, v in items[MAX_BARS - 1:]))]
    top = max((v for _, v in items), default=1) or 1
    return [{"label": "other" if k == "__other__" else name(k), "count": v, "ratio": v / top} for k, v in items]


def charts(results: list[dict]) -> list[dict]:
    ok = [r for r in results if r.get("status") == "ok"]
    langs = Counter((r.get("language") or {}).get("code") or "?" for r in ok)
    groups = Counter(r["concepts"][0]["group"] or r["concepts"][0]["id"] if r.get("concepts") else "none recognised"
                     for r in ok)
    services = Counter(r.get("service") or "not stated" for r in ok)
    centres = Counter(r["routes"][0]["centre"]["name"] if r.get("routes") else "not routed" for r in ok)

    def lang_label(code: str) -> str:
        return f"{code} · {language_name(code, 'en')}" if code != "?" else "unknown"

    return [
        {"id": "chart-language", "title": "Requests by language", "bars": _bars(langs, lang_label)},
        {"id": "chart-pathology", "title": "Requests by pathology group (ICD-10 block)", "bars": _bars(groups)},
        {"id": "chart-service", "title": "Requests by service asked", "bars": _bars(
            services, lambda s: SERVICE_NAMES.get(s, s))},
        {"id": "chart-centre", "title": "Requests by routed centre (first route)", "bars": _bars(centres)},
    ]


def _priority(r: dict) -> tuple:
    codes = {x["code"] for x in r.get("review", [])}
    ranks = [REVIEW_PRIORITY.index(c) for c in codes if c in REVIEW_PRIORITY]
    return (min(ranks, default=len(REVIEW_PRIORITY)),)


def render_report(results: list[dict], source: str = "", generated: datetime | None = None) -> str:
    """The report's HTML (a complete document, UTF-8)."""
    generated = generated or datetime.now(timezone.utc)
    indexed = list(enumerate(results, 1))
    queue = sorted((x for x in indexed if x[1].get("needs_review")), key=lambda x: (_priority(x[1]), x[0]))
    ok = [r for r in results if r.get("status") == "ok"]
    stats = {
        "requests": len(results), "routed": sum(1 for r in ok if r.get("routes")),
        "review": len(queue), "failed": len(results) - len(ok),
        "languages": len({(r.get("language") or {}).get("code") for r in ok} - {None}),
    }
    return _env().get_template(TEMPLATE).render(
        results=indexed, queue=queue, charts=charts(results), stats=stats, source=source,
        generated=generated.strftime("%Y-%m-%d %H:%M UTC"), services=SERVICE_NAMES,
        language_name=lambda c: language_name(c, "en") if c else "unknown")


def write_report(path: str | Path, results: list[dict], source: str = "") -> None:
    """Render and write the report atomically (temporary file, then rename)."""
    from .triage import atomic_write
    html = render_report(results, source=source)
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(html)
