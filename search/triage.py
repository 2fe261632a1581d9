"""Triage of an international patient office's inbox: route every request, say which need a human.

Contract (issue 7):

- :func:`read_input` reads JSON Lines, CSV (``id``, ``text``; optional ``lang``, ``country``,
  ``received_at``, ``subject``), one ``.eml`` file, a directory of ``.eml`` files or an mbox file
  into *records*, in input order. A record that cannot be used (bad JSON, no text, bad
  encoding) is kept, with an ``_error``, so that it is reported rather than lost; an input that
  cannot be read at all raises :class:`InputError`.
- :func:`triage_records` (``engine``, a list of record dicts) returns one result per record, in
  order; a request that fails carries ``error`` and never stops the others.
- Per request: the part of the message that matters (subject and body, without quoted history
  and signature, bounded to :data:`ANALYSIS_CHARS`), its language with a confidence, the
  pathology concepts (ICD-10, with the words that named them), service, age group, the patient's
  country when stated, the top 3 routes (centre, offer, score, why), a confidence, and
  ``needs_review`` with reasons (:data:`REVIEW_REASONS`).
- :func:`run_cli` backs ``carematch triage``: outputs are written atomically (a temporary file
  in the same directory, then ``os.replace``), a progress bar is drawn on a terminal, and the
  HTML report comes from :mod:`search.triage_report`.

Privacy: request texts are never logged; nothing here opens a network connection. The outputs
hold what was understood, with the words it was understood from and the subject line, not the
message body; they are created readable by their owner only (``mkstemp``'s mode 0600).
"""
from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import mailbox
import os
import re
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from email.utils import parsedate_to_datetime
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from .errors import CarematchError, UsageError
from .langid import LanguageGuess, identify_long
from .locales import normalize_country
from .textnorm import clean, fold, tokenize

__all__ = [
    "ANALYSIS_CHARS", "InputError", "MAX_TEXT_CHARS", "REVIEW_REASONS", "find_country", "parse_email",
    "read_csv", "read_eml_dir", "read_input", "read_jsonl", "read_mbox", "run_cli", "split_message",
    "triage_iter", "triage_one", "triage_records", "write_csv", "write_jsonl",
]

#: A request longer than this (characters, before any cleaning) is refused as malformed.
MAX_TEXT_CHARS = 200_000
#: How much of the cleaned subject + body the understanding step reads.
ANALYSIS_CHARS = 4000
#: Main texts longer than this go to langdetect (``identify_long``); shorter ones keep the
#: engine's short-text identification (py3langid with the lexicon as a prior).
LONG_TEXT_CHARS = 280
#: langdetect reads at most this many characters (it is linear in the length).
LANGDETECT_CHARS = 1500
#: A langdetect answer at least this sure replaces the short-text one for a long message.
LONG_TEXT_TRUST = 0.8
#: Below this language confidence a request is sent to a human.
MIN_LANGUAGE_CONFIDENCE = 0.5
MAX_ID_CHARS = 200
#: With no pathology recognised, routing falls back to the message's words: its first ones.
FALLBACK_WORDS = 60
ROUTES = 3

REVIEW_REASONS: dict[str, str] = {
    "failed": "The request could not be processed",
    "no_pathology": "No pathology recognised",
    "low_language_confidence": "Language uncertain",
    "several_pathologies": "Several unrelated pathologies",
    "not_covered": "A pathology no care offer covers",
    "child": "A child's request",
    "urgent": "Words of urgency",
    "no_route": "No care offer found",
    "bad_field": "A declared field was not understood",
}


class InputError(CarematchError):
    """The input as a whole cannot be read (missing file, unknown format, no ``text`` column)."""

    code = "input_unreadable"
    http_status = 400


# --- reading inputs ------------------------------------------------------------------------

def _error_record(rid: str, source: dict, code: str, message: str) -> dict:
    """A record the reader could not use: triage reports it with this error."""
    return {"id": rid, "source": source, "_error": {"code": code, "message": message}}


def _decode_line(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_jsonl(path: str | Path) -> list[dict]:
    """One JSON object a line; blank lines are skipped, every other line gives one record. A file
    holding one JSON array of objects (``[{...}, {...}]``) is read as well."""
    path = Path(path)
    data = _read_bytes(path)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        return _read_json_array(path, data)
    records = []
    for lineno, raw in enumerate(data.splitlines(), 1):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        source = {"format": "jsonl", "file": path.name, "line": lineno}
        line = _decode_line(raw)
        if line is None:
            records.append(_error_record(f"line {lineno}", source, "bad_encoding", f"line {lineno}: not valid UTF-8"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            records.append(_error_record(f"line {lineno}", source, "bad_json",
                                         f"line {lineno}: not valid JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(obj, dict):
            records.append(_error_record(f"line {lineno}", source, "bad_record",
                                         f"line {lineno}: expected a JSON object, got {type(obj).__name__}"))
            continue
        obj = dict(obj)
        obj["source"] = source
        if obj.get("id") in (None, ""):
            obj["id"] = f"line {lineno}"
            obj.setdefault("_missing_id", True)
        records.append(obj)
    return records


def _read_json_array(path: Path, data: bytes) -> list[dict]:
    try:
        items = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a JSON array of requests nor JSON Lines ({e})") from None
    records = []
    for i, obj in enumerate(items, 1):
        source = {"format": "json", "file": path.name, "item": i}
        if not isinstance(obj, dict):
            records.append(_error_record(f"item {i}", source, "bad_record",
                                         f"item {i}: expected a JSON object, got {type(obj).__name__}"))
            continue
        obj = dict(obj, source=source)
        if obj.get("id") in (None, ""):
            obj["id"], obj["_missing_id"] = f"item {i}", True
        records.append(obj)
    return records


def read_csv(path: str | Path) -> list[dict]:
    """A header row with at least ``id`` and ``text``; one record per following row."""
    path = Path(path)
    data = _read_bytes(path)
    text = data.decode("utf-8-sig", errors="surrogateescape")
    if csv.field_size_limit() < 2 * MAX_TEXT_CHARS:  # a long e-mail in one cell is still one request
        csv.field_size_limit(2 * MAX_TEXT_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path}: empty CSV file (expected a header row with id and text)") from None
    except csv.Error as e:
        raise InputError(f"{path}: not a CSV file ({e})") from None
    names = [h.strip().lower() for h in header]
    if "text" not in names:
        raise InputError(f"{path}: the CSV header has no 'text' column (found: {', '.join(names) or 'nothing'})")
    records = []
    row_no, last_line = 1, reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            row_no += 1
            records.append(_error_record(f"row {row_no}", {"format": "csv", "file": path.name, "row": row_no},
                                         "bad_csv", f"row {row_no}: {e}"))
            if reader.line_num == last_line:
                break  # no progress: stop rather than loop
            last_line = reader.line_num
            continue
        last_line = reader.line_num
        row_no += 1
        source = {"format": "csv", "file": path.name, "row": row_no, "line": reader.line_num}
        if not any(cell.strip() for cell in row):
            continue
        if any("\udc80" <= c <= "\udcff" for cell in row for c in cell):
            records.append(_error_record(f"row {row_no}", source, "bad_encoding", f"row {row_no}: not valid UTF-8"))
            continue
        if len(row) != len(names):
            rid = row[names.index("id")] if "id" in names and len(row) > names.index("id") else ""
            records.append(_error_record(rid or f"row {row_no}", source, "bad_row",
                                         f"row {row_no}: {len(row)} fields, the header has {len(names)}"))
            continue
        obj = dict(zip(names, row))
        obj = {k: (v if v.strip() else None) for k, v in obj.items() if k}
        obj["source"] = source
        if not obj.get("id"):
            obj["id"] = f"row {row_no}"
            obj["_missing_id"] = True
        records.append(obj)
    return records


class _HTMLText(HTMLParser):
    """Visible text of an HTML body (for e-mails without a plain-text part)."""

    SKIP = {"script", "style", "head", "title"}
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        elif tag == "blockquote" and self.quote:
            self.quote -= 1
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        if self.quote:  # quoted history in HTML mail: keep it marked as a quote
            data = "\n".join("> " + line for line in data.splitlines())
        self.parts.append(data)


def html_to_text(html: str) -> str:
    p = _HTMLText()
    try:
        p.feed(html)
        p.close()
    except Exception:  # noqa: BLE001 - a broken HTML body still gives what was parsed
        pass
    return "".join(p.parts)


def _part_text(part) -> tuple[str, str | None]:
    """Decoded text of one MIME part, and a warning when its charset had to be guessed."""
    try:
        return part.get_content(errors="replace"), None
    except (LookupError, UnicodeError):
        pass
    payload = part.get_payload(decode=True) or b""
    return payload.decode("utf-8", errors="replace"), f"unknown charset {part.get_content_charset()!r}, read as UTF-8"


def parse_email(data: bytes) -> dict:
    """Subject, plain-text body (HTML turned into text when there is no plain part), date,
    Message-ID and Content-Language of one RFC 5322 message. Raises ValueError when the
    message has no text at all."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    out: dict = {"warnings": []}
    try:
        out["subject"] = clean(str(msg.get("subject", "") or ""))
    except Exception:  # noqa: BLE001 - an undecodable header is left out, not fatal
        out["subject"] = ""
        out["warnings"].append("subject header could not be decoded")
    try:
        mid = str(msg.get("message-id", "") or "").strip().strip("<>")
    except Exception:  # noqa: BLE001
        mid = ""
    if mid:
        out["message_id"] = mid[:MAX_ID_CHARS]
    try:
        date = msg.get("date")
        if date:
            out["received_at"] = parsedate_to_datetime(str(date)).isoformat()
    except Exception:  # noqa: BLE001 - a bad Date header just gives no date
        pass
    try:
        lang = str(msg.get("content-language", "") or "").split(",")[0].strip()
        if lang:
            out["lang"] = lang
    except Exception:  # noqa: BLE001
        pass
    body_part = None
    try:
        body_part = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - malformed MIME structure
        body_part = None
    if body_part is None and not msg.is_multipart() and msg.get_content_maintype() == "text":
        body_part = msg
    body = ""
    if body_part is not None:
        body, warning = _part_text(body_part)
        if warning:
            out["warnings"].append(warning)
        if body_part.get_content_subtype() == "html":
            body = html_to_text(body)
    out["body"] = body
    if not any(c.isalnum() for c in body) and not any(c.isalnum() for c in out["subject"]):
        raise ValueError("the message has neither a subject nor a text part")
    return out


def _email_record(data: bytes, rid: str, source: dict) -> dict:
    try:
        parsed = parse_email(data)
    except Exception as e:  # noqa: BLE001 - one broken message is reported, the others go on
        try:
            mid = str(email.message_from_bytes(data, policy=email.policy.default).get("message-id", "") or "")
            if mid.strip().strip("<>"):
                source["message_id"] = mid.strip().strip("<>")[:MAX_ID_CHARS]
        except Exception:  # noqa: BLE001
            pass
        return _error_record(rid, source, "bad_email", f"{rid}: {e}")
    rec = {"id": rid, "text": parsed["body"], "subject": parsed["subject"], "source": source}
    if parsed.get("received_at"):
        rec["received_at"] = parsed["received_at"]
    if parsed.get("lang"):
        # mail clients set Content-Language from their own settings, not from what was written:
        # kept as information, never taken as the patient's declared language
        source["content_language"] = parsed["lang"][:35]
    if parsed.get("message_id"):
        source["message_id"] = parsed["message_id"]
    if parsed["warnings"]:
        rec["_warnings"] = parsed["warnings"]
    return rec


def read_eml_dir(path: str | Path) -> list[dict]:
    """Every ``*.eml`` file of a directory (not recursive), sorted by name; the id is the name."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".eml")
    if not files:
        raise InputError(f"{path}: no .eml file in this directory")
    out = []
    for f in files:
        source = {"format": "eml", "file": f.name}
        try:
            data = f.read_bytes()
        except OSError as e:
            out.append(_error_record(f.name, source, "unreadable", f"{f.name}: {e.strerror}"))
            continue
        out.append(_email_record(data, f.name, source))
    return out


_MBOX_FROM = re.compile(rb"(?m)^>(>*From )")


def read_mbox(path: str | Path) -> list[dict]:
    """Every message of an mbox file, in file order; the id is the Message-ID, else ``#n``."""
    path = Path(path)
    try:
        box = mailbox.mbox(str(path), create=False)
        keys = list(box.iterkeys())
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{path}: not a readable mbox file ({e})") from None
    if not keys and path.stat().st_size:
        box.close()
        raise InputError(f"{path}: no message found (an mbox file starts with a 'From ' line)")
    out = []
    try:
        for n, key in enumerate(keys, 1):
            source = {"format": "mbox", "file": path.name, "message": n}
            try:
                data = box.get_bytes(key)
            except Exception as e:  # noqa: BLE001
                out.append(_error_record(f"#{n}", source, "bad_email", f"message {n}: {e}"))
                continue
            data = _MBOX_FROM.sub(rb"\1", data)  # undo the ">From " quoting of mbox bodies
            rec = _email_record(data, f"#{n}", source)
            if source.get("message_id"):
                rec["id"] = source["message_id"]
            out.append(rec)
    finally:
        box.close()
    return out


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None


def read_input(path: str | Path) -> list[dict]:
    """Records of an inbox, whatever its form: a directory of ``.eml`` files, ``.jsonl``,
    ``.csv``, ``.eml``, ``.mbox``, or a file whose first bytes say which it is."""
    path = Path(path)
    if path.is_dir():
        return read_eml_dir(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path)
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".eml":
        data = _read_bytes(path)
        return [_email_record(data, path.name, {"format": "eml", "file": path.name})]
    if suffix in (".mbox", ".mbx"):
        return read_mbox(path)
    head = _read_bytes(path)[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"From "):
        return read_mbox(path)
    if head.startswith(b"{"):
        return read_jsonl(path)
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lower()
    if "text" in [c.strip() for c in first.split(",")]:
        return read_csv(path)
    raise InputError(f"{path}: cannot tell the format (use .jsonl, .csv, .eml, .mbox or a directory of .eml files)")


# --- what of a message matters ---------------------------------------------------------------

_COLON = r"\s*[:：]"
# "On Mon, 3 Jun 2024, Ahmed <a@b> wrote:" and its translations (the attribution line of a
# reply); German and Dutch put the name after the verb ("... schrieb Büro <o@x.org>:").
_WROTE = re.compile(
    r"(?:wrote|a écrit|escribió|escribio|schrieb|ha scritto|scrisse|escreveu|schreef|napisał\(a\)|"
    r"napisał|napisała|a scris|yazdı|написал\(а\)|написал|написала|пишет|пише|написав|"
    r"كتب|نوشت|כתב|כתבה|写道|寫道|のメッセージ|έγραψε|đã viết|ने लिखा|menulis)"
    r"(?:\s.{0,150})?[:：]?\s*$", re.IGNORECASE)
# A verbless attribution ("пн, 3 июн. 2024 г. в 10:00, Office <o@x.org>:") before quoted lines.
_ADDRESS_COLON = re.compile(r"<[^<>\s]+@[^<>\s]+>\s*[:：]\s*$")
_ATTRIBUTION_START = re.compile(
    r"^\s*(?:on|le|el|am|il|em|op|w dniu|în|pe|в|у|στις|vào|pada|dne|[0-9])\b", re.IGNORECASE)
_FORWARD = re.compile(
    r"^\s*-{2,}\s*(?:original message|forwarded message|message d'origine|message transféré|"
    r"mensaje original|mensaje reenviado|ursprüngliche nachricht|weitergeleitete nachricht|"
    r"messaggio originale|messaggio inoltrato|mensagem original|mensagem encaminhada|"
    r"oorspronkelijk bericht|doorgestuurd bericht|wiadomość oryginalna|przekazana wiadomość|"
    r"mesaj original|mesaj redirecționat|orijinal ileti|исходное сообщение|пересылаемое сообщение|"
    r"пересланное сообщение|оригінальне повідомлення|переслане повідомлення|الرسالة الأصلية|"
    r"رسالة معاد توجيهها|پیام اصلی|הודעה מקורית|原始邮件|转发的邮件|元のメッセージ|전달된 메시지|원본 메시지|"
    r"thư gốc|αρχικό μήνυμα|pesan asli|pesan terusan)\s*-*\s*$", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*\**(?:from|de|von|da|van|od|от|від|من|از|מאת|发件人|寄件者|差出人|보낸\s*사람|"
                          r"từ|από|dari|kimden|expeditor|remetente)\**" + _COLON, re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\**(?:sent|date|envoyé|gesendet|datum|enviado|enviada|fecha|inviato|data|"
                          r"verzonden|wysłano|wysłane|trimis|tarih|gönderildi|отправлено|дата|надіслано|"
                          r"to|à|an|para|a|aan|do|către|kime|кому|التاريخ|تاريخ|ارسال|נשלח|发送时间|日期|"
                          r"送信日時|보낸\s*날짜|ngày gửi|στάλθηκε|dikirim|subject|objet|betreff|asunto|"
                          r"oggetto|assunto|onderwerp|temat|subiect|konu|тема|الموضوع|موضوع|נושא|主题|件名|제목|"
                          r"chủ đề|θέμα|perihal)\**" + _COLON, re.IGNORECASE)
_SIG_DASHES = re.compile(r"^\s*(?:--|__{4,}|—{2,}|-{5,}|={5,})\s*$")
_MOBILE = re.compile(
    r"^\s*(?:sent from my|sent from|envoyé de mon|envoyé depuis|enviado desde mi|enviado desde|"
    r"von meinem|gesendet von|inviato da|enviado do meu|enviado do|verzonden vanaf|verzonden met|"
    r"wysłane z|trimis de pe|отправлено с|надіслано з|get outlook for|télécharger outlook|"
    r"iphone'umdan gönderildi)\b", re.IGNORECASE)
# Closing words that start a signature, folded (lowercase, no trailing punctuation).
_CLOSINGS = frozenset(c.casefold() for c in (
    "best regards", "kind regards", "regards", "warm regards", "best wishes", "sincerely",
    "yours sincerely", "yours faithfully", "yours truly", "thank you", "thanks", "many thanks",
    "thanks in advance", "thank you in advance", "thank you very much", "cheers", "best",
    "cordialement", "bien cordialement", "bien à vous", "salutations", "sincères salutations",
    "meilleures salutations", "salutations distinguées", "merci", "merci d'avance",
    "merci par avance", "merci beaucoup", "respectueusement", "avec mes remerciements",
    "saludos", "un saludo", "saludos cordiales", "atentamente", "cordialmente", "muchas gracias",
    "gracias", "gracias de antemano", "un cordial saludo", "mit freundlichen grüßen",
    "mit freundlichen grüssen", "freundliche grüße", "viele grüße", "beste grüße", "liebe grüße",
    "herzliche grüße", "vielen dank", "danke", "mfg", "hochachtungsvoll", "cordiali saluti",
    "distinti saluti", "saluti", "grazie", "grazie mille", "un saluto", "atenciosamente",
    "cumprimentos", "com os melhores cumprimentos", "obrigado", "obrigada", "muito obrigado",
    "muito obrigada", "saudações", "met vriendelijke groet", "met vriendelijke groeten",
    "vriendelijke groet", "groeten", "hartelijke groet", "bedankt", "alvast bedankt",
    "dank u wel", "z poważaniem", "pozdrawiam", "z wyrazami szacunku", "dziękuję",
    "serdecznie pozdrawiam", "cu stimă", "cu respect", "mulțumesc", "cu drag", "saygılarımla",
    "saygılar", "teşekkürler", "teşekkür ederim", "с уважением", "спасибо", "заранее спасибо",
    "всего доброго", "с наилучшими пожеланиями", "з повагою", "дякую", "заздалегідь дякую",
    "مع تحياتي", "مع خالص التحيات", "مع أطيب التحيات", "شكرا", "شكراً", "وشكرا", "شكرا جزيلا",
    "مع الشكر", "تحياتي", "با احترام", "با سپاس", "سپاسگزارم", "با تشکر", "בברכה", "תודה",
    "תודה רבה", "בכבוד רב", "此致", "此致敬礼", "此致 敬礼", "谢谢", "祝好", "顺祝商祺",
    "よろしくお願いします", "よろしくお願いいたします", "敬具", "ありがとうございます", "감사합니다",
    "trân trọng", "xin cảm ơn", "cảm ơn", "धन्यवाद", "सादर", "भवदीय", "με εκτίμηση", "ευχαριστώ",
    "φιλικά", "με φιλικούς χαιρετισμούς", "hormat saya", "salam", "terima kasih", "salam hormat",
    "wassalam",
))
_CLOSING_TRIM = " \t,.;:!！。、…-—–~*"
MAX_SIGNATURE_LINES = 12


def _is_closing(line: str) -> bool:
    s = line.strip().strip(_CLOSING_TRIM).casefold()
    if not s or len(s) > 48:
        return False
    if s in _CLOSINGS:
        return True
    # "Best regards, Ahmed" / "Cordialement, Dr X"
    head = re.split(r"[,،，]", s, maxsplit=1)[0].strip(_CLOSING_TRIM)
    return head in _CLOSINGS and len(s) <= 40


_PROSE_END = re.compile(r"[.!?。！？]\s*$|[?？]")


def _is_prose(line: str) -> bool:
    """A sentence rather than a signature line (name, title, address, phone)."""
    return len(line.split()) >= 5 and bool(_PROSE_END.search(line.strip()))


def _signature_start(lines: list[str]) -> int | None:
    """Index of the line that starts the signature, or None. Looked for in the last
    :data:`MAX_SIGNATURE_LINES` non-empty lines: a ``--`` delimiter or a mobile "Sent from my..."
    line always starts one; a closing ("Best regards", "Cordialement") does when no sentence
    follows it (so "Merci." before the message's last sentence is not taken for one)."""
    window_start, count = len(lines), 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            count += 1
            if count > MAX_SIGNATURE_LINES + 1:
                break
        window_start = i
    strong = [i for i in range(window_start, len(lines)) if _SIG_DASHES.match(lines[i]) or _MOBILE.match(lines[i])]
    for i in range(window_start, len(lines)):
        if i in strong:
            return i
        if _is_closing(lines[i]):
            stop = next((k for k in strong if k > i), len(lines))
            if not any(_is_prose(lines[k]) for k in range(i + 1, stop)):
                return i
    return None


def split_message(text: str) -> tuple[str, str, str]:
    """``(main, quoted, signature)`` of a message body.

    Quoted history (``>`` lines, a reply's attribution line "On ... wrote:" and what follows,
    forwarded or Outlook-style header blocks) and the signature (after ``--``, a mobile
    "Sent from my ...", or a closing such as "Best regards" / "Cordialement" / "С уважением"
    near the end) are set aside so that they do not mislead language or pathology detection.
    When setting them aside would leave no text, the whole body is kept as main.

    >>> main, quoted, sig = split_message("My mother has breast cancer.\\n\\nBest regards,\\nJohn\\n\\n"
    ...                                   "On Mon, 3 Jun 2024, Office <o@x.org> wrote:\\n> Dear patient")
    >>> main, sig.splitlines()[0]
    ('My mother has breast cancer.', 'Best regards,')
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if _FORWARD.match(line):
            cut = i
            break
        if len(line) < 300 and (_WROTE.search(line) or _ADDRESS_COLON.search(line)):
            start = i
            if i > 0 and lines[i - 1].strip() and _ATTRIBUTION_START.match(lines[i - 1]) and len(lines[i - 1]) < 200:
                start = i - 1  # the attribution line wrapped
            following = next((x for x in lines[i + 1:] if x.strip()), "")
            if following.lstrip().startswith(">") or (_WROTE.search(line) and _ATTRIBUTION_START.match(lines[start])):
                cut = start
                break
        if _HEADER_FROM.match(line) and any(_HEADER_NEXT.match(nxt) for nxt in lines[i + 1:i + 5]):
            cut = i
            break
    body, quoted = lines[:cut], lines[cut:]
    kept, quoted_inline = [], []
    for line in body:
        (quoted_inline if line.lstrip().startswith(">") else kept).append(line)
    sig_at = _signature_start(kept)
    main_lines, sig_lines = (kept[:sig_at], kept[sig_at:]) if sig_at is not None else (kept, [])
    main = "\n".join(main_lines).strip()
    if not any(c.isalpha() for c in main):
        # nothing left: better the whole message than nothing
        main = "\n".join(kept).strip() or text.strip()
        sig_lines = []
    quoted_text = "\n".join(quoted_inline + quoted).strip()
    return main, quoted_text, "\n".join(sig_lines).strip()


_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|tr|aw|wg|sv|vs|rv|r|antw|odp|pd|ynt|ilt|ответ|отв|"
                             r"回复|回覆|答复|转发|返信|転送|답장|전달|رد|תגובה|השב)\s*(?:\[\d+\])?\s*[:：]\s*)+",
                             re.IGNORECASE)


def clean_subject(subject: str) -> str:
    """A subject without its reply/forward prefixes ("Re: Fwd: TR:")."""
    return _SUBJECT_PREFIX.sub("", subject or "").strip()


# --- the patient's country ---------------------------------------------------------------------

# Words after which a country name says where the patient is or comes from ("from Morocco",
# "du Maroc", "aus Russland", "من المغرب", "из Казахстана"), folded as textnorm folds them.
_BEFORE_CUES = frozenset(fold(w) for w in (
    "from", "in", "live", "living", "lives", "based", "du", "de", "des", "d", "depuis", "en", "au", "aux",
    "desde", "del", "aus", "im", "in", "dal", "dalla", "dall", "dai", "da", "do", "no", "na", "em",
    "uit", "van", "z", "ze", "w", "we", "din", "în", "из", "с", "з", "із", "в", "во", "у", "من", "في", "از", "در",
    "από", "στην", "στη", "στο", "στον", "dari", "di", "từ", "ở", "tại",
))
# Words between the cue and the name ("from the United Arab Emirates", "από την Ελλάδα")
_SKIP_WORDS = frozenset(fold(w) for w in ("the", "le", "la", "l", "les", "el", "los", "las", "der", "dem",
                                          "den", "die", "het", "την", "τη", "το", "τον", "τις", "του", "της"))
# Postpositions: Turkish case suffixes after an apostrophe ("Fas'tan", "Azerbaycan'da"), Hindi से/में
_TR_SUFFIXES = frozenset({"dan", "den", "tan", "ten", "da", "de", "ta", "te", "yim", "lıyım", "liyim", "luyum"})
_HI_AFTER = frozenset({"से", "में"})
# Names Babel does not list, or lists under another form; None: ambiguous, never guessed.
_COUNTRY_ALIASES: dict[str, str | None] = {
    "turkey": "TR", "turquie": "TR", "usa": "US", "uae": "AE", "eau": "AE", "ksa": "SA", "السعودية": "SA",
    "rdc": "CD", "drc": "CD", "congo": None, "الامارات": "AE", "россии": "RU", "russland": "RU",
}
# French places are where patients want care, not where they come from.
_DESTINATION = frozenset({"FR"})
# Cities that name one country (what patients write: "diagnosed in Casablanca"), folded.
_CITY_NAMES: dict[str, tuple[str, ...]] = {
    "MA": ("Casablanca", "Rabat", "Marrakech", "Marrakesh", "Fès", "Tanger", "Tangier", "Agadir", "Oujda",
           "Meknès", "الدار البيضاء", "الرباط", "مراكش", "فاس", "طنجة"),
    "DZ": ("Alger", "Algiers", "Oran", "Annaba", "Sétif", "Tlemcen", "وهران"),
    "TN": ("Tunis", "Sfax", "Sousse", "صفاقس"),
    "SN": ("Dakar",), "CI": ("Abidjan",), "CM": ("Douala", "Yaoundé"), "ML": ("Bamako",),
    "GA": ("Libreville",), "CD": ("Kinshasa", "Lubumbashi"), "MG": ("Antananarivo",),
    "LB": ("Beyrouth", "Beirut", "Beirut", "بيروت"), "EG": ("Le Caire", "Cairo", "El Cairo", "Kairo", "القاهرة"),
    "SA": ("Riyadh", "Riyad", "Riad", "Jeddah", "Djeddah", "الرياض", "جدة"),
    "AE": ("Dubai", "Dubaï", "Abu Dhabi", "Abou Dabi", "دبي", "أبوظبي", "ابوظبي"),
    "QA": ("Doha", "الدوحة"), "JO": ("Amman", "عمان"), "IQ": ("Bagdad", "Baghdad", "بغداد", "Erbil"),
    "RU": ("Москва", "Москве", "Moscow", "Moscou", "Moskau", "Mosca", "Moscú", "Moskwa", "Санкт-Петербург",
           "Санкт-Петербурге", "Новосибирск", "Екатеринбург"),
    "UA": ("Kyiv", "Kiev", "Київ", "Києві", "Киев", "Харків", "Kharkiv", "Львів", "Lviv", "Дніпро", "Одеса"),
    "KZ": ("Almaty", "Алматы", "Astana", "Астана"), "UZ": ("Tashkent", "Ташкент", "Toshkent"),
    "AZ": ("Baku", "Bakou", "Баку", "Bakı"), "AM": ("Yerevan", "Erevan", "Ереван"), "GE": ("Tbilisi", "Тбилиси"),
    "BY": ("Minsk", "Минск", "Мінск"), "MD": ("Chișinău", "Chisinau", "Кишинёв", "Кишинев"),
    "TR": ("Istanbul", "İstanbul", "Ankara", "İzmir", "Izmir", "Bursa", "Antalya"),
    "IR": ("Tehran", "Téhéran", "Teheran", "تهران", "مشهد", "اصفهان", "شیراز", "تبریز"),
    "IL": ("Tel Aviv", "תל אביב", "Haifa", "חיפה"),
    "CN": ("Beijing", "Pékin", "Peking", "Shanghai", "Guangzhou", "Shenzhen", "北京", "上海", "广州", "深圳"),
    "JP": ("Tokyo", "Tokio", "東京", "Osaka", "大阪"), "KR": ("Seoul", "Séoul", "서울", "Busan", "부산"),
    "VN": ("Hanoi", "Hà Nội", "Ho Chi Minh", "Hồ Chí Minh", "Saigon", "Sài Gòn", "Đà Nẵng"),
    "IN": ("Mumbai", "Delhi", "New Delhi", "Bangalore", "Bengaluru", "Kolkata", "Chennai", "Hyderabad",
           "मुंबई", "दिल्ली"),
    "ID": ("Jakarta", "Surabaya", "Bandung", "Medan"), "GR": ("Athens", "Athènes", "Athen", "Αθήνα",
                                                              "Θεσσαλονίκη", "Thessaloniki"),
    "RO": ("Bucharest", "Bucarest", "București", "Bukarest", "Cluj-Napoca", "Timișoara", "Iași"),
    "PL": ("Warsaw", "Varsovie", "Warszawa", "Warschau", "Kraków", "Krakow", "Wrocław", "Gdańsk", "Poznań"),
    "BR": ("São Paulo", "Sao Paulo", "Rio de Janeiro", "Brasília", "Belo Horizonte"),
    "AR": ("Buenos Aires",), "CO": ("Bogotá", "Bogota", "Medellín"), "MX": ("Ciudad de México",),
    "PT": ("Lisbon", "Lisbonne", "Lisboa", "Lissabon"), "ES": ("Madrid", "Barcelona", "Barcelone", "Sevilla"),
    "NL": ("Amsterdam", "Rotterdam"), "DE": ("Berlin", "München", "Hamburg", "Frankfurt"),
    "PK": ("Karachi", "Lahore", "Islamabad"), "KW": ("الكويت",), "LY": ("Tripoli", "طرابلس", "Benghazi"),
}
_CJK_PRE = ("来自", "來自", "从", "從", "住在", "我在", "在")
_CJK_POST = ("から", "出身", "在住", "에서", "출신", "에 살")
_CJK_SCRIPTS = frozenset({"han", "hiragana", "katakana", "hangul"})
_CASED = frozenset({"latin", "cyrillic", "greek"})


class _Gazetteer:
    """City names (folded token tuples, indexed by their first key) -> country, and CJK country
    and city names indexed by first and last character; built once, on first use."""

    def __init__(self) -> None:
        self.cities: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        cjk: dict[str, str] = {}
        cjk_cities: dict[str, str] = {}
        for code, names in _CITY_NAMES.items():
            for name in names:
                toks = tokenize(clean(name))
                if toks and toks[0].script in _CJK_SCRIPTS:
                    cjk_cities[name] = code
                else:
                    keys = tuple(fold(t.text, t.script) for t in toks)
                    self.cities.setdefault(keys[0], []).append((keys, code))
        for entries in self.cities.values():
            entries.sort(key=lambda e: -len(e[0]))  # longest first
        from babel import Locale
        for lang in ("zh", "ja", "ko"):
            for code, name in Locale.parse(lang).territories.items():
                if len(code) == 2 and code.isalpha() and len(name) >= 2:
                    cjk.setdefault(name, code)
        cjk.update(cjk_cities)
        self.cjk_cities = cjk_cities
        self.cjk_first: dict[str, list[tuple[str, str]]] = {}
        self.cjk_last: dict[str, list[tuple[str, str]]] = {}
        for name, code in sorted(cjk.items(), key=lambda kv: -len(kv[0])):
            self.cjk_first.setdefault(name[0], []).append((name, code))
            self.cjk_last.setdefault(name[-1], []).append((name, code))


_GAZ: _Gazetteer | None = None


def _gazetteer() -> _Gazetteer:
    global _GAZ
    if _GAZ is None:
        _GAZ = _Gazetteer()
    return _GAZ


@lru_cache(maxsize=8192)
def _country_of(name: str) -> str | None:
    key = " ".join(fold(t.text, t.script) for t in tokenize(clean(name)))
    if key in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[key]
    if len(key) < 3:  # "in", "de", "us": two letters in running text are words, not ISO codes
        return None
    return normalize_country(name)


_OBLIQUE_CUES = frozenset({"z", "ze", "w", "we"})  # Polish: the name follows in the genitive/locative


def _inflections(word: str) -> list[str]:
    """Nominative guesses for a country name in an oblique case after a preposition
    (Russian/Ukrainian/Polish: "из России", "в Казахстане", "з України", "z Polski")."""
    if len(word) < 4:
        return []
    out = []
    if word.endswith(("ии", "ії")):
        out.append(word[:-1] + "я")  # России -> Россия, Росії -> Росія
    for ending, repl in (("ы", "а"), ("и", "а"), ("и", "ь"), ("я", "ь"), ("а", ""), ("у", ""), ("е", ""),
                         ("i", "a"), ("y", "a"), ("a", "o"), ("u", "")):
        if word.endswith(ending):
            out.append(word[: -len(ending)] + repl)
    return out


def find_country(text: str, tokens: list | None = None) -> tuple[str | None, str | None]:
    """The patient's country when the text states it, and the words that say so.

    Found: a country name after "from"/"in"-type words in the 22 languages ("from Morocco",
    "du Maroc", "aus Russland", "من المغرب", "из Казахстана", "Fas'tan", "来自摩洛哥"), or a city
    that names one country ("diagnosed in Casablanca"). France is where care is sought, never
    the patient's country here. When two different countries are stated, none is returned:
    a human reads it rather than a guess. ``tokens``: the text's tokens when the caller has them
    (``text`` must then be the cleaned text they were made from).

    >>> find_country("My father was diagnosed with lung cancer in Casablanca")
    ('MA', 'Casablanca')
    >>> find_country("Je viens du Maroc pour un deuxième avis en France")
    ('MA', 'Maroc')
    >>> find_country("We want treatment in France")
    (None, None)
    """
    if tokens is None:
        text = clean(text)
        tokens = tokenize(text)
    if not text:
        return None, None
    toks = tokens
    keys = [fold(t.text, t.script) for t in toks]
    gaz = _gazetteer()
    found: list[tuple[str, str]] = []

    def add(code: str | None, a: int, b: int) -> None:
        if code and code not in _DESTINATION:
            found.append((code, text[toks[a].start:toks[b - 1].end]))

    n = len(toks)
    i = 0
    while i < n:
        # cities, anywhere
        hit = None
        for names, code in gaz.cities.get(keys[i], ()):
            if tuple(keys[i:i + len(names)]) == names:
                hit = (code, len(names))
                break
        if hit:
            add(hit[0], i, i + hit[1])
            i += hit[1]
            continue
        key = keys[i]
        script = toks[i].script
        if key in _BEFORE_CUES:
            j = i + 1
            while j < n and keys[j] in _SKIP_WORDS and j < i + 3:
                j += 1
            if j >= n or (toks[j].script in _CASED and not toks[j].text[:1].isupper()):
                i += 1
                continue  # country names are written with a capital in these scripts
            for width in (4, 3, 2, 1):
                if j + width > n:
                    continue
                span = text[toks[j].start:toks[j + width - 1].end]
                code = _country_of(span)
                if code is None and width == 1 and (toks[j].script == "cyrillic" or key in _OBLIQUE_CUES):
                    for guess in _inflections(toks[j].text):
                        code = _country_of(guess)
                        if code:
                            break
                if code:
                    add(code, j, j + width)
                    i = j + width - 1
                    break
        elif script == "arabic" and len(key) >= 3 and (toks[i].text.startswith(("بال", "لل"))):
            add(_country_of(toks[i].text), i, i + 1)  # "بالمغرب": in Morocco
        elif script == "hebrew" and toks[i].text[:1] in ("מ", "ב") and len(toks[i].text) > 3:
            add(_country_of(toks[i].text[1:]), i, i + 1)  # "ממרוקו": from Morocco
        elif (key in _TR_SUFFIXES and i > 0 and text[toks[i].start - 1:toks[i].start] in ("'", "’")) \
                or key in _HI_AFTER:
            for width in (3, 2, 1):
                if i - width < 0:
                    continue
                code = _country_of(text[toks[i - width].start:toks[i - 1].end])
                if code:
                    add(code, i - width, i)
                    break
        i += 1

    if any(t.script in _CJK_SCRIPTS for t in toks):
        # no spaces: a name right after "来自/从/在" or right before "から/出身/에서"; a city anywhere
        for cue in _CJK_PRE:
            pos = text.find(cue)
            while pos >= 0:
                rest = text[pos + len(cue):]
                for name, code in gaz.cjk_first.get(rest[:1], ()):
                    if rest.startswith(name):
                        found.append((code, name))
                        break
                pos = text.find(cue, pos + 1)
        for cue in _CJK_POST:
            pos = text.find(cue)
            while pos > 0:
                before = text[:pos]
                for name, code in gaz.cjk_last.get(before[-1], ()):
                    if before.endswith(name):
                        found.append((code, name))
                        break
                pos = text.find(cue, pos + 1)
        for name, code in gaz.cjk_cities.items():
            if name in text:
                found.append((code, name))
        found = [(code, name) for code, name in found if code not in _DESTINATION]

    codes = list(dict.fromkeys(code for code, _ in found))
    if len(codes) != 1:
        return None, None
    return codes[0], found[0][1]


# --- triage of one request ---------------------------------------------------------------------

def _text_field(rec: dict, key: str) -> str | None:
    value = rec.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _RecordError("bad_field", f"{key}: must be text, not {type(value).__name__}")


class _RecordError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _blocks(term, concept) -> set[str]:
    """The ICD-10 blocks (or chapters, for codes outside any block) a concept's codes lie in."""
    bb = term.backbone
    out: set[str] = set()
    for code in concept.icd10:
        first = code.split("-")[0]
        node = code if bb.kind(code) == "block" else None
        if node is None:
            for anc in bb.ancestors(code if bb.exists(code) else first):
                if bb.kind(anc) in ("block", "chapter"):
                    node = anc
                    break
        out.add(node or first[:3])
    return out


def _group_label(term, block: str) -> str:
    label = term.backbone.label(block, "en") if term.backbone.exists(block) else None
    return f"{block} {label}" if label else block


class _Coverage:
    """ICD-10 categories the care offers of one index snapshot cover (general ranges such as
    "all cancers" excluded), computed once per snapshot."""

    def __init__(self) -> None:
        self.digest = None
        self.categories: frozenset[str] = frozenset()

    def get(self, engine) -> frozenset[str] | None:
        snap = getattr(engine, "_snap", None)
        docs = getattr(snap, "docs", None)
        if docs is None:
            return None
        if snap.digest != self.digest:
            from .icd10 import categories, range_width
            from .ranking import GENERAL_RANGE_WIDTH
            cats: set[str] = set()
            for doc in docs:
                for code in (doc or {}).get("icd10", ()):
                    try:
                        if "-" in code and range_width(code) > GENERAL_RANGE_WIDTH:
                            continue
                        cats |= categories(code)
                    except ValueError:
                        continue
            self.categories, self.digest = frozenset(cats), snap.digest
        return self.categories


_COVERAGE: dict[int, _Coverage] = {}


def _covered(engine, concept) -> bool | None:
    cov = _COVERAGE.setdefault(id(engine), _Coverage()).get(engine)
    if cov is None:
        return None
    return bool(concept.categories & cov)


def _concept_facts(engine, concept) -> tuple[set[str], str, str | None, bool | None]:
    """ICD-10 blocks, English label, chart group and corpus coverage of a concept (cached)."""
    key = (id(engine), engine.digest, concept.id, concept.icd10)
    hit = _FACT_CACHE.get(key)
    if hit is None:
        term = engine.terminology
        blocks = _blocks(term, concept)
        hit = (blocks, term.label(concept, "en"), _group_label(term, sorted(blocks)[0]) if blocks else None,
               _covered(engine, concept))
        _FACT_CACHE.put(key, hit)
    return hit


def _english_why(result: dict, label_en: str) -> list[str]:
    """The ranking's reasons in English for the office staff (the search output gives them in
    the patient's language), rebuilt from the result's ``explanation``."""
    from . import explain
    from .ranking import Verdict
    try:
        rules = sorted(result.get("explanation", {}).items(), key=lambda kv: kv[1].get("order", 0))
        verdicts = [Verdict(rule, None if ev.get("skipped") else ev.get("score"),
                            {k: v for k, v in ev.items() if k not in ("order", "score", "weight", "skipped")})
                    for rule, ev in rules]
        return [w["text"] for w in explain.why(verdicts, "en", label_en, result["centre"]["city"])]
    except Exception:  # noqa: BLE001 - the patient-language reasons are still right
        return [w["text"] for w in result.get("why", [])]


class _LRU:
    """A small thread-safe LRU map (routes and concept facts already computed)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.data: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self.lock:
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)


_ROUTES = _LRU()
_FACT_CACHE = _LRU()


def _route(engine, u) -> list[dict]:
    """The top routes of a triaged request, with their reasons in English for the office and in
    the patient's language.

    Triage routes on what it understood (pathology concepts, language, service, age group,
    place, country), not on the other words of a long e-mail (greetings, history, logistics):
    those would turn the full-text rule into noise. So two requests understood alike route
    alike, and in an inbox, where the same pathologies come back in the same languages, most
    routes come from the cache. A request with no recognised pathology keeps its first
    :data:`FALLBACK_WORDS` words (the only signal left) and is not cached."""
    if not u.concepts:
        if len(u.match.tokens) > FALLBACK_WORDS:  # a full-text query over a whole e-mail: its start
            u = replace(u, match=replace(u.match, tokens=u.match.tokens[:FALLBACK_WORDS]))
        return _routes(engine.route(u, limit=ROUTES), "")
    engine.refresh()  # a new index snapshot must not be answered from the old one's routes
    key = (id(engine), engine.digest, tuple(m.concept.id for m in u.concepts), u.language.code, u.service,
           u.age_group, u.place, u.country)
    hit = _ROUTES.get(key)
    if hit is not None:
        return hit
    from .matcher import MatchResult
    words = " ".join(m.matched for m in u.concepts)
    slim = replace(u, text=words, match=MatchResult(words, [], list(u.concepts), set(), dict(u.match.languages)),
                   intent=replace(u.intent, evidence=()))
    routes = _routes(engine.route(slim, limit=ROUTES), engine.terminology.label(u.concepts[0].concept, "en"))
    _ROUTES.put(key, routes)
    return routes


def _routes(routed: dict, label_en: str) -> list[dict]:
    return [{
        "rank": rank, "centre": {k: r["centre"].get(k) for k in ("id", "name", "city", "website")},
        "offer_id": r["offer_id"], "title": r["title"], "service": r["service"], "score": r["score"],
        "url": r.get("url"), "languages": r.get("languages", []),
        "why": _english_why(r, label_en),
        "why_patient": [w["text"] for w in r.get("why", [])],
    } for rank, r in enumerate(routed["results"], 1)]


def _reason(code: str, detail: str = "") -> dict:
    out = {"code": code, "text": REVIEW_REASONS[code]}
    if detail:
        out["detail"] = detail
    return out


def triage_one(engine, rec: dict, *, seen_ids: set[str] | None = None) -> dict:
    """Understand and route one request; a malformed request gives a result with ``error``."""
    t0 = time.perf_counter()
    if not isinstance(rec, dict):
        return _failed({"id": None}, "bad_record", f"expected an object, got {type(rec).__name__}", t0)
    err = rec.get("_error")
    if isinstance(err, dict):  # set by a reader
        return _failed(rec, str(err.get("code", "bad_record")), str(err.get("message", "malformed request")), t0)
    try:
        return _triage(engine, rec, t0, seen_ids)
    except _RecordError as e:
        return _failed(rec, e.code, e.message, t0)
    except CarematchError as e:
        return _failed(rec, e.code, e.message, t0)
    except Exception as e:  # noqa: BLE001 - one request's failure is reported, never a crash
        return _failed(rec, "internal_error", f"{type(e).__name__} while routing this request", t0)


def _base(rec: dict) -> dict:
    rid = rec.get("id")
    if rid is not None and not isinstance(rid, str):
        rid = str(rid) if isinstance(rid, (int, float)) and not isinstance(rid, bool) else None
    out = {"id": rid[:MAX_ID_CHARS] if isinstance(rid, str) else None}
    if isinstance(rec.get("source"), dict):
        out["source"] = rec["source"]
    if isinstance(rec.get("received_at"), str):
        out["received_at"] = rec["received_at"][:64]
    return out


def _failed(rec: dict, code: str, message: str, t0: float) -> dict:
    out = _base(rec)
    out.update({"status": "error", "error": {"code": code, "message": message},
                "needs_review": True, "review": [_reason("failed", message)],
                "took_ms": round((time.perf_counter() - t0) * 1000, 3)})
    return out


def _triage(engine, rec: dict, t0: float, seen_ids: set[str] | None) -> dict:
    out = _base(rec)
    if out["id"] is None:
        raise _RecordError("bad_field", "id: missing (give each request an id)")
    text = _text_field(rec, "text")
    subject = _text_field(rec, "subject") or ""
    if text is None or not (text.strip() or subject.strip()):
        raise _RecordError("empty_text", "text: missing or empty")
    if len(text) + len(subject) > MAX_TEXT_CHARS:
        raise _RecordError("too_long", f"text: longer than {MAX_TEXT_CHARS} characters ({len(text)})")
    review: list[dict] = []
    warnings = [w for w in rec.get("_warnings", ()) if isinstance(w, str)] if isinstance(
        rec.get("_warnings"), list) else []
    if rec.get("_missing_id") is True:
        warnings.append("no id given: the input position is used")
    if seen_ids is not None:
        if out["id"] in seen_ids:
            warnings.append(f"id {out['id']!r} appears more than once in this input")
        seen_ids.add(out["id"])

    # declared fields: used when understood, else reported and left out (never a guess)
    lang = _text_field(rec, "lang")
    country_in = _text_field(rec, "country")
    declared_lang = None
    if lang and lang.strip():
        from .locales import normalize_lang
        try:
            declared_lang = normalize_lang(lang)
        except UsageError:
            review.append(_reason("bad_field", f"language {lang[:40]!r} not recognised"))
    country, country_source, country_evidence = None, None, None
    if country_in and country_in.strip():
        country = normalize_country(country_in)
        if country is None:
            review.append(_reason("bad_field", f"country {country_in[:40]!r} not recognised"))
        else:
            country_source = "declared"

    # what of the message matters
    main, quoted, signature = split_message(text)
    subject = clean_subject(clean(subject))
    analysed = clean(f"{subject}\n{main}" if subject else main)
    truncated = len(analysed) > ANALYSIS_CHARS
    if truncated:
        cut = analysed.rfind(" ", 0, ANALYSIS_CHARS)
        analysed = analysed[:cut if cut > ANALYSIS_CHARS // 2 else ANALYSIS_CHARS]
    if not analysed:
        raise _RecordError("empty_text", "text: nothing left to read once quoted history and signature are set aside")

    u = engine.understand(analysed, lang=declared_lang)
    guess = u.language
    if declared_lang is None and len(main) > LONG_TEXT_CHARS:
        # a whole e-mail: langdetect reads it better than the short-query model does
        long_guess = identify_long(analysed[:LANGDETECT_CHARS])
        if long_guess.code is not None and (guess.code is None or long_guess.confidence >= LONG_TEXT_TRUST
                                            or long_guess.confidence > guess.confidence):
            guess = long_guess
    if guess.code is None and country:
        from .locales import country_languages
        prior = country_languages(country)
        if prior:
            guess = LanguageGuess(prior[0], 0.3, "country")
    if guess is not u.language:
        u = replace(u, language=guess)
    if country is None:
        found, evidence = find_country(u.text, u.match.tokens)
        if found:
            country, country_source, country_evidence = found, "text", evidence
    if country and u.country != country:
        u = replace(u, country=country)

    routed = _route(engine, u)  # shared with the route cache: copied below
    term = engine.terminology
    out_lang = guess.code or "en"

    # concepts, with evidence and their ICD-10 group
    concepts = []
    blocks_per_concept = []
    for m in u.concepts:
        blocks, label_en, group, covered = _concept_facts(engine, m.concept)
        blocks_per_concept.append(blocks)
        concepts.append({
            "id": m.concept.id, "icd10": list(m.concept.icd10), "label": label_en,
            "label_patient": term.label(m.concept, out_lang), "matched": m.matched, "alias": m.alias,
            "alias_lang": m.lang, "match": m.match, "score": m.score, "span": list(m.span),
            "group": group, "covered": covered,
        })

    routes = [dict(r, centre=dict(r["centre"]), why=list(r["why"]), why_patient=list(r["why_patient"]),
                   languages=list(r["languages"])) for r in routed]

    urgent = bool(getattr(u.intent, "urgent", False))
    urgent_words = _urgency_words(u)

    # review
    if not concepts:
        review.append(_reason("no_pathology"))
    if guess.code is None or guess.confidence < MIN_LANGUAGE_CONFIDENCE:
        review.append(_reason("low_language_confidence",
                              f"{guess.code or 'unknown'} at {guess.confidence:.2f}"))
    if len(blocks_per_concept) > 1 and _unrelated(blocks_per_concept):
        review.append(_reason("several_pathologies", ", ".join(c["id"] for c in concepts)))
    uncovered = [c["id"] for c in concepts if c["covered"] is False]
    if uncovered:
        review.append(_reason("not_covered", ", ".join(uncovered)))
    if u.age_group == "pediatric":
        review.append(_reason("child"))
    if urgent:
        review.append(_reason("urgent", ", ".join(urgent_words)))
    if not routes:
        review.append(_reason("no_route"))

    lang_conf = guess.confidence if guess.code else 0.0
    best_concept = max((c["score"] for c in concepts), default=0.0)
    top = routes[0]["score"] if routes else 0.0
    confidence = 0.5 * best_concept + 0.3 * top + 0.2 * lang_conf
    if any(r["code"] in ("several_pathologies", "not_covered") for r in review):
        confidence *= 0.5

    out.update({
        "status": "ok",
        "subject": subject[:300] or None,
        "language": {"code": guess.code, "confidence": round(guess.confidence, 3), "source": guess.source},
        "concepts": concepts,
        "service": u.service,
        "age_group": u.age_group,
        "country": ({"code": country, "source": country_source, **({"evidence": country_evidence}
                                                                     if country_evidence else {})}
                    if country else None),
        "urgent": urgent,
        "routes": routes,
        "confidence": round(confidence, 3),
        "needs_review": bool(review),
        "review": review,
        "text": {"chars": len(text), "analysed_chars": len(analysed), "truncated": truncated,
                 "quoted_set_aside": len(quoted), "signature_set_aside": len(signature)},
    })
    if warnings:
        out["warnings"] = warnings
    out["took_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    return out


def _urgency_words(u) -> list[str]:
    """The words the intent step read as urgency cues, as the patient wrote them."""
    return list(dict.fromkeys(ev.cue for ev in getattr(u.intent, "evidence", ()) or ()
                              if getattr(ev, "kind", None) == "urgency"))


def _unrelated(blocks_per_concept: list[set[str]]) -> bool:
    """True when some two concepts share no ICD-10 block (or chapter)."""
    for i, a in enumerate(blocks_per_concept):
        for b in blocks_per_concept[i + 1:]:
            if not a & b:
                return True
    return False


def triage_iter(engine, records: Iterable[dict]) -> Iterator[dict]:
    """One result per record, in order (see :func:`triage_records`)."""
    seen: set[str] = set()
    for rec in records:
        yield triage_one(engine, rec, seen_ids=seen)


def triage_records(engine, records: list[dict]) -> list[dict]:
    """Route a batch: ``records`` are dicts with ``id`` and ``text`` (optional ``lang``,
    ``country``, ``received_at``, ``subject``); one result per record, in input order, and a
    record that fails carries ``error`` (``{"code", "message"}``) instead of routes."""
    return list(triage_iter(engine, records))


# --- writing outputs -----------------------------------------------------------------------------

STALE_TMP_SECONDS = 600


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", **kwargs):
    """Write ``path`` through a temporary file in the same directory, renamed over it only when
    the block ends normally: a crash leaves the old file (or none), never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a run killed while writing (SIGKILL) leaves its temporary file, health data: remove those
    # older than any write takes
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_TMP_SECONDS:
                stale.unlink()
        except OSError:
            pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_jsonl(path: str | Path, results: Iterable[dict]) -> int:
    n = 0
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as f:
        for r in results:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n


CSV_COLUMNS = ("id", "status", "error", "needs_review", "review", "language", "language_confidence",
               "icd10", "pathology", "service", "age_group", "country", "urgent", "confidence",
               *(f"route{i}_{k}" for i in range(1, ROUTES + 1) for k in ("centre", "offer", "score")))


def _cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    s = "" if value is None else str(value)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        s = "'" + s
    return s


def csv_row(r: dict) -> list[str]:
    lang = r.get("language") or {}
    concepts = r.get("concepts") or []
    row = {
        "id": r.get("id"), "status": r.get("status"), "error": (r.get("error") or {}).get("message"),
        "needs_review": "yes" if r.get("needs_review") else "no",
        "review": "; ".join(x["code"] for x in r.get("review", [])),
        "language": lang.get("code"), "language_confidence": lang.get("confidence"),
        "icd10": "; ".join(",".join(c["icd10"]) for c in concepts),
        "pathology": "; ".join(c["label"] for c in concepts),
        "service": r.get("service"), "age_group": r.get("age_group"),
        "country": (r.get("country") or {}).get("code"),
        "urgent": ("yes" if r.get("urgent") else "no") if r.get("status") == "ok" else "",
        "confidence": r.get("confidence"),
    }
    for i in range(1, ROUTES + 1):
        routes = r.get("routes") or []
        route = routes[i - 1] if len(routes) >= i else None
        row[f"route{i}_centre"] = route["centre"]["name"] if route else None
        row[f"route{i}_offer"] = route["offer_id"] if route else None
        row[f"route{i}_score"] = route["score"] if route else None
    return [_cell(row[c]) for c in CSV_COLUMNS]


def write_csv(path: str | Path, results: Iterable[dict]) -> int:
    n = 0
    with atomic_write(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for r in results:
            w.writerow(csv_row(r))
            n += 1
    return n


# --- command line --------------------------------------------------------------------------------

def _progress() -> Callable[[int, int], None] | None:
    if not sys.stderr.isatty():
        return None
    state = {"t0": time.perf_counter()}

    def draw(n: int, total: int) -> None:
        if n != total and n % 25:
            return
        width = 30
        done = int(width * n / max(total, 1))
        rate = n / max(time.perf_counter() - state["t0"], 1e-9)
        sys.stderr.write(f"\rtriage [{'#' * done}{'.' * (width - done)}] {n}/{total} ({rate:.0f}/s)")
        if n == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return draw


def summary(results: list[dict]) -> dict:
    ok = [r for r in results if r.get("status") == "ok"]
    return {"requests": len(results), "routed": sum(1 for r in ok if r.get("routes")),
            "failed": len(results) - len(ok), "needs_review": sum(1 for r in results if r.get("needs_review"))}


def run_cli(args) -> int:
    """``carematch triage INPUT --out routed.jsonl [--csv F] [--report F] [--index I]``: exit 0
    when every request is in the output (failed ones included), 1 when the input cannot be read
    at all (or the index cannot be opened)."""
    try:
        records = read_input(args.input)
    except InputError as e:
        print(f"carematch: error: {e.message}", file=sys.stderr)
        return 1
    from .engine import Engine
    from .langid import warm_up
    engine = Engine.open(getattr(args, "index", None))
    warm_up(long_texts=True)
    progress = _progress()
    total = len(records)
    results: list[dict] = []
    t0 = time.perf_counter()

    def stream() -> Iterator[dict]:
        for n, r in enumerate(triage_iter(engine, records), 1):
            results.append(r)
            if progress:
                progress(n, total)
            yield r

    write_jsonl(args.out, stream())
    seconds = time.perf_counter() - t0
    if getattr(args, "csv", None):
        write_csv(args.csv, results)
    if getattr(args, "report", None):
        from .triage_report import write_report
        write_report(args.report, results, source=Path(args.input).name)
    s = summary(results)
    print(f"triaged {s['requests']} requests in {seconds:.2f} s ({s['requests'] / max(seconds, 1e-9):.0f}/s): "
          f"{s['routed']} routed, {s['needs_review']} to review, {s['failed']} failed; wrote {args.out}"
          + (f", {args.csv}" if getattr(args, "csv", None) else "")
          + (f", {args.report}" if getattr(args, "report", None) else ""))
    return 0
