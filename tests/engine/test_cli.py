"""The command line: exit codes, outputs, messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pymupdf
import pytest
from pdfcompare.cli import main
from pdfcompare.engine import validate_report
from pdfgen import paragraph, text_pdf

PAGES = [[paragraph(1), paragraph(2)], [paragraph(3)]]


@pytest.fixture()
def files(tmp_path):
    old = tmp_path / "old.pdf"
    new = tmp_path / "new.pdf"
    same = tmp_path / "same.pdf"
    old.write_bytes(text_pdf(PAGES))
    changed = [list(p) for p in PAGES]
    changed[1][0] = changed[1][0].replace("P3 ", "P3 clause ", 1)
    new.write_bytes(text_pdf(changed))
    same.write_bytes(pymupdf.open(old).tobytes(garbage=4, deflate=True))
    return old, new, same


def test_exit_0_when_equal(files, capsys):
    old, _, same = files
    assert main(["compare", str(old), str(same)]) == 0
    out, err = capsys.readouterr()
    assert out == "No differences.\n" and err == ""


def test_exit_1_with_changes_and_summary(files, capsys):
    old, new, _ = files
    assert main(["compare", str(old), str(new)]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "1 change(s): text 1, page 0, geometry 0, raster 0",
        "  text     insert  old p.2 -> new p.2     'clause'",
    ]


def test_json_file_and_stdout(files, tmp_path, capsys):
    old, new, _ = files
    target = tmp_path / "r.json"
    assert main(["compare", str(old), str(new), "--json", str(target), "--quiet"]) == 1
    assert capsys.readouterr() == ("", "")
    data = json.loads(target.read_text())
    assert validate_report(data) == []
    assert data["summary"]["text"] == 1
    assert main(["compare", str(old), str(new), "--json", "-"]) == 1
    out, _ = capsys.readouterr()
    assert json.loads(out) == data


def test_overlay_and_preview(files, tmp_path):
    old, new, _ = files
    overlay, png, png_old = tmp_path / "o.pdf", tmp_path / "p.png", tmp_path / "old.png"
    rc = main(["compare", str(old), str(new), "-q", "--overlay", str(overlay), "--preview", f"2:{png}",
               "--preview", f"old:1:{png_old}"])
    assert rc == 1
    assert pymupdf.open(overlay).page_count == 5
    assert png.read_bytes()[:4] == b"\x89PNG" and png_old.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The new file is empty (0 bytes)."),
        (b"hello", "The new file is not a PDF"),
    ],
)
def test_bad_input_exit_2_one_line(files, tmp_path, capsys, content, message):
    old, _, _ = files
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(content)
    assert main(["compare", str(old), str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"pdfcompare: error: {message}")


def test_encrypted_and_password(files, tmp_path, capsys):
    old, _, _ = files
    enc = tmp_path / "enc.pdf"
    enc.write_bytes(pymupdf.open(old).tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="pw",
                                              owner_pw="owner"))
    assert main(["compare", str(old), str(enc)]) == 2
    assert "password protected" in capsys.readouterr().err
    assert main(["compare", str(old), str(enc), "--new-password", "pw", "-q"]) == 0
    assert main(["compare", str(old), str(enc), "--password", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "pdfcompare: error: The password given for the new file is not correct.\n"


def test_limits_options(files, capsys):
    old, new, _ = files
    assert main(["compare", str(old), str(new), "--max-pages", "1"]) == 2
    assert capsys.readouterr().err == "pdfcompare: error: The old file has 2 pages; the limit is 1 pages.\n"


def test_usage_errors_exit_2(files, capsys):
    old, _, _ = files
    assert main(["compare", str(old)]) == 2
    assert main(["compare", str(old), str(old), "--dpi", "zero"]) == 2
    assert main(["compare", str(old), str(old), "--preview", "x.png"]) == 2
    assert main(["compare", str(old), str(old), "--ocr", "maybe"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 4 and all(line.startswith("pdfcompare") for line in err.splitlines())
    assert main([]) == 2


def test_preview_of_missing_page_is_exit_2(files, tmp_path, capsys):
    old, new, _ = files
    assert main(["compare", str(old), str(new), "-q", "--preview", f"7:{tmp_path / 'x.png'}"]) == 2
    err = capsys.readouterr().err
    assert err == "pdfcompare: error: page 7 does not exist; the new document has 2 pages\n"


def test_help_teaches(capsys):
    assert main(["compare", "--help"]) == 0
    out = capsys.readouterr().out
    for needle in ("examples:", "exit codes", "0  the documents have no differences", "moved", "--ocr-lang",
                   "--password", "--max-pages", "--preview", "geometry", "raster"):
        assert needle in out


def test_schema_command(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "PDF Compare report, version 1"


def test_subprocess_entry_point(files):
    old, new, _ = files
    proc = subprocess.run([sys.executable, "-m", "pdfcompare", "compare", str(old), str(new), "--json", "-"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["schema"] == "pdfcompare.report/1"
    broken = old.with_name("broken.pdf")
    broken.write_bytes(old.read_bytes()[:700])
    proc = subprocess.run([sys.executable, "-m", "pdfcompare", "compare", str(old), str(broken)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("pdfcompare: error: The new file is") and proc.stderr.count("\n") == 1


def test_progress_lines_on_stderr_after_one_second(capsys, monkeypatch):
    from pdfcompare import cli

    progress = cli._Progress(enabled=True)
    progress("extract-old", 1, 10)  # within the first second: silent
    assert capsys.readouterr().err == ""
    progress.start -= 5
    progress("extract-old", 5, 10)
    progress("extract-old", 6, 10)  # throttled (less than 0.5 s later)
    progress("extract-old", 10, 10)  # the last step is always shown
    progress("done", 1, 1)
    assert capsys.readouterr().err.splitlines() == ["pdfcompare: extract-old 5/10",
                                                    "pdfcompare: extract-old 10/10"]
    quiet = cli._Progress(enabled=False)
    quiet.start -= 5
    quiet("extract-old", 5, 10)
    assert capsys.readouterr().err == ""


def test_closed_stdout_is_not_an_error(files):
    # `pdfcompare compare a b | head -1`: the reader goes away; the exit code stays that of the comparison
    old, new, _ = files
    proc = subprocess.Popen([sys.executable, "-m", "pdfcompare", "compare", str(old), str(new)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert err == b""


def _jobs_args(old, new, jobs="auto"):
    from pdfcompare import cli

    return cli, cli.build_parser().parse_args(["compare", str(old), str(new), "--jobs", jobs])


def test_jobs_auto_reads_long_documents_in_two_processes(tmp_path, monkeypatch):
    from pdfcompare import cli

    short = tmp_path / "short.pdf"
    long_ = tmp_path / "long.pdf"
    short.write_bytes(text_pdf([[paragraph(1)]] * 2))
    long_.write_bytes(text_pdf([[paragraph(i)] for i in range(cli.AUTO_JOBS_PAGES)]))
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    _, args = _jobs_args(short, short)
    assert cli._workers(args) == 1
    _, args = _jobs_args(short, long_)
    assert cli._workers(args) == 2
    _, args = _jobs_args(short, long_, jobs="1")
    assert cli._workers(args) == 1
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 1)
    _, args = _jobs_args(short, long_)
    assert cli._workers(args) == 1


def test_jobs_auto_on_a_non_pdf_leaves_the_error_to_compare(tmp_path, capsys):
    bogus = tmp_path / "bogus.pdf"
    bogus.write_bytes(b"hello, not a pdf\n" * 100)
    assert main(["compare", str(bogus), str(bogus)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a PDF" in err


def test_installed_command_kills_a_comparison_stuck_in_one_mupdf_call(tmp_path):
    """One MuPDF call cannot be interrupted from Python; the command's parent process stops it."""
    import time

    heavy = tmp_path / "heavy.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=2384, height=1684)  # A1
    # One path (extracting and comparing it takes milliseconds, so the run reaches the preview well
    # within the limit even on a busy machine) of 10000 lines with a 0.05 pt dash pattern: rendering
    # the preview is one MuPDF call of about 20 s.
    shape = page.new_shape()
    for i in range(10000):
        shape.draw_line((i * 10 % 2384, 0), (2384 - i * 7 % 2384, 1684))
    shape.finish(dashes="[0.05] 0", width=0.5)
    shape.commit()
    doc.save(heavy)
    code = "import pdfcompare.cli as c; c.HARD_TIMEOUT_GRACE_S = 0.5; c.run()"
    started = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-c", code, "compare", str(heavy), str(heavy), "--timeout", "3",
         "--preview", f"1:{tmp_path / 'p.png'}"],
        capture_output=True, text=True, timeout=60,
    )
    elapsed = time.monotonic() - started
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1, res.stderr
    assert "did not finish within 3 s and was stopped" in res.stderr
    assert elapsed < 15
    assert not (tmp_path / "p.png").exists()


def test_installed_command_passes_exit_codes_and_output_through(files):
    old, new, same = files
    same_run = subprocess.run([sys.executable, "-m", "pdfcompare", "compare", str(old), str(same)],
                              capture_output=True, text=True, timeout=60)
    assert (same_run.returncode, same_run.stdout, same_run.stderr) == (0, "No differences.\n", "")
    changed = subprocess.run(
        [sys.executable, "-m", "pdfcompare", "compare", str(old), str(new), "--json", "-"],
        capture_output=True, text=True, timeout=60,
    )
    assert changed.returncode == 1
    assert json.loads(changed.stdout)["summary"]["text"] >= 1
