"""What the reliability tests share: hostile text, figures, subprocesses, raw HTTP, corpora."""
from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PY = sys.executable
TOKEN = "reliability-operator-token-5d1e9"
# words that must never reach a log: health data stand-ins, unique enough to grep for
SECRET = "quetzal58213"
SECRET_QUERY = f"{SECRET} cancer du sein deuxième avis"

# --- the figures of the README's "Reliability" section ------------------------------------------

STATS: Counter = Counter()


def count(key: str, n: int = 1) -> None:
    """Add to one figure (``bench/reliability.py`` prints them): ``inputs.*``, ``faults.*``,
    ``load.*``."""
    STATS[key] += n


# --- hostile text -------------------------------------------------------------------------------

BIDI = ["\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u061c"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u034f", "\U000e0001",
             "\U000e0041"]
COMBINING = ["\u0301", "\u0308" * 30, "\u0e49" * 40, "\u0651\u064e", "\u3099", "\u20dd", "e\u0301\u0302\u0303",
             "Z\u0337\u0322\u031b\u0324a\u0335l\u0338g\u0337o\u0336"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b[31m", "\x7f", "\x85", "\x9b", "\u2028",
           "\u2029", "\t", "\ufffd", "\ufffe", "\uffff", "\U0010ffff", "\U0001fffe"]
EMOJI = ["\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "\U0001f3f3\ufe0f\u200d\U0001f308",
         "\U0001f1eb\U0001f1f7", "\U0001f44d\U0001f3fd", "\U0001f9ec", "\u2764\ufe0f", "\U0001f637"]
LOOKALIKE = ["\U0001d520\U0001d51e\U0001d52b\U0001d520\U0001d522\U0001d52f",  # mathematical "cancer"
             "\uff43\uff41\uff4e\uff43\uff45\uff52", "\u0441\u0430\u0441\u0441\u0435\u0440",  # fullwidth, Cyrillic
             "\u216b", "\u2460\u2461", "\u00b9\u00b2\u00b3", "\ufb01", "\u0130stanbul", "\u00df\u1e9e"]
# real patient words in several scripts, so that hostile pieces land next to recognised concepts
WORDS = ["cancer du sein", "Brustkrebs", "c\u00e1ncer de mama", "\u4e73\u817a\u764c", "\u4e73\u304c\u3093",
         "\uc720\ubc29\uc554", "\u0633\u0631\u0637\u0627\u0646 \u0627\u0644\u062b\u062f\u064a",
         "\u0633\u0631\u0637\u0627\u0646 \u0633\u06cc\u0646\u0647", "\u05e1\u05e8\u05d8\u05df \u05d4\u05e9\u05d3",
         "\u0440\u0430\u043a \u043b\u0435\u0433\u043a\u0438\u0445", "\u0938\u094d\u0924\u0928 \u0915\u0948\u0902\u0938\u0930",
         "\u03ba\u03b1\u03c1\u03ba\u03af\u03bd\u03bf\u03c2 \u03c4\u03bf\u03c5 \u03bc\u03b1\u03c3\u03c4\u03bf\u03cd",
         "ung th\u01b0 gan", "rak piersi", "meme kanseri", "kanker payudara", "leuc\u00e9mie enfant",
         "Hodgkin", "NSCLC", "sarcoma second opinion", "C50", "C50.9", "C40-C41", "c34.1", "Z99.9"]
# what a search syntax might read as operators
SYNTAX = ["*", "?", "~", "^2", "\"", "'", "\\", "(", ")", "[", "]", "{", "}", ":", "OR", "AND", "NOT", "-",
          "+", "text_fr:", "codes:C50", "C5*", "/.*/", "%", "%00", "%s", "{0}", "${x}", "{{7*7}}", "<", ">",
          "&amp;", "</script>", "' OR 1=1 --", "\\u0000", "NaN", "-1", "1e309", "0x41"]
PIECES = BIDI + INVISIBLE + COMBINING + CONTROL + EMOJI + LOOKALIKE + WORDS + SYNTAX + [" ", "  ", "\u3000", "\u00a0"]


def hostile_text(surrogates: bool = False, newlines: bool = True) -> st.SearchStrategy[str]:
    """Queries as no form would send them: any plane, bidi controls, zero-width joiners,
    combining sequences, emoji, NUL and control characters, 10,000 characters, punctuation or
    digits only, mixed scripts; lone surrogates too with ``surrogates`` (only a JSON escape can
    carry them); no line breaks without ``newlines``."""
    excluded = [] if surrogates else ["Cs"]
    any_char = st.characters(codec=None, exclude_categories=excluded)
    pieces = st.sampled_from(PIECES) | st.text(any_char, min_size=1, max_size=4)
    options = [
        st.text(any_char, max_size=60),
        st.lists(pieces, max_size=25).map("".join),
        st.text(st.characters(categories=["P", "S", "Zs"]), min_size=1, max_size=80),  # punctuation only
        st.text(st.characters(categories=["Nd", "Nl", "No"]), min_size=1, max_size=80),  # digits only
        st.lists(st.sampled_from(WORDS + LOOKALIKE), min_size=2, max_size=8).map(" ".join),  # mixed scripts
        st.builds(lambda piece, n: (piece * (n // len(piece) + 1))[:n],  # long: at, around and far past the limit
                  st.sampled_from(PIECES) | st.text(any_char, min_size=1, max_size=8),
                  st.sampled_from([999, 1000, 1001, 4000, 10_000])),
    ]
    if surrogates:
        options.append(st.lists(st.sampled_from(WORDS) | st.characters(categories=["Cs"]), min_size=1,
                                max_size=6).map(" ".join))
    text = st.one_of(options)
    if not newlines:
        text = text.map(lambda s: s.replace("\n", " ").replace("\r", " "))
    return text


# --- subprocesses -------------------------------------------------------------------------------

def child_env(extra: dict[str, str | None] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CAREMATCH_LOG_QUERIES", None)
    env["PYTHONIOENCODING"] = "utf-8"
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(args: list[str], *, timeout: float = 120, env: dict | None = None, input: bytes | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m search ARGS`` (or any argv starting with a path), bounded in time."""
    cmd = args if args and os.path.isabs(args[0]) else [PY, "-m", "search", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout, env=env or child_env(), input=input,
                          cwd=str(cwd or ROOT))


def guarded_env(guard_dir: Path, log: Path, extra: dict | None = None) -> dict[str, str]:
    """Environment of a child Python that loads the network guard, logging to ``log``."""
    path = os.environ.get("PYTHONPATH", "")
    return child_env({"PYTHONPATH": str(guard_dir) + (os.pathsep + path if path else ""),
                      "CAREMATCH_NETGUARD_LOG": str(log), **(extra or {})})


def guard_report(log: Path) -> tuple[int, list[str]]:
    """(processes that loaded the guard, attempts it refused)."""
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return (len({ln.split()[1] for ln in lines if ln.startswith("LOADED ")}),
            [ln for ln in lines if ln.startswith("BLOCKED ")])


class LineProcess:
    """A long-running ``carematch search --batch -``: one line in, one line out, each bounded in time."""

    def __init__(self, args: list[str], env: dict | None = None) -> None:
        self.proc = subprocess.Popen([PY, "-u", "-m", "search", *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or child_env(),
                                     cwd=str(ROOT))
        self.lines: queue.Queue = queue.Queue()
        self.stderr = bytearray()
        threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True).start()

    def _pump(self, stream, is_stdout: bool) -> None:
        for raw in iter(stream.readline, b""):
            if is_stdout:
                self.lines.put(raw)
            else:
                self.stderr += raw
        if is_stdout:
            self.lines.put(None)

    def ask(self, line: bytes, timeout: float = 20) -> bytes | None:
        """Send one line, return the one line answered (None when the process ended)."""
        self.proc.stdin.write(line)
        self.proc.stdin.flush()
        return self.lines.get(timeout=timeout)

    def close(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


# --- raw HTTP (what no well-behaved client sends) ---------------------------------------------------

def raw_http(port: int, request: bytes, timeout: float = 15) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are to 127.0.0.1:port; return status, headers (lowercase) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


# --- corpora --------------------------------------------------------------------------------------

# Script in every field a page or a report shows; the unique word "quokkaxss" finds these offers.
XSS = {
    "script": "<script>window.__pwned='script'</script>",
    "img": "<img src=x onerror=\"window.__pwned='img'\">",
    "attr": "\" autofocus onfocus=\"window.__pwned='attr'\" x=\"",
    "svg": "</q></p><svg onload=\"window.__pwned='svg'\"></svg>",
    "iframe": "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>",
    "template": "{{ 7*7 }}{% raw %}",
}


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def xss_centre() -> str:
    name = f"Centre quokkaxss {XSS['script']} {XSS['attr']}"
    city = f"Lyon{XSS['img']}"
    offers = []
    for n, (key, payload) in enumerate([("svg", XSS["svg"]), ("iframe", XSS["iframe"] + XSS["template"])], 1):
        offers.append(f"""
[[offer]]
id = "centre-xss-offer-{n}"
service = "second_opinion"
icd10 = ["C50"]
age_groups = ["adult"]
languages = ["fr", "en"]
delivery = "remote"
url = {_toml_str('https://example.org/"><script>window.__pwned="url"</script>')}

[offer.text.fr]
title = {_toml_str(f"quokkaxss avis {payload}")}
description = {_toml_str(f"quokkaxss description {XSS['script']}")}

[offer.text.en]
title = {_toml_str(f"quokkaxss opinion {payload}")}
description = {_toml_str(f"quokkaxss description {XSS['img']}")}
""")
    return f"""schema = 1

[centre]
id = "centre-xss"
name = {_toml_str(name)}
city = {_toml_str(city)}
region = {_toml_str(XSS['svg'])}
country = "FR"
kind = "cancer_centre"
networks = [{_toml_str(XSS['script'])}]
website = {_toml_str("https://example.org/'onmouseover='window.__pwned=1")}
office_languages = ["fr", "en"]
""" + "".join(offers)


def copy_bundled(dest: Path) -> Path:
    from samples import BUNDLED
    shutil.copytree(BUNDLED, dest)
    return dest


def wait_until(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
