"""Triage of an inbox (issue 7): readers, message splitting, country, routing, outputs, report."""
from __future__ import annotations

import argparse
import csv
import json
import mailbox
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path

import pytest

from search import triage
from search.triage import (InputError, find_country, read_csv, read_eml_dir, read_input, read_jsonl,
                           split_message, triage_records)
from search.triage_report import render_report

ROOT = Path(__file__).resolve().parent.parent

# --- the test inbox ------------------------------------------------------------------------------
# (id, language, subject, body, expected ICD-10 categories (None: no pathology), checks)
# checks: country=XX, child, urgent, several, service=...
SIG_EN = ("\n\nBest regards,\nDr. Karim Benali\nHead of Haematology - Leukaemia & Lymphoma Unit\n"
          "Clinique des Oliviers\n")
QUOTE_EN = ("\nOn Tue, 4 Jun 2024 at 09:12, International Office <office@example.org> wrote:\n"
            "> Dear Sir,\n> thank you for your message about prostate cancer.\n> Kind regards\n")

INBOX: list[tuple] = [
    ("fr-01", "fr", "Demande de second avis",
     "Bonjour, ma mère a un cancer du sein diagnostiqué à Casablanca. Nous souhaitons un second avis à Paris. Merci.",
     {"C50"}, {"country": "MA", "service": "second_opinion"}),
    ("en-01", "en", "Second opinion request",
     "My father was diagnosed with lung adenocarcinoma in Casablanca, we would like a second opinion in Paris.",
     {"C34"}, {"country": "MA", "service": "second_opinion"}),
    ("es-01", "es", "Consulta",
     "Hola, me diagnosticaron cáncer de próstata y quisiera saber si puedo recibir tratamiento en Francia.",
     {"C61"}, {}),
    ("de-01", "de", "Anfrage Zweitmeinung",
     "Sehr geehrte Damen und Herren, bei meiner Frau wurde Bauchspeicheldrüsenkrebs festgestellt. "
     "Wir bitten um eine Zweitmeinung.", {"C25"}, {"service": "second_opinion"}),
    ("it-01", "it", "Richiesta", "Buongiorno, mio padre ha un tumore al fegato. Vorremmo un consulto a Lione.",
     {"C22"}, {}),
    ("pt-01", "pt", "Pedido de tratamento",
     "Olá, o meu filho de 6 anos tem leucemia linfoblástica aguda. Gostaríamos de tratamento em França.",
     {"C91"}, {"child": True}),
    ("ru-01", "ru", "Запрос",
     "Здравствуйте! У моей мамы рак желудка. Мы из Казахстана. Можно ли получить второе мнение?",
     {"C16"}, {"country": "KZ", "service": "second_opinion"}),
    ("ar-01", "ar", "طلب رأي ثان",
     "السلام عليكم، والدي مصاب بسرطان الرئة ونحن من المغرب. نريد رأيا طبيا ثانيا في فرنسا.",
     {"C34"}, {"country": "MA"}),
    ("zh-01", "zh", "咨询", "您好，我母亲被诊断为乳腺癌，希望到法国接受治疗。", {"C50"}, {}),
    ("ja-01", "ja", "セカンドオピニオンの相談",
     "父が大腸がんと診断されました。フランスでセカンドオピニオンを受けたいです。", {"C18", "C19", "C20"},
     {"service": "second_opinion"}),
    ("ko-01", "ko", "문의", "안녕하세요. 아버지가 폐암 진단을 받았습니다. 프랑스에서 치료를 받고 싶습니다.", {"C34"}, {}),
    ("tr-01", "tr", "Bilgi talebi",
     "Merhaba, annem meme kanseri teşhisi aldı. Fransa'da tedavi olmak istiyoruz.", {"C50"}, {}),
    ("pl-01", "pl", "Prośba", "Dzień dobry, mój mąż ma raka prostaty. Prosimy o drugą opinię.", {"C61"},
     {"service": "second_opinion"}),
    ("nl-01", "nl", "Vraag",
     "Goedendag, mijn vader heeft longkanker. Wij willen graag een second opinion in Parijs.", {"C34"},
     {"service": "second_opinion"}),
    ("el-01", "el", "Αίτημα",
     "Καλησπέρα, η μητέρα μου έχει καρκίνο του μαστού. Θα θέλαμε μια δεύτερη γνώμη.", {"C50"},
     {"service": "second_opinion"}),
    ("vi-01", "vi", "Hỏi thông tin", "Xin chào, bố tôi bị ung thư gan. Chúng tôi muốn điều trị tại Pháp.",
     {"C22"}, {}),
    ("uk-01", "uk", "Запит",
     "Добрий день! У моєї доньки нейробластома. Ми з України. Чи можна лікуватися у Франції?",
     {"C74", "C47", "C48"}, {"country": "UA", "child": True}),
    ("fa-01", "fa", "درخواست",
     "سلام، پدرم سرطان معده دارد. ما از ایران هستیم و می‌خواهیم برای درمان به فرانسه بیاییم.",
     {"C16"}, {"country": "IR"}),
    ("he-01", "he", "בקשה", "שלום, אמי חולה בסרטן השד. נשמח לקבל חוות דעת שנייה.", {"C50"}, {}),
    ("ro-01", "ro", "Cerere", "Bună ziua, tatăl meu are cancer de colon. Dorim o a doua opinie.", {"C18"},
     {"service": "second_opinion"}),
    ("id-01", "id", "Permohonan",
     "Selamat siang, ibu saya menderita kanker payudara. Kami dari Indonesia dan ingin berobat di Paris.",
     {"C50"}, {"country": "ID"}),
    ("hi-01", "hi", "अनुरोध",
     "नमस्ते, मेरे पिता को फेफड़ों का कैंसर है। हम फ्रांस में इलाज कराना चाहते हैं।", {"C34"}, {}),
    ("en-02", "en", "URGENT",
     "URGENT: my son (8 years old) has osteosarcoma of the leg, please help as soon as possible.",
     {"C40", "C41"}, {"child": True, "urgent": True}),
    ("fr-02", "fr", "Question",
     "Bonjour, pouvez-vous me dire comment prendre rendez-vous avec le bureau international ? Merci.",
     None, {}),
    ("en-03", "en", "Question",
     "I have type 2 diabetes and was recently diagnosed with kidney cancer.", {"C64", "E11"},
     {"several": True}),
    ("de-02", "de", "Behandlung",
     "Unser Sohn hat ein Medulloblastom. Wir suchen eine Behandlung in Frankreich.", {"C71"}, {"child": True}),
    ("es-02", "es", "Teleconsulta",
     "Mi madre tiene un linfoma no Hodgkin y queremos una teleconsulta.", {"C82", "C83", "C84", "C85", "C86"},
     {"service": "teleconsultation"}),
    ("ru-02", "ru", "Срочно", "Срочно! У отца острый миелоидный лейкоз, нужна помощь.", {"C92"},
     {"urgent": True}),
    ("ar-02", "ar", "عاجل", "ابني عمره خمس سنوات ومصاب بورم ويلمز. نحتاج إلى علاج عاجل.", {"C64"},
     {"child": True, "urgent": True}),
    ("zh-02", "zh", "第二意见", "我父亲患有胰腺癌，想在法国获得第二意见。", {"C25"}, {}),
    ("it-02", "it", "Secondo parere", "Salve, ho un melanoma sulla schiena e vorrei un secondo parere.", {"C43"},
     {"service": "second_opinion"}),
    ("pt-02", "pt", "Consulta", "Boa tarde, minha esposa tem câncer de ovário. Somos do Brasil.", {"C56"},
     {"country": "BR"}),
    # long e-mails: signature and quoted history name other pathologies, which must not count
    ("en-04", "en", "Re: Thyroid cancer - medical file",
     "Dear team,\n\nThank you for your quick answer. My wife, 47, was diagnosed with papillary thyroid cancer "
     "last month in Dubai and had a thyroidectomy there. The local team suggests radioactive iodine. "
     "Could a specialist in Paris review her file and tell us whether this is the right plan? "
     "We can send the pathology report and the scans." + SIG_EN + QUOTE_EN,
     {"C73"}, {"country": "AE"}),
    ("fr-03", "fr", "RE: demande",
     "Madame, Monsieur,\n\nMon frère de 45 ans a été opéré d'un glioblastome il y a deux mois à Alger. "
     "Le neurochirurgien nous conseille de demander l'avis d'une équipe spécialisée en France. Nous avons "
     "l'IRM et le compte rendu anatomopathologique.\n\nPourriez-vous nous indiquer la marche à suivre ?\n\n"
     "Cordialement,\nSamir B.\nResponsable commercial\n\n"
     "Le mar. 4 juin 2024 à 09:12, Bureau international <bureau@example.org> a écrit :\n"
     "> Bonjour,\n> nous avons bien reçu votre demande concernant le cancer du poumon.\n> Bien cordialement\n",
     {"C71"}, {"country": "DZ"}),
    ("es-03", "es", "RE: consulta",
     "Estimados señores:\n\nA mi madre, de 52 años, le han diagnosticado un cáncer de cuello uterino en "
     "estadio II en Bogotá. Quisiéramos saber si es posible recibir tratamiento en su centro y cuánto "
     "tiempo tarda la respuesta.\n\nAtentamente,\nLucía Gómez\n\n________________________________\n"
     "De: Oficina Internacional <internacional@example.org>\nEnviado: martes, 4 de junio de 2024 9:12\n"
     "Para: Lucía Gómez\nAsunto: RE: consulta\n\nEstimada señora, gracias por su mensaje sobre el cáncer "
     "de pulmón de su madre.\n",
     {"C53"}, {"country": "CO"}),
    ("de-03", "de", "Zweitmeinung Speiseröhre",
     "Guten Tag,\n\nbei meinem Vater (68) wurde Speiseröhrenkrebs diagnostiziert. Er wird derzeit in "
     "München behandelt, wir möchten aber eine Zweitmeinung in Paris einholen. Die Befunde können wir "
     "per E-Mail schicken.\n\nVielen Dank im Voraus\nThomas Keller\n-- \nThomas Keller\n"
     "Keller Medizintechnik GmbH – Leukämie- und Lymphom-Diagnostik\n",
     {"C15"}, {"service": "second_opinion"}),
    ("ar-03", "ar", "استفسار",
     "السلام عليكم،\n\nتم تشخيص والدتي بسرطان القولون في القاهرة، ونرغب في معرفة إمكانية علاجها في فرنسا. "
     "لدينا جميع التقارير الطبية والصور.\n\nمع خالص التحيات،\nد. أحمد علي\nأخصائي أمراض الدم - سرطان الدم\n",
     {"C18"}, {"country": "EG"}),
    ("ru-03", "ru", "Re: запрос",
     "Добрый день!\n\nУ моего мужа обнаружили рак почки, ему 59 лет. Мы живём в Москве. Хотели бы узнать, "
     "возможно ли лечение в вашем центре.\n\nС уважением,\nОльга\n\n"
     "15.05.2024, 10:20, \"International Office\" <office@example.org>:\n"
     "> Здравствуйте! Спасибо за ваш запрос о раке молочной железы.\n",
     {"C64"}, {"country": "RU"}),
    ("en-05", "en", "Mesothelioma",
     "Hello,\nmy uncle has pleural mesothelioma, is there a specialist team in Lyon?\n\nSent from my iPhone",
     {"C45"}, {}),
    ("nl-02", "nl", "Retinoblastoom", "Onze dochter heeft een retinoblastoom. Kunnen jullie helpen?", {"C69"},
     {"child": True}),
    ("tr-02", "tr", "Tedavi", "Babamda mide kanseri var. Fas'tan yazıyoruz, tedavi için bilgi almak istiyoruz.",
     {"C16"}, {"country": "MA"}),
    ("ja-02", "ja", "乳がん", "母が乳がんの手術を受けました。日本から連絡しています。", {"C50"}, {"country": "JP"}),
    ("ko-02", "ko", "백혈병", "딸이 백혈병 진단을 받았습니다. 도와주세요.", {"C91", "C92", "C93", "C94", "C95"},
     {"child": True}),
    ("pl-02", "pl", "Mięsak", "Moja córka ma mięsaka Ewinga.", {"C40", "C41", "C49"}, {"child": True}),
    ("vi-02", "vi", "Ung thư", "Mẹ tôi bị ung thư cổ tử cung.", {"C53"}, {}),
    ("el-02", "el", "Προστάτης", "Ο πατέρας μου έχει καρκίνο του προστάτη.", {"C61"}, {}),
    ("hi-02", "hi", "कैंसर", "मेरी माँ को स्तन कैंसर है।", {"C50"}, {}),
    ("id-02", "id", "Kanker", "Ayah saya didiagnosis kanker paru-paru.", {"C34"}, {}),
    ("fr-04", "fr", "Rappel", "C'est urgent, merci de me rappeler.", None, {"urgent": True}),
    ("en-06", "en", "Second opinion", "ICD-10 C50.9, requesting a second opinion.", {"C50"},
     {"service": "second_opinion"}),
]
EXPECTED = {row[0]: row for row in INBOX}
CHARSETS = {"ru": "koi8-r", "uk": "koi8-u", "ar": "windows-1256", "ja": "iso-2022-jp", "zh": "gb2312",
            "el": "iso-8859-7", "pl": "iso-8859-2"}


def _record(row) -> dict:
    rid, _lang, subject, body, *_ = row
    return {"id": rid, "subject": subject, "text": body, "received_at": "2024-06-04T09:12:00+00:00"}


def write_jsonl_inbox(path: Path) -> tuple[list[str], set[str]]:
    """The inbox as JSON Lines, with malformed lines: the ids in input order, and the malformed."""
    lines, order, malformed = [], [], set()
    for i, row in enumerate(INBOX):
        rec = _record(row)
        lines.append(json.dumps(rec, ensure_ascii=False))
        order.append(rec["id"])
        if i == 5:
            lines.append('{"id": "broken-json", "text": "cancer du sein')  # truncated line
            order.append(f"line {len(lines)}")
            malformed.add(order[-1])
        if i == 20:
            lines.append(json.dumps({"id": "no-text"}))
            lines.append(json.dumps(["not", "an", "object"]))
            order += ["no-text", f"line {len(lines)}"]
            malformed.update(order[-2:])
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return order, malformed


def write_csv_inbox(path: Path) -> tuple[list[str], set[str]]:
    order = []
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "subject", "text", "received_at"])
        for i, row in enumerate(INBOX):
            rec = _record(row)
            w.writerow([rec["id"], rec["subject"], rec["text"], rec["received_at"]])
            order.append(rec["id"])
            if i == 10:
                w.writerow(["too-many", "s", "t", "2024", "extra"])
                order.append("too-many")
                w.writerow(["empty-text", "s", "", "2024"])
                order.append("empty-text")
    return order, {"too-many", "empty-text"}


def _message(row, n: int) -> bytes:
    rid, lang, subject, body, *_ = row
    charset = CHARSETS.get(lang, "utf-8")
    if rid == "fr-01":  # an HTML-only message
        html = "<html><body><p>" + body.replace("\n", "<br>") + "</p><blockquote>cancer du poumon</blockquote></body></html>"
        msg = MIMEText(html, "html", "utf-8")
    elif rid == "en-01":  # multipart/alternative with an attachment-like part
        msg = MIMEMultipart("mixed")
        alt = MIMEMultipart("alternative")
        alt.attach(MIMEText(body, "plain", "utf-8"))
        alt.attach(MIMEText(f"<p>{body}</p>", "html", "utf-8"))
        msg.attach(alt)
        msg.attach(MIMEText("Leukaemia protocol attached", "plain", "utf-8"))  # not the body
        msg.get_payload()[1].add_header("Content-Disposition", "attachment", filename="report.txt")
    else:
        msg = MIMEText(body, "plain", charset)
    msg["Subject"] = Header(subject, "utf-8")
    msg["From"] = "patient@example.org"
    msg["To"] = "international@example.org"
    msg["Date"] = format_datetime(datetime(2024, 6, 4, 9, n % 60, tzinfo=timezone.utc))
    msg["Message-ID"] = f"<{rid}@test.invalid>"
    return msg.as_bytes()


def write_eml_inbox(folder: Path) -> tuple[list[str], set[str]]:
    folder.mkdir()
    order = []
    for n, row in enumerate(INBOX):
        name = f"{n:02d}-{row[0]}.eml"
        (folder / name).write_bytes(_message(row, n))
        order.append(name)
    (folder / "99-empty.eml").write_bytes(b"From: x@example.org\nTo: y@example.org\n\n")
    order.append("99-empty.eml")
    (folder / "notes.txt").write_text("not an e-mail", encoding="utf-8")  # ignored: not .eml
    return sorted(order), {"99-empty.eml"}


def write_mbox_inbox(path: Path) -> tuple[list[str], set[str]]:
    box = mailbox.mbox(str(path))
    order = []
    try:
        for n, row in enumerate(INBOX):
            box.add(_message(row, n))
            order.append(f"{row[0]}@test.invalid")
            if n == 30:
                box.add(b"From: x@example.org\nMessage-ID: <empty@test.invalid>\n\n")
                order.append("empty@test.invalid")
        box.flush()
    finally:
        box.close()
    return order, {"empty@test.invalid"}


def _rid(result_id: str) -> str:
    """Inbox id of an output id (eml: "07-ru-01.eml"; mbox: "ru-01@test.invalid")."""
    rid = result_id.split("@")[0]
    if rid.endswith(".eml"):
        rid = rid[3:-4]
    return rid


def _pathology_right(result: dict, expected: set[str] | None) -> bool:
    """Right: no concept when none was written; else at least one, each touching the expected
    ICD-10 categories (so a pathology read in a signature or a quote makes it wrong)."""
    got = [_cats(c) for c in result.get("concepts", [])]
    if expected is None:
        return not got
    return bool(got) and all(cats & expected for cats in got)


def _cats(concept: dict) -> set[str]:
    from search.icd10 import categories
    out: set[str] = set()
    for code in concept["icd10"]:
        out |= categories(code)
    return out


def _check_inbox(results: list[dict], order: list[str], malformed: set[str]) -> dict:
    """Every request present, in order; malformed ones with their error; accuracy figures."""
    assert [r["id"] for r in results] == order
    figures = {"n": 0, "pathology": 0, "language": 0, "wrong": []}
    for r in results:
        if r["id"] in malformed:
            assert r["status"] == "error" and r["error"]["code"] and r["error"]["message"], r
            assert r["needs_review"] and r["review"][0]["code"] == "failed"
            continue
        assert r["status"] == "ok", r
        rid = _rid(r["id"])
        _, lang, _, _, expected, checks = EXPECTED[rid]
        figures["n"] += 1
        if _pathology_right(r, expected):
            figures["pathology"] += 1
        else:
            figures["wrong"].append((rid, [c["id"] for c in r["concepts"]]))
        figures["language"] += r["language"]["code"] == lang
        assert len(r["routes"]) <= 3
        for route in r["routes"]:
            assert route["centre"]["name"] and route["offer_id"] and 0 <= route["score"] <= 1 and route["why"]
    return figures


def _run(engine, records):
    results = triage_records(engine, records)
    assert len(results) == len(records)
    return results


# --- the inbox in four forms ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("inbox")
    writers = {"jsonl": (root / "inbox.jsonl", write_jsonl_inbox), "csv": (root / "inbox.csv", write_csv_inbox),
               "eml": (root / "eml", write_eml_inbox), "mbox": (root / "inbox.mbox", write_mbox_inbox)}
    return {form: (path, *write(path)) for form, (path, write) in writers.items()}


@pytest.mark.parametrize("form", ["jsonl", "csv", "eml", "mbox"])
def test_inbox_routes_as_expected(engine, inbox, form):
    path, order, malformed = inbox[form]
    records = read_input(path)
    results = _run(engine, records)
    figures = _check_inbox(results, order, malformed)
    assert figures["n"] == len(INBOX) and len({row[1] for row in INBOX}) >= 10
    assert figures["pathology"] / figures["n"] >= 0.90, figures["wrong"]
    assert figures["language"] / figures["n"] >= 0.90


def test_inbox_review_flags_country_and_service(engine, inbox):
    path, _, _ = inbox["jsonl"]
    results = {r["id"]: r for r in _run(engine, read_input(path)) if r["status"] == "ok"}
    checked = {"country": [0, 0], "child": [0, 0], "urgent": [0, 0], "service": [0, 0]}
    for rid, (_, _, _, _, expected, checks) in EXPECTED.items():
        r = results[rid]
        codes = {x["code"] for x in r["review"]}
        assert r["needs_review"] == bool(codes)
        if expected is None:
            assert "no_pathology" in codes
        if checks.get("several"):
            assert "several_pathologies" in codes, r["concepts"]
        if "country" in checks:
            checked["country"][1] += 1
            checked["country"][0] += (r["country"] or {}).get("code") == checks["country"]
        if checks.get("child"):
            checked["child"][1] += 1
            checked["child"][0] += "child" in codes and r["age_group"] == "pediatric"
        if checks.get("urgent"):
            checked["urgent"][1] += 1
            checked["urgent"][0] += "urgent" in codes and r["urgent"]
        if "service" in checks:
            checked["service"][1] += 1
            checked["service"][0] += r["service"] == checks["service"]
        if r["country"]:  # a stated country is never France, never a guess against the text
            assert r["country"]["code"] != "FR"
    for what, (good, total) in checked.items():
        assert good / total >= 0.85, (what, good, total)
    # no false urgency or childhood where none was written
    calm = [rid for rid, row in EXPECTED.items() if not row[5].get("urgent")]
    assert sum(results[rid]["urgent"] for rid in calm) <= 1
    # quoted history and signatures did not add their pathologies
    for rid in ("en-04", "fr-03", "es-03", "de-03", "ar-03", "ru-03"):
        assert results[rid]["text"]["quoted_set_aside"] or results[rid]["text"]["signature_set_aside"]
        assert "several_pathologies" not in {x["code"] for x in results[rid]["review"]}, results[rid]["concepts"]


def test_cli_writes_jsonl_csv_and_report(bundled_index, inbox, tmp_path):
    from search.cli import main
    path, order, malformed = inbox["jsonl"]
    out, out_csv, report = tmp_path / "routed.jsonl", tmp_path / "routed.csv", tmp_path / "report.html"
    code = main(["triage", str(path), "--out", str(out), "--csv", str(out_csv), "--report", str(report),
                 "--index", str(bundled_index)])
    assert code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == order
    assert {r["id"] for r in rows if r["status"] == "error"} == malformed
    with out_csv.open(encoding="utf-8", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["id"] for r in table] == order
    assert table[0]["route1_centre"] and table[0]["icd10"].startswith("C50")
    html = report.read_text(encoding="utf-8")
    assert html.count("<svg") == 4 and "Review queue" in html
    assert html.index('id="review-queue"') < html.index('id="requests"')
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_cli_exit_1_when_input_unreadable(bundled_index, tmp_path, capsys):
    from search.cli import main
    assert main(["triage", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                 "--index", str(bundled_index)]) == 1
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "inbox.csv"
    bad.write_text("id,body\n1,cancer\n", encoding="utf-8")
    assert main(["triage", str(bad), "--out", str(tmp_path / "o.jsonl"), "--index", str(bundled_index)]) == 1
    assert "'text' column" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_triage_records_api_bad_records_are_reported_in_order(engine):
    records = [
        {"id": "a", "text": "cancer du sein"},
        "not an object",
        {"id": "b"},
        {"id": "c", "text": 42},
        {"id": "d", "text": "x" * (triage.MAX_TEXT_CHARS + 1)},
        {"id": 7, "text": "lung cancer", "lang": "klingon", "country": "Atlantis"},
        {"text": "Brustkrebs"},
        {"id": "e", "text": "Brustkrebs", "lang": "de-AT", "country": "Maroc"},
    ]
    out = triage_records(engine, records)
    assert [r["id"] for r in out] == ["a", None, "b", "c", "d", "7", None, "e"]
    assert [r["status"] for r in out] == ["ok", "error", "error", "error", "error", "ok", "error", "ok"]
    assert out[2]["error"]["code"] == "empty_text" and out[4]["error"]["code"] == "too_long"
    assert out[3]["error"]["code"] == "bad_field"
    bad_fields = [x for x in out[5]["review"] if x["code"] == "bad_field"]
    assert len(bad_fields) == 2 and out[5]["country"] is None  # left out, not guessed
    assert out[7]["language"] == {"code": "de", "confidence": 1.0, "source": "declared"}
    assert out[7]["country"] == {"code": "MA", "source": "declared"}


def test_duplicate_ids_are_kept_and_noted(engine):
    out = triage_records(engine, [{"id": "x", "text": "cancer du sein"}, {"id": "x", "text": "lung cancer"}])
    assert [r["id"] for r in out] == ["x", "x"]
    assert "more than once" in out[1]["warnings"][0]


def test_long_text_is_bounded(engine):
    body = "Ma mère a un cancer du sein. " + "Nous attendons votre réponse avec impatience. " * 400
    r = triage_records(engine, [{"id": "long", "text": body}])[0]
    assert r["status"] == "ok" and r["text"]["truncated"]
    assert r["text"]["analysed_chars"] <= triage.ANALYSIS_CHARS
    assert r["language"]["code"] == "fr" and r["concepts"][0]["icd10"][0].startswith("C50")


# --- atomic outputs -----------------------------------------------------------------------------------

def test_crash_mid_run_leaves_no_truncated_output(bundled_index, inbox, tmp_path, monkeypatch):
    path, _, _ = inbox["jsonl"]
    out = tmp_path / "routed.jsonl"
    out.write_text("previous run\n", encoding="utf-8")
    calls = {"n": 0}
    real = triage.triage_one

    def crash_after_ten(engine, rec, **kw):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt  # not a request failure: the run itself stops
        return real(engine, rec, **kw)

    monkeypatch.setattr(triage, "triage_one", crash_after_ten)
    args = argparse.Namespace(input=str(path), out=str(out), csv=None, report=None, index=str(bundled_index))
    with pytest.raises(KeyboardInterrupt):
        triage.run_cli(args)
    assert out.read_text(encoding="utf-8") == "previous run\n"
    assert [p.name for p in tmp_path.iterdir()] == ["routed.jsonl"]


def test_killed_process_leaves_no_output_file(bundled_index, tmp_path):
    """SIGKILL in the middle of a run: the output path never holds a partial file."""
    inbox = tmp_path / "big.jsonl"
    inbox.write_text("".join(json.dumps({"id": str(i), "text": "cancer du sein, deuxième avis"}) + "\n"
                             for i in range(200_000)), encoding="utf-8")
    out = tmp_path / "routed.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "search", "triage", str(inbox), "--out", str(out),
                             "--index", str(bundled_index)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list(tmp_path.glob(".routed.jsonl.*.tmp")):
            time.sleep(0.05)
        assert list(tmp_path.glob(".routed.jsonl.*.tmp")), "the run never started writing"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a.txt"
    with triage.atomic_write(target, "w", encoding="utf-8") as f:
        f.write("one\n")
    with pytest.raises(RuntimeError):
        with triage.atomic_write(target, "w", encoding="utf-8") as f:
            f.write("two, half")
            raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "one\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_csv_cells_are_not_formulas():
    row = triage.csv_row({"id": "=HYPERLINK(\"http://x\")", "status": "error",
                          "error": {"code": "bad", "message": "+1"}, "needs_review": True, "review": []})
    assert row[0].startswith("'=") and row[2] == "'+1"


# --- readers --------------------------------------------------------------------------------------------

def test_read_jsonl_reports_malformed_lines(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'\xef\xbb\xbf{"id": "a", "text": "x"}\n\n{"id": \n[1]\n{"text": "y"}\n{"id": "b", "text": "\xff"}\n')
    recs = read_jsonl(p)
    assert [r["id"] for r in recs] == ["a", "line 3", "line 4", "line 5", "line 6"]
    assert [r.get("_error", {}).get("code") for r in recs] == [None, "bad_json", "bad_record", None, "bad_encoding"]
    assert recs[3]["_missing_id"] and recs[0]["source"] == {"format": "jsonl", "file": "in.jsonl", "line": 1}


def test_read_csv(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('ID,Text,lang\n1,"cancer du sein, second avis",fr\n2,"multi\nline",\n\n3,a,b,c\n', encoding="utf-8")
    recs = read_csv(p)
    assert [r["id"] for r in recs] == ["1", "2", "3"]
    assert recs[0]["text"] == "cancer du sein, second avis" and recs[0]["lang"] == "fr"
    assert recs[1]["text"] == "multi\nline" and recs[1]["lang"] is None
    assert recs[2]["_error"]["code"] == "bad_row"
    big = tmp_path / "big.csv"
    big.write_text("id,text\n1,a\x00b\n2," + "x" * 150_000 + "\n3," + "y" * 500_000 + "\n4,cancer du sein\n",
                   encoding="utf-8")
    recs = read_csv(big)
    assert [r.get("_error", {}).get("code") for r in recs] == [None, None, "bad_csv", None]
    assert len(recs[1]["text"]) == 150_000 and recs[3]["id"] == "4"  # a long e-mail in a cell is fine
    with pytest.raises(InputError):
        (tmp_path / "empty.csv").write_text("", encoding="utf-8")
        read_csv(tmp_path / "empty.csv")


def test_read_eml_charsets_html_and_broken(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    ru = MIMEText("У мамы рак желудка.", "plain", "koi8-r")
    ru["Subject"] = Header("Запрос", "koi8-r")
    ru["Date"] = "Tue, 04 Jun 2024 09:12:00 +0200"
    ru["Content-Language"] = "ru"
    (folder / "a.eml").write_bytes(ru.as_bytes())
    html = MIMEText("<p>Brustkrebs<br>Zweitmeinung</p><style>p{}</style><blockquote>Lungenkrebs</blockquote>", "html")
    (folder / "b.eml").write_bytes(html.as_bytes())
    (folder / "c.eml").write_bytes(b"Subject: x\nContent-Type: text/plain; charset=x-unknown\n\ncancer du sein \xe9\n")
    (folder / "d.eml").write_bytes(b"\x00\x01\x02")
    recs = read_eml_dir(folder)
    assert [r["id"] for r in recs] == ["a.eml", "b.eml", "c.eml", "d.eml"]
    assert recs[0]["text"].strip() == "У мамы рак желудка." and recs[0]["subject"] == "Запрос"
    assert recs[0]["received_at"] == "2024-06-04T09:12:00+02:00"
    assert "lang" not in recs[0] and recs[0]["source"]["content_language"] == "ru"  # information only
    assert "Brustkrebs" in recs[1]["text"] and "> Lungenkrebs" in recs[1]["text"] and "p{}" not in recs[1]["text"]
    assert "cancer du sein" in recs[2]["text"] and recs[2]["_warnings"]
    assert recs[3]["_error"]["code"] == "bad_email"
    with pytest.raises(InputError):
        read_input(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        read_input(tmp_path / "empty")


def test_read_mbox_and_sniffing(tmp_path):
    p = tmp_path / "inbox"  # no suffix: sniffed
    box = mailbox.mbox(str(p))
    m = MIMEText("From Morocco: cancer du sein\n", "plain", "utf-8")
    m["Subject"] = "Demande"
    m["Message-ID"] = "<m1@test.invalid>"
    box.add(m)
    box.add(MIMEText("second", "plain", "utf-8"))
    box.flush()
    box.close()
    recs = read_input(p)
    assert [r["id"] for r in recs] == ["m1@test.invalid", "#2"]
    assert recs[0]["text"].startswith("From Morocco")  # mbox "From " quoting undone
    j = tmp_path / "inbox.data"
    j.write_text('{"id": "1", "text": "x"}\n', encoding="utf-8")
    assert read_input(j)[0]["id"] == "1"
    arr = tmp_path / "inbox.json"
    arr.write_text('[{"id": "1", "text": "cancer du sein"}, 3, {"text": "x"}]', encoding="utf-8")
    assert [(r["id"], r.get("_error", {}).get("code")) for r in read_input(arr)] == [
        ("1", None), ("item 2", "bad_record"), ("item 3", None)]
    not_mbox = tmp_path / "x.mbox"
    not_mbox.write_text("hello\n", encoding="utf-8")
    with pytest.raises(InputError):
        read_input(not_mbox)
    weird = tmp_path / "weird.bin"
    weird.write_bytes(b"\x89PNG....")
    with pytest.raises(InputError):
        read_input(weird)


# --- what of a message matters ------------------------------------------------------------------------

@pytest.mark.parametrize("text, main, quoted, signature", [
    ("Ma mère a un cancer du sein.\n\nCordialement,\nAmina\n", "Ma mère a un cancer du sein.", "", "Cordialement,\nAmina"),
    ("Bonjour,\nMerci.\nMa mère a un cancer du sein, pouvez-vous nous aider ?\nBien à vous",
     "Bonjour,\nMerci.\nMa mère a un cancer du sein, pouvez-vous nous aider ?", "", "Bien à vous"),
    ("Brustkrebs.\n-- \nDr. X\nLeukämie-Zentrum", "Brustkrebs.", "", "-- \nDr. X\nLeukämie-Zentrum"),
    ("Lung cancer.\n\nSent from my iPhone", "Lung cancer.", "", "Sent from my iPhone"),
    ("Рак почки.\nС уважением,\nОльга", "Рак почки.", "", "С уважением,\nОльга"),
    ("سرطان القولون\nمع خالص التحيات،\nد. أحمد", "سرطان القولون", "", "مع خالص التحيات،\nد. أحمد"),
    ("Melanoma.\n\nEl lun, 3 jun 2024 a las 10:00, Oficina <o@x.org> escribió:\n> linfoma",
     "Melanoma.", "El lun, 3 jun 2024 a las 10:00, Oficina <o@x.org> escribió:\n> linfoma", ""),
    ("Glioma.\n\nAm Mo., 3. Juni 2024 um 10:00 Uhr schrieb Büro <o@x.org>:\n> Lungenkrebs",
     "Glioma.", "Am Mo., 3. Juni 2024 um 10:00 Uhr schrieb Büro <o@x.org>:\n> Lungenkrebs", ""),
    ("Thyroid.\n-----Original Message-----\nFrom: A\nlymphoma", "Thyroid.",
     "-----Original Message-----\nFrom: A\nlymphoma", ""),
    ("Sarcome.\nDe : Bureau <o@x.org>\nEnvoyé : lundi 3 juin 2024\nÀ : moi\nObjet : leucémie", "Sarcome.",
     "De : Bureau <o@x.org>\nEnvoyé : lundi 3 juin 2024\nÀ : moi\nObjet : leucémie", ""),
    ("> old line\nnew line about myeloma", "new line about myeloma", "> old line", ""),
    ("Thanks", "Thanks", "", ""),  # nothing else: kept whole rather than empty
])
def test_split_message(text, main, quoted, signature):
    assert split_message(text) == (main, quoted, signature)


def test_clean_subject():
    assert triage.clean_subject("RE: Fwd: TR: AW: Zweitmeinung") == "Zweitmeinung"
    assert triage.clean_subject("回复：乳腺癌") == "乳腺癌"
    assert triage.clean_subject("Reunion") == "Reunion"


@pytest.mark.parametrize("text, code", [
    ("My father was diagnosed with lung cancer in Casablanca", "MA"),
    ("Je viens du Maroc pour un deuxième avis en France", "MA"),
    ("We are from the United Arab Emirates", "AE"),
    ("Ich komme aus Russland", "RU"),
    ("Мой отец из Казахстана", "KZ"),
    ("Ми з України", "UA"),
    ("Jestem z Polski", "PL"),
    ("أنا من المغرب", "MA"),
    ("مريض بالمغرب", "MA"),
    ("ما از ایران هستیم", "IR"),
    ("Fas'tan yazıyoruz", "MA"),
    ("我来自摩洛哥", "MA"),
    ("モロッコから来ました", "MA"),
    ("모로코에서 왔습니다", "MA"),
    ("Είμαι από την Ελλάδα", "GR"),
    ("मैं मोरक्को से हूँ", "MA"),
    ("Tôi từ Việt Nam", "VN"),
    ("Kami dari Indonesia", "ID"),
    ("Somos do Brasil", "BR"),
    ("Mi madre vive en Bogotá", "CO"),
    ("We want treatment in France", None),        # the destination, not the patient's country
    ("cancer du sein de ma mère", None),
    ("from Morocco, now living in Dubai", None),  # two countries: a human decides
    ("a message from jordan", None),              # lowercase name: not taken for a country
    ("I live in Georgia and in Turkey", None),
    ("", None),
])
def test_find_country(text, code):
    assert find_country(text)[0] == code


# --- report ------------------------------------------------------------------------------------------

def _fake_result(i: int, **kw) -> dict:
    base = {
        "id": f"r{i}", "status": "ok", "subject": "s", "received_at": "2024-06-04",
        "language": {"code": "fr", "confidence": 0.9, "source": "detector"},
        "concepts": [{"id": "C50", "icd10": ["C50"], "label": "Breast cancer", "label_patient": "cancer du sein",
                      "matched": "cancer du sein", "alias": "cancer du sein", "alias_lang": "fr",
                      "match": "exact", "score": 1.0, "span": [0, 14], "group": "C50-C50 Malignant neoplasm of breast",
                      "covered": True}],
        "service": "second_opinion", "age_group": None, "country": None, "urgent": False,
        "routes": [{"rank": 1, "centre": {"id": "c", "name": "Centre C", "city": "Paris", "website": "https://x"},
                    "offer_id": "c-1", "title": "Second avis", "service": "second_opinion", "score": 0.9,
                    "url": None, "languages": ["fr"], "why": ["Treats breast cancer (C50)"], "why_patient": []}],
        "confidence": 0.9, "needs_review": False, "review": [],
        "text": {"chars": 10, "analysed_chars": 10, "truncated": False, "quoted_set_aside": 0, "signature_set_aside": 0},
    }
    base.update(kw)
    return base


def test_report_escapes_everything_and_is_offline():
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    results = [
        _fake_result(1, id=evil, subject=evil),
        _fake_result(2, needs_review=True, urgent=True,
                     review=[{"code": "urgent", "text": "Words of urgency", "detail": evil}]),
        {"id": "bad", "status": "error", "error": {"code": "bad_json", "message": evil}, "needs_review": True,
         "review": [{"code": "failed", "text": "The request could not be processed", "detail": evil}]},
    ]
    results[0]["concepts"][0]["matched"] = evil
    results[0]["routes"][0]["centre"]["name"] = evil
    html = render_report(results, source=evil)
    assert "<script" not in html and "<img" not in html and "onerror=alert(2)>" not in html
    assert "&lt;script&gt;" in html
    assert html.count("<svg") == 4
    # nothing that would load: no script, no external reference
    plain = render_report([_fake_result(1), _fake_result(2, needs_review=True, review=[
        {"code": "child", "text": "A child's request"}])], source="inbox.jsonl")
    for needle in ("<script", "<link", "<iframe", "<img", "@import", "url(", "src=", "http://", "https://"):
        assert needle not in plain, needle
    assert "Content-Security-Policy" in plain and "default-src 'none'" in plain
    # review queue: the urgent and the failed request, urgent first
    queue = html[html.index('id="review-queue"'):html.index('id="charts"')]
    assert queue.index("#2") < queue.index("bad")


def test_report_charts_count_what_was_routed():
    from search.triage_report import charts
    results = [_fake_result(i) for i in range(3)] + [
        _fake_result(9, language={"code": "ar", "confidence": 0.99, "source": "script"}, concepts=[], routes=[],
                     service=None)]
    by_id = {c["id"]: c for c in charts(results)}
    assert [(b["label"], b["count"]) for b in by_id["chart-language"]["bars"]] == [("fr · French", 3), ("ar · Arabic", 1)]
    assert [(b["label"], b["count"]) for b in by_id["chart-pathology"]["bars"]] == [
        ("C50-C50 Malignant neoplasm of breast", 3), ("none recognised", 1)]
    assert [(b["label"], b["count"]) for b in by_id["chart-service"]["bars"]] == [("Second opinion", 3), ("not stated", 1)]
    assert [(b["label"], b["count"]) for b in by_id["chart-centre"]["bars"]] == [("Centre C", 3), ("not routed", 1)]
