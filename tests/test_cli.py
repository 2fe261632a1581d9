"""The command line: exit codes (0 ok, 1 error, 2 usage), batch order, error lines."""
from __future__ import annotations

import json
import subprocess
import sys

from search.cli import main

from samples import CENTRE_A, ROOT, write_corpus


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def test_corpus_check_exit_codes(tmp_path, mini_corpus, capsys):
    assert main(["corpus", "check", str(mini_corpus)]) == 0
    assert "ok: 2 centres, 4 offers" in capsys.readouterr().out
    bad = write_corpus(tmp_path / "bad", {"a.toml": CENTRE_A.replace('delivery = "remote"', 'delivery = "mail"')})
    assert main(["corpus", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad / 'a.toml'}:" in out and "delivery: unknown delivery 'mail'" in out


def test_usage_errors_exit_2(mini_index):
    assert run("search").returncode == 2
    assert run("nonsense").returncode == 2
    p = run("search", "cancer du sein", "--lang", "klingon", "--index", str(mini_index))
    assert p.returncode == 2 and "klingon" in p.stderr


def test_missing_index_exits_1(tmp_path):
    p = run("search", "cancer", "--index", str(tmp_path / "none"))
    assert p.returncode == 1 and "carematch index" in p.stderr


def test_index_then_search_json_and_batch(tmp_path, mini_corpus):
    index = tmp_path / "ix" / "default"
    p = run("index", str(mini_corpus), "--index", str(index))
    assert p.returncode == 0, p.stderr
    assert "indexed 4 offers of 2 centres" in p.stdout
    p = run("search", "cancer du sein", "--format", "json", "--index", str(index))
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["results"][0]["centre"]["id"] in {"centre-a", "centre-b"}
    lines = ["cancer du sein", "", "x" * 2000, "sarcome deuxième avis"]
    p = run("search", "--batch", "-", "--format", "jsonl", "--index", str(index), stdin="\n".join(lines) + "\n")
    assert p.returncode == 0, p.stderr
    outs = [json.loads(l) for l in p.stdout.splitlines()]
    assert len(outs) == 4
    assert outs[0]["query"] == "cancer du sein" and outs[0]["results"]
    assert outs[1]["error"]["code"] == "bad_query" and outs[2]["error"]["code"] == "bad_query"
    assert outs[3]["intent"]["service"] == "second_opinion"


def test_every_command_is_documented():
    from search.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, sp in sub.choices.items():
        text = sp.format_help()
        assert sp.description or sp.format_help(), name
        if name not in ("corpus", "terminology"):
            assert "Example" in text, name
