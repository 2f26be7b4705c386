"""``pdfcompare batch MANIFEST`` and start-up cost (issue 12, speed)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
from pdfcompare.cli import main, read_manifest
from pdfcompare.engine import validate_report
from pdfgen import paragraph, text_pdf


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "docs").mkdir()
    a = text_pdf([[paragraph(1), paragraph(2)]])
    b = text_pdf([[paragraph(1), paragraph(2).replace("P2 ", "P2 amended ", 1)]])
    (tmp_path / "docs" / "a.pdf").write_bytes(a)
    (tmp_path / "docs" / "b.pdf").write_bytes(b)
    (tmp_path / "docs" / "a2.pdf").write_bytes(a)
    (tmp_path / "docs" / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage")
    return tmp_path


def test_csv_manifest_gives_a_report_per_pair_and_a_summary(folder, capsys):
    manifest = folder / "revisions.csv"
    manifest.write_text("old,new,name\ndocs/a.pdf,docs/b.pdf,contract\ndocs/a.pdf,docs/a2.pdf,\n")
    out = folder / "reports"
    assert main(["batch", str(manifest), "--out", str(out), "--workers", "2"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split()[:6] == ["contract", "changed", "1", "0", "0", "0"]
    assert printed[2].split()[:2] == ["002-a-vs-a2", "same"]
    assert printed[-1].startswith("2 pair(s): 1 same, 1 changed, 0 failed")
    for name in ("contract", "002-a-vs-a2"):
        assert validate_report(json.loads((out / f"{name}.json").read_text())) == []
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [(r["name"], r["result"], r["text"]) for r in rows] == [("contract", "changed", "1"),
                                                                   ("002-a-vs-a2", "same", "0")]
    assert json.loads((out / "summary.json").read_text())[0]["report"].endswith("contract.json")


def test_json_manifest_and_a_failing_pair(folder, capsys):
    manifest = folder / "m.json"
    manifest.write_text(json.dumps({"pairs": [{"old": "docs/a.pdf", "new": "docs/a2.pdf"},
                                              {"old": "docs/a.pdf", "new": "docs/broken.pdf"}]}))
    assert main(["batch", str(manifest), "-q"]) == 2  # a failed pair wins
    assert capsys.readouterr() == ("", "")
    rows = json.loads((folder / "m-reports" / "summary.json").read_text())
    assert [r["result"] for r in rows] == ["same", "error"]
    assert rows[1]["error"].startswith("The new file")


def test_bad_manifest_is_one_line_and_exit_2(folder, capsys):
    bad = folder / "bad.csv"
    bad.write_text("left,right\na.pdf,b.pdf\n")
    assert main(["batch", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "old and new" in err
    with pytest.raises(ValueError, match="lists no pairs"):
        empty = folder / "empty.json"
        empty.write_text("[]")
        read_manifest(str(empty))


def test_pair_over_the_time_limit_is_stopped(folder, monkeypatch, capsys):
    import pdfcompare.cli as cli

    manifest = folder / "slow.csv"
    manifest.write_text("old,new\ndocs/a.pdf,docs/b.pdf\n")
    monkeypatch.setattr(cli, "HARD_TIMEOUT_GRACE_S", 0.0)

    def hang(*args, **kwargs):
        import time

        time.sleep(30)

    monkeypatch.setattr(cli, "_batch_child", hang)
    assert main(["batch", str(manifest), "--timeout", "0.5"]) == 2
    rows = json.loads((folder / "slow-reports" / "summary.json").read_text())
    assert "did not finish within 0.5 s" in rows[0]["error"]


@pytest.mark.parametrize("module", ["pdfcompare.cli", "pdfcompare.engine"])
def test_importing_the_command_loads_no_heavy_library(module):
    code = (f"import sys, {module}; print(sorted(m for m in ('numpy', 'pymupdf', 'rapidfuzz', 'scipy', "
            "'cv2', 'shapely') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_schema_command_needs_no_pdf_library():
    code = ("import sys; from pdfcompare.cli import main; main(['schema']); "
            "print('pymupdf' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "False False"


def test_a_text_comparison_loads_no_scan_ocr_or_process_code(tmp_path):
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    old.write_bytes(text_pdf([[paragraph(1)]]))
    new.write_bytes(text_pdf([[paragraph(1).replace("P1 ", "P1 clause ", 1)]]))
    code = ("import sys; from pdfcompare.cli import main; code = main(['compare', sys.argv[1], sys.argv[2], "
            "'-q']); print(code, sorted(m for m in ('multiprocessing', 'subprocess', 'cv2', 'shapely', "
            "'pdfcompare.engine.raster', 'pdfcompare.engine.ocr', 'pdfcompare.engine.annotate') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(old), str(new)], capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "1 []"


def test_the_compare_only_parser_reads_compare_as_the_full_parser_does():
    from pdfcompare.cli import build_parser

    argv = ["compare", "a.pdf", "b.pdf", "--json", "-", "--ocr", "off", "--dpi", "200", "--preview",
            "old:2:p.png", "--jobs", "2", "--no-styles", "--timeout", "9"]
    assert vars(build_parser(only_compare=True).parse_args(argv)) == vars(build_parser().parse_args(argv))
    with pytest.raises(SystemExit):
        build_parser(only_compare=True).parse_args(["compare", "a.pdf"])


@pytest.mark.parametrize(("command", "expected"), [("compare", "1"), ("schema", "unset")])
def test_the_comparison_commands_keep_openblas_to_one_thread(command, expected):
    code = ("import os, sys; import pdfcompare.cli as c; c.main = lambda **kw: print("
            "os.environ.get('OPENBLAS_NUM_THREADS', 'unset')) or 0; c.run()")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", code, command], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == expected
