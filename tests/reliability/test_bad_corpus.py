"""Item 2, bad corpus: every kind of malformed record is reported as ``file:line: field: message``,
nothing is indexed and the previous index keeps serving."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliability._support import count, run
from samples import CENTRE_A, CENTRE_B, write_corpus
from search import cli
from search.corpus import check_corpus, load_corpus
from search.errors import CorpusError, Problem
from search.icd10 import Backbone

pytestmark = pytest.mark.reliability

# file:line: field: message (hint) -- or file: message for what concerns a whole file
PROBLEM = re.compile(r"^(?P<file>[^:\n]+?)(?::(?P<line>\d+))?: (?:(?P<field>[a-z_0-9]+(?:\.[A-Za-z_0-9]+)*): )?"
                     r"(?P<message>\S.*)$")


def _sub(text: str, old: str, new: str, count_: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count_)


def _after_first_offer(text: str, line: str) -> str:
    return _sub(text, 'service = "treatment"\n', f'service = "treatment"\n{line}\n')


def line_of(text: str, marker: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing ``marker``."""
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if marker in ln]
    return hits[nth - 1]


CENTRE_JSON = {"type": "centre", "id": "centre-j", "name": "Centre J", "city": "Nantes", "country": "FR",
               "kind": "cancer_centre", "website": "https://example.org/j", "office_languages": ["fr", "en"]}
OFFER_JSON = {"type": "offer", "id": "centre-j-lung", "centre": "centre-j", "service": "treatment",
              "icd10": ["C34"], "age_groups": ["adult"], "languages": ["fr", "en"], "delivery": "on_site",
              "text": {"fr": {"title": "Cancer du poumon", "description": "Chirurgie thoracique."},
                       "en": {"title": "Lung cancer", "description": "Thoracic surgery."}}}


def jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


# (case, file name, content (str or bytes), expected line (int, or a marker to find), field, message fragment)
MISSING = CENTRE_A.replace('service = "treatment"\n', "", 1)
TWICE = CENTRE_A.replace('id = "centre-a-sarcoma-second-opinion"', 'id = "centre-a-breast"')
CASES = [
    ("missing field", "a.toml", MISSING, line_of(MISSING, "[[offer]]"), "service", "missing required field"),
    ("wrong type", "a.toml", _after_first_offer(CENTRE_A, 'turnaround_days = "ten"'), "turnaround_days",
     "turnaround_days", "must be int, got str"),
    ("wrong type of list", "a.toml", _sub(CENTRE_A, 'icd10 = ["C50"]', 'icd10 = "C50"'), 'icd10 = "C50"', "icd10",
     "must be list"),
    ("unknown service", "a.toml", _sub(CENTRE_A, 'service = "treatment"', 'service = "surgery"'),
     'service = "surgery"', "service", "unknown service 'surgery'"),
    ("unknown language", "a.toml", _sub(CENTRE_A, 'languages = ["fr", "en", "es"]', 'languages = ["fr", "xx"]'),
     'languages = ["fr", "xx"]', "languages", "unknown language 'xx'"),
    ("unknown office language", "a.toml", _sub(CENTRE_A, '"es", "ar"]', '"es", "klingon"]'), "office_languages",
     "office_languages", "unknown language 'klingon'"),
    ("unknown text language", "a.toml", _sub(CENTRE_A, "[offer.text.en]", "[offer.text.zz]"), "[offer.text.zz]",
     "text.zz", "unknown language 'zz'"),
    ("invalid ICD-10 code", "a.toml", _sub(CENTRE_A, 'icd10 = ["C50"]', 'icd10 = ["C5O"]'), 'icd10 = ["C5O"]',
     "icd10", "invalid ICD-10 code 'C5O'"),
    ("ICD-10 code unknown to WHO", "a.toml", _sub(CENTRE_A, 'icd10 = ["C50"]', 'icd10 = ["C99"]'),
     'icd10 = ["C99"]', "icd10", "unknown ICD-10 code 'C99'"),
    ("reversed ICD-10 range", "a.toml", _sub(CENTRE_A, '"C40-C41"', '"C41-C40"'), '"C41-C40"', "icd10",
     "start is after end"),
    ("malformed ICD-10 range", "a.toml", _sub(CENTRE_A, '"C40-C41"', '"C40--C41"'), '"C40--C41"', "icd10",
     "invalid ICD-10 code"),
    ("unknown age group", "a.toml", _sub(CENTRE_A, 'age_groups = ["adult"]', 'age_groups = ["child"]'),
     'age_groups = ["child"]', "age_groups", "unknown value 'child'"),
    ("duplicate offer id", "a.toml", TWICE, line_of(TWICE, 'id = "centre-a-breast"', 2), "id",
     "duplicate offer id 'centre-a-breast'"),
    ("missing text", "a.toml", CENTRE_A.replace("[offer.text.en]\ntitle = \"Breast cancer\"\n"
                                                "description = \"Surgery and treatment of breast cancer.\"\n", "", 1),
     "[[offer]]", "text.en", "missing required text"),
    ("empty title", "a.toml", _sub(CENTRE_A, 'title = "Breast cancer"', 'title = "  "'), 'title = "  "',
     "text.en.title", "missing or empty"),
    ("not https", "a.toml", _sub(CENTRE_A, '"https://example.org/a"', '"http://example.org/a"'), "website =",
     "website", "https://"),
    ("bad centre id", "a.toml", _sub(CENTRE_A, 'id = "centre-a"', 'id = "Centre A!"'), 'id = "Centre A!"', "id",
     "not a lowercase slug"),
    ("unknown field", "a.toml", _after_first_offer(CENTRE_A, 'price = "1000 EUR"'), "price =", "price",
     "unknown field"),
    ("schema version", "a.toml", _sub(CENTRE_A, "schema = 1", "schema = 2"), "schema = 2", "schema",
     "not supported"),
    ("broken TOML", "a.toml", _sub(CENTRE_A, 'title = "Breast cancer"', 'title = "Breast cancer'),
     'title = "Breast cancer', "", "broken TOML"),
    ("broken JSON", "j.jsonl", jsonl(CENTRE_JSON, '{"type": "offer", "id": "centre-j-x",'), 2, "", "broken JSON"),
    ("JSON not an object", "j.jsonl", jsonl(CENTRE_JSON, "[1, 2]"), 2, "", "must be a JSON object"),
    ("unknown record type", "j.jsonl", jsonl(CENTRE_JSON, {**OFFER_JSON, "type": "price"}), 2, "type",
     "must be \"centre\" or \"offer\""),
    ("unknown centre", "j.jsonl", jsonl(CENTRE_JSON, {**OFFER_JSON, "centre": "centre-k"}), 2, "centre",
     "unknown centre 'centre-k'"),
    ("wrong type in JSON", "j.jsonl", jsonl(CENTRE_JSON, {**OFFER_JSON, "turnaround_days": 3.5}), 2,
     "turnaround_days", "must be int, got float"),
    ("boolean for a number", "j.jsonl", jsonl(CENTRE_JSON, {**OFFER_JSON, "turnaround_days": True}), 2,
     "turnaround_days", "must be int, got bool"),
    ("wrong encoding", "a.toml", CENTRE_A.encode("latin-1"), "Rhône", "", "not valid UTF-8 (byte 0xf4)"),
    ("empty file", "a.toml", "", None, "", "file is empty"),
    ("blank file", "j.jsonl", " \n\n\t\n", None, "", "file is empty"),
    ("unsupported file", "a.toml", "just some words\n", 1, "", "broken TOML"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """An index that serves while bad corpora are offered to it."""
    from search import Engine
    from search.indexer import build_index
    root = tmp_path_factory.mktemp("live")
    corpus = write_corpus(root / "good", {"centre-a.toml": CENTRE_A, "centre-b.toml": CENTRE_B})
    index = root / "indexes" / "default"
    build_index([corpus], index)
    engine = Engine.open(index)
    return {"index": index, "engine": engine, "digest": engine.digest, "good": corpus}


def listing(index: Path) -> dict:
    parent = index.parent
    return {"link": os.readlink(index), "entries": sorted(p.name for p in parent.iterdir()),
            "manifest": (parent / os.readlink(index) / "manifest.json").read_bytes()}


def _write(folder: Path, name: str, content) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case,name,content,where,field,fragment", CASES, ids=[c[0] for c in CASES])
def test_malformed_record_is_reported_where_it_is_and_nothing_is_indexed(
        tmp_path, live, capsys, case, name, content, where, field, fragment):
    count("faults.bad_corpus")
    from search.indexer import build_index
    folder = tmp_path / "bad"
    path = _write(folder, name, content)
    if name.endswith(".jsonl"):  # a good centre beside it, so only the bad record is at fault
        _write(folder, "centre-b.toml", CENTRE_B)
    text = content.decode("latin-1") if isinstance(content, bytes) else content
    line = where if isinstance(where, int) or where is None else line_of(text, where)

    with pytest.raises(CorpusError) as err:
        load_corpus([folder])
    problems = err.value.problems
    assert all(isinstance(p, Problem) and PROBLEM.match(str(p)) for p in problems), [str(p) for p in problems]
    expected = [p for p in problems if p.file == str(path) and p.field == field and fragment in p.message]
    assert expected, f"no {field}: {fragment!r} problem in {[str(p) for p in problems]}"
    p = expected[0]
    if line is None:
        assert p.line == 0 and str(p).startswith(f"{path}: ")
    else:
        assert p.line == line, str(p)
        prefix = f"{path}:{line}: " + (f"{field}: " if field else "")
        assert str(p).startswith(prefix), str(p)

    # the CLI says the same, one problem a line, and exits 1
    assert cli.main(["corpus", "check", str(folder)]) == 1
    assert str(p) in capsys.readouterr().out.splitlines()

    # the index build refuses before writing anything; the live snapshot keeps serving
    before = listing(live["index"])
    with pytest.raises(CorpusError):
        build_index([folder], live["index"])
    assert listing(live["index"]) == before
    out = live["engine"].search("cancer du sein", limit=3)
    assert out["index"]["digest"] == live["digest"] and out["results"]


def test_every_problem_of_every_file_is_listed_by_the_index_command(tmp_path, live):
    """One real ``carematch index`` over all the bad files at once: exit 1, every problem on
    stderr as file:line: field: message, nothing indexed, no traceback."""
    folder = tmp_path / "all"
    for i, (case, name, content, *_rest) in enumerate(CASES):
        stem, ext = name.split(".")
        _write(folder, f"{i:02d}-{stem}.{ext}", content)
    count("faults.bad_corpus")
    before = listing(live["index"])
    proc = run(["index", str(folder), "--index", str(live["index"])], timeout=120)
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 1, err[-2000:]
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[-1].endswith("nothing was indexed")
    problems = lines[:-1]
    assert all(PROBLEM.match(ln) for ln in problems), [ln for ln in problems if not PROBLEM.match(ln)]
    files = {ln.split(":")[0] for ln in problems}
    # every bad file is named (duplicates within one directory may point at the first file too)
    assert len(files) >= len(CASES) - 2, sorted(files)
    assert listing(live["index"]) == before


# --- any mutation of a valid record -----------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12) | st.sampled_from(["C50", "C40-C41", "fr", "xx", "treatment", "adult", "centre-j",
                                              "https://example.org", "", " "]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | st.sampled_from(
        ["fr", "en", "title", "description"]), inner, max_size=4),
    max_leaves=8)
CENTRE_KEYS = sorted(set(CENTRE_JSON) | {"region", "networks", "bogus"})
OFFER_KEYS = sorted(set(OFFER_JSON) | {"turnaround_days", "networks", "url", "bogus"}) + ["text.fr", "text.en",
                                                                                         "text.fr.title"]


BACKBONE = Backbone.load()


def _mutate(record: dict, key: str, value, delete: bool) -> dict:
    rec = json.loads(json.dumps(record))
    *parents, last = key.split(".")
    target = rec
    for k in parents:
        if not isinstance(target.get(k), dict):
            target[k] = {}
        target = target[k]
    if delete:
        target.pop(last, None)
    else:
        target[last] = value
    return rec


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_mutation_of_a_record_is_accepted_or_reported_never_a_crash(tmp_path_factory, data):
    """Hypothesis changes, removes or retypes fields of a valid centre and offer (JSON Lines):
    the validator accepts the result or lists problems with file and line; nothing else."""
    count("inputs.corpus_records")
    centre, offer = dict(CENTRE_JSON), dict(OFFER_JSON)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        which = data.draw(st.sampled_from(["centre", "offer"]), label="record")
        keys = CENTRE_KEYS if which == "centre" else OFFER_KEYS
        key = data.draw(st.sampled_from(keys), label="key")
        delete = data.draw(st.booleans(), label="delete")
        value = None if delete else data.draw(JSON_VALUES, label="value")
        if which == "centre":
            centre = _mutate(centre, key, value, delete)
        else:
            offer = _mutate(offer, key, value, delete)
    folder = tmp_path_factory.mktemp("mut")
    path = _write(folder, "j.jsonl", jsonl(centre, offer))
    corpus, problems = check_corpus([folder], BACKBONE)
    for p in problems:
        assert p.file == str(path) and p.line in (1, 2), str(p)
        assert PROBLEM.match(str(p)), str(p)
    if not problems:
        assert len(corpus.offers) == 1 and len(corpus.centres) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.integers(0, len(CENTRE_A.encode())), flips=st.lists(
    st.tuples(st.integers(0, len(CENTRE_A.encode()) - 1), st.integers(0, 255)), max_size=4))
def test_truncated_or_garbled_toml_is_accepted_or_reported(tmp_path_factory, cut, flips):
    """Byte-level damage of a centre file (truncation, random bytes): accepted if it still is a
    valid centre, otherwise reported with file (and line); never a crash."""
    count("inputs.corpus_records")
    data = bytearray(CENTRE_A.encode())
    for pos, byte in flips:
        data[pos] = byte
    data = bytes(data[:cut])
    folder = tmp_path_factory.mktemp("garbled")
    path = _write(folder, "a.toml", data)
    corpus, problems = check_corpus([folder], BACKBONE)
    for p in problems:
        assert p.file == str(path), str(p)
        assert PROBLEM.match(str(p)), str(p)
    if not problems:
        assert len(corpus.centres) == 1
