"""One error hierarchy for carematch, turned into output (exit codes, HTTP statuses) only at the edges.

Every error carries a stable ``code`` (a short snake_case id, usable as a JSON value) and a
message that says what is wrong, where, and what to do.
"""
from __future__ import annotations

from dataclasses import dataclass


class CarematchError(Exception):
    """Base of every error carmatch raises on purpose."""

    code = "error"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CarematchError):
    """The caller asked for something malformed (bad option value, unknown language tag...)."""

    code = "bad_request"
    http_status = 400


class QueryError(UsageError):
    """A search request that cannot be served as given (empty, too long, bad filter)."""

    code = "bad_query"


class NotFound(CarematchError):
    code = "not_found"
    http_status = 404


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a corpus file: printed as ``file:line: field: message (hint)``."""

    file: str
    line: int
    field: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = _one_line(self.field)
        text = f"{where}: {field}: {_one_line(self.message)}" if field else f"{where}: {_one_line(self.message)}"
        return f"{text} ({_one_line(self.hint)})" if self.hint else text


def _one_line(text: str) -> str:
    """``text`` with line breaks and other invisible characters escaped (a key of a record may hold
    them), so that a problem stays one ``file:line: field: message`` line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class CorpusError(CarematchError):
    """The corpus does not validate; ``problems`` lists every problem found, not just the first."""

    code = "corpus_invalid"
    http_status = 500

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        shown = "\n".join(str(p) for p in self.problems[:50])
        more = f"\n... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the corpus:\n{shown}{more}")


class IndexMissing(CarematchError):
    code = "index_missing"
    http_status = 503


class IndexCorrupt(CarematchError):
    """An index on disk is incomplete or damaged; it is never served half."""

    code = "index_corrupt"
    http_status = 503


class TerminologyError(CarematchError):
    """A terminology data file is malformed (file:line in the message)."""

    code = "terminology_invalid"
