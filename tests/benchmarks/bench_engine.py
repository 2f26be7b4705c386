"""Benchmark of the compare engine, and the same pairs through peer tools (not a pytest test).

Usage (from the repository root)::

    .venv/bin/python tests/benchmarks/bench_engine.py              # everything, ~5 min on 2 cores
    .venv/bin/python tests/benchmarks/bench_engine.py --no-peers   # only pdfcompare
    .venv/bin/python tests/benchmarks/bench_engine.py --text-pages 1000 --repeat 3

Pairs are generated under .cache/bench/ (git-ignored):

* text:    a contract-like document (default 300 pages, ~320 words per page) with planted edits
           (word edits, a swapped paragraph, an inserted and a deleted page);
* a1:      one A1 sheet (1684 x 2384 pt) with ~6000 vector primitives and 400 dimension texts; the new
           revision moves, adds and removes shapes and changes dimension numbers;
* scan:    image-only pages (rasterised text pages at 150 dpi) with one edited word per page;
* pages:   30 look-alike template pages, one deleted and one inserted;
* a1scan:  the A1 sheet scanned at 150 dpi, the new scan 0.3 degrees askew, shifted, with dust;
* letter:  a 3-page letter scanned at 200 dpi with speckle noise, one word changed;
* identical: a 20-page report and the same report written by another writer (element order, 0.3 pt).

Every kind runs with the default options (``--ocr auto``: with Tesseract installed the scans are
OCR'd where that helps).  To measure another version of the code (e.g. before a change), put its
``app`` folder first on the path: ``PYTHONPATH=/path/to/old/app .venv/bin/python tests/benchmarks/...``.

Peers run from their own virtual environments under .cache/peers/<name>/ (created with
``python3 -m venv .cache/peers/kogo && .cache/peers/kogo/bin/pip install kogo==0.1.7``, likewise
``pdf-diff==0.9.3`` (needs poppler-utils) and ``pdfdelta==0.1.4``); a missing peer is reported, not fatal.

Each measurement runs in a child process: wall time, CPU time (user+sys) and peak RSS come from
``os.wait4``.  For pdfcompare the in-process ``compare()`` time (no interpreter start-up, no import) is
reported as well.  Ratios are peer / pdfcompare for the same pair, CLI against CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "bench"
PEERS = ROOT / ".cache" / "peers"
PY = sys.executable

_WORDS_TEXT = (
    "agreement party shall provide notice within days written consent supplier customer invoice payment term "
    "clause section schedule delivery goods services warranty liability damages indemnify breach terminate "
    "effective date confidential information disclose third person law court dispute resolve arbitration "
    "venue "
    "governing amendment waiver assignment successor force majeure event delay failure perform obligation "
    "reasonable effort insurance policy coverage limit claim loss expense cost fee tax price change order"
)
WORDS = _WORDS_TEXT.split()


# ----------------------------------------------------------------------------------------------- pairs
def _para(rnd: random.Random, n: int) -> list[str]:
    return [rnd.choice(WORDS) for _ in range(n)]


def _text_page(page, paras: list[list[str]]) -> None:
    lines: list[str] = []
    for p in paras:
        lines.extend(" ".join(p[k : k + 12]) for k in range(0, len(p), 12))
        lines.append("")
    page.insert_text((60, 60), lines, fontsize=9.5, lineheight=1.25)


def _contract(rnd: random.Random, pages: int) -> list[list[list[str]]]:
    """Pages of four numbered 80-word paragraphs, as word lists."""
    return [[[f"§{p}.{k}", *_para(rnd, 79)] for k in range(4)] for p in range(pages)]


def _text_doc(content: list[list[list[str]]]):
    import pymupdf

    doc = pymupdf.open()
    for paras in content:
        _text_page(doc.new_page(), paras)
    return doc


def make_text_pair(pages: int) -> tuple[Path, Path]:
    old_p, new_p = CACHE / f"text{pages}_old.pdf", CACHE / f"text{pages}_new.pdf"
    if old_p.exists() and new_p.exists():
        return old_p, new_p
    rnd = random.Random(42)
    doc = _contract(rnd, pages)
    new = [[list(par) for par in pg] for pg in doc]
    for p in range(5, pages, 25):
        new[p][1][10] = "AMENDED"  # replaced word
        new[p][2].insert(20, "additional")  # inserted word
        del new[p][3][30]  # deleted word
    swap = new[min(10, pages - 1)]
    swap[0], swap[2] = swap[2], swap[0]  # two swapped paragraphs
    if pages > 130:
        del new[120]
    new.insert(min(50, pages), [[f"§new.{k}", *_para(rnd, 79)] for k in range(4)])
    for path, content in ((old_p, doc), (new_p, new)):
        _text_doc(content).save(path, garbage=1, deflate=True)
    return old_p, new_p


def _a1_sheet(path: Path, revision: int) -> None:
    import pymupdf

    rnd = random.Random(7)
    w, h = 1684, 2384
    doc = pymupdf.open()
    page = doc.new_page(width=w, height=h)
    sh = page.new_shape()
    sh.draw_rect(pymupdf.Rect(20, 20, w - 20, h - 20))
    sh.draw_rect(pymupdf.Rect(w - 620, h - 220, w - 20, h - 20))
    sh.finish(width=1.4)
    # structural grid and hatching: one path per entity, as CAD exports do
    segs = []
    for k in range(60):
        segs.append(((40 + k * 26, 40), (40 + k * 26, h - 240)))
        segs.append(((40, 40 + k * 35), (w - 40, 40 + k * 35)))
    for _ in range(5600):
        x, y = rnd.uniform(60, w - 60), rnd.uniform(60, h - 260)
        segs.append(((x, y), (x + rnd.uniform(-40, 40), y + rnd.uniform(-40, 40))))
    rects = [(x, y, x + rnd.uniform(10, 80), y + rnd.uniform(10, 60))
             for x, y in ((rnd.uniform(60, w - 160), rnd.uniform(60, h - 320)) for _ in range(300))]
    circles = [((rnd.uniform(80, w - 80), rnd.uniform(80, h - 300)), rnd.uniform(4, 30)) for _ in range(100)]
    dims = [((rnd.uniform(60, w - 120), rnd.uniform(60, h - 260)), str(rnd.randrange(10, 9999)))
            for _ in range(400)]
    if revision:
        r2 = random.Random(99)
        for k in r2.sample(range(len(rects)), 20):  # moved details
            x0, y0, x1, y1 = rects[k]
            rects[k] = (x0 + 30, y0 + 45, x1 + 30, y1 + 45)
        for k in sorted(r2.sample(range(120, len(segs)), 30), reverse=True):  # removed lines
            del segs[k]
        for _ in range(50):  # added lines
            x, y = r2.uniform(60, w - 60), r2.uniform(60, h - 260)
            segs.append(((x, y), (x + 25, y + 5)))
        for k in r2.sample(range(len(dims)), 15):  # changed dimension numbers
            dims[k] = (dims[k][0], str(int(dims[k][1]) + 5))
    for a, b in segs:
        sh.draw_line(a, b)
        sh.finish(width=0.35)
    for r in rects:
        sh.draw_rect(pymupdf.Rect(r))
        sh.finish(width=0.5)
    for c, rad in circles:
        sh.draw_circle(c, rad)
        sh.finish(width=0.5)
    sh.commit()
    for pos, text in dims:
        page.insert_text(pos, text, fontsize=7)
    page.insert_text((w - 600, h - 180), ["TITLE: PUMP STATION P-101 GENERAL ARRANGEMENT",
                                          f"REV {'B' if revision else 'A'}   SCALE 1:50   SHEET 1/1"],
                     fontsize=14)
    doc.save(path, garbage=1, deflate=True)


def make_a1_pair() -> tuple[Path, Path]:
    old_p, new_p = CACHE / "a1_old.pdf", CACHE / "a1_new.pdf"
    if not (old_p.exists() and new_p.exists()):
        _a1_sheet(old_p, 0)
        _a1_sheet(new_p, 1)
    return old_p, new_p


def make_scan_pair(pages: int) -> tuple[Path, Path]:
    import pymupdf

    old_p, new_p = CACHE / f"scan{pages}_old.pdf", CACHE / f"scan{pages}_new.pdf"
    if old_p.exists() and new_p.exists():
        return old_p, new_p
    rnd = random.Random(3)
    doc = _contract(rnd, pages)
    new = [[list(par) for par in pg] for pg in doc]
    for pg in new:
        pg[1][5] = "SCANEDIT"
    for path, content in ((old_p, doc), (new_p, new)):
        src = _text_doc(content)
        out = pymupdf.open()
        for page in src:
            pix = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY)
            dst = out.new_page(width=page.rect.width, height=page.rect.height)
            dst.insert_image(dst.rect, stream=pix.tobytes("png"))
        out.save(path, garbage=1, deflate=True)
    return old_p, new_p


def _pdfgen():
    """The test suite's PDF builders (tests/engine/pdfgen.py): scans with noise, skew and shift."""
    sys.path.insert(0, str(ROOT / "tests" / "engine"))
    import pdfgen

    return pdfgen


def _report_page(page, rnd: random.Random, number: int, total: int, *, writer_b: bool = False) -> None:
    """A page of a technical report: header, two text columns, a 6 x 4 table, footer.  ``writer_b`` writes
    the same page as another PDF writer would: elements in another order, all shifted by 0.3 pt."""
    import pymupdf

    dx, dy = (0.3, 0.2) if writer_b else (0.0, 0.0)
    items = []
    items.append(("text", (50, 40), "ACME Engineering - Annual Technical Report 2026", 11))
    words = [rnd.choice(WORDS) for _ in range(2 * 12 * 9)]
    for col in range(2):
        for ln in range(12):
            chunk = words[(col * 12 + ln) * 9:(col * 12 + ln + 1) * 9]
            items.append(("text", (50 + col * 260, 80 + ln * 12), " ".join(chunk), 8))
    cells = [[f"{rnd.randrange(100, 9999) / 100:.2f}" for _ in range(4)] for _ in range(6)]
    for r, row in enumerate(cells):
        for c, val in enumerate(row):
            items.append(("text", (70 + c * 110, 262 + r * 18), val, 9))
        items.append(("line", (60, 250 + r * 18), (500, 250 + r * 18)))
    items.append(("line", (60, 358), (500, 358)))
    items.append(("text", (260, 800), f"Page {number} of {total}", 8))
    if writer_b:
        items.reverse()
    for it in items:
        if it[0] == "text":
            (x, y), text, size = it[1], it[2], it[3]
            page.insert_text((x + dx, y + dy), text, fontsize=size)
        else:
            (x0, y0), (x1, y1) = it[1], it[2]
            page.draw_line(pymupdf.Point(x0 + dx, y0 + dy), pymupdf.Point(x1 + dx, y1 + dy), width=0.5)


def make_identical_pair(pages: int = 20) -> tuple[Path, Path]:
    """The same report written by two writers (element order, 0.3 pt shift, garbage collection)."""
    import pymupdf

    old_p, new_p = CACHE / "identical_old.pdf", CACHE / "identical_new.pdf"
    if old_p.exists() and new_p.exists():
        return old_p, new_p
    for path, writer_b in ((old_p, False), (new_p, True)):
        rnd = random.Random(11)
        doc = pymupdf.open()
        for n in range(pages):
            _report_page(doc.new_page(), rnd, n + 1, pages, writer_b=writer_b)
        if writer_b:
            doc.save(path, garbage=4, deflate=True, clean=True, use_objstms=1)
        else:
            doc.save(path, garbage=1, deflate=True)
    return old_p, new_p


def _form_page(page, seed: int, number: int, total: int) -> None:
    """A page of an inspection log: the same template (header, labels, footer) on every page, own values."""
    rnd = random.Random(seed)
    page.insert_text((50, 40), ["ACME Engineering - Site Inspection Log", "Form QA-17 rev 4   Confidential"],
                     fontsize=11)
    labels = ["Site", "Inspector", "Date", "Weather", "Result", "Reference"]
    for k, label in enumerate(labels):
        page.insert_text((50, 100 + k * 16), f"{label}:", fontsize=9)
        page.insert_text((150, 100 + k * 16), f"{rnd.choice(WORDS)} {rnd.randrange(10, 999)}", fontsize=9)
    page.insert_text((50, 220), "Remarks:", fontsize=9)
    remark = [rnd.choice(WORDS) for _ in range(36)]
    page.insert_text((50, 236), [" ".join(remark[k:k + 12]) for k in range(0, 36, 12)], fontsize=9)
    page.insert_text((50, 780), "Checked by: ____________   Approved by: ____________", fontsize=9)
    page.insert_text((260, 810), f"Page {number} of {total}", fontsize=8)


def make_pages_pair(pages: int = 30) -> tuple[Path, Path]:
    """Look-alike template pages; the new revision deletes old page 9 and inserts a page at new 20."""
    import pymupdf

    old_p, new_p = CACHE / "pages_old.pdf", CACHE / "pages_new.pdf"
    if old_p.exists() and new_p.exists():
        return old_p, new_p
    seeds = list(range(100, 100 + pages))
    new_seeds = seeds[:8] + seeds[9:]
    new_seeds.insert(19, 999)
    for path, ss in ((old_p, seeds), (new_p, new_seeds)):
        doc = pymupdf.open()
        for n, seed in enumerate(ss):
            _form_page(doc.new_page(), seed, n + 1, len(ss))
        doc.save(path, garbage=1, deflate=True)
    return old_p, new_p


def make_a1scan_pair() -> tuple[Path, Path]:
    """The A1 sheet scanned at 150 dpi; the new revision's sheet lies 0.3 degrees askew, shifted by
    (6, -4) px, with 400 specks of dust."""
    old_p, new_p = CACHE / "a1scan_old.pdf", CACHE / "a1scan_new.pdf"
    if old_p.exists() and new_p.exists():
        return old_p, new_p
    pg = _pdfgen()
    a_old, a_new = make_a1_pair()
    old_p.write_bytes(pg.scan_pdf(a_old.read_bytes(), dpi=150, noise=400, seed=1))
    new_p.write_bytes(pg.scan_pdf(a_new.read_bytes(), dpi=150, noise=400, seed=2, angle=0.3,
                                  shift=(6, -4)))
    return old_p, new_p


def _letter(changed: bool) -> bytes:
    import pymupdf

    rnd = random.Random(21)
    doc = pymupdf.open()
    for n in range(3):
        page = doc.new_page()
        page.insert_text((60, 60), ["ACME Engineering Ltd", "12 Harbour Road, Portsmouth PO1 3AX"],
                         fontsize=12)
        if n == 0:
            page.insert_text((60, 140), ["Ms J. Smith", "Smith & Partners", "4 Mill Lane", "Bristol BS1 4ND"],
                             fontsize=11)
            page.insert_text((400, 140), "29 November 2026", fontsize=11)
        y = 230 if n == 0 else 120
        for p in range(5):
            words = [rnd.choice(WORDS) for _ in range(60)]
            if changed and n == 1 and p == 2:
                words[7] = "revised"
            lines = [" ".join(words[k:k + 12]) for k in range(0, 60, 12)]
            page.insert_text((60, y), lines, fontsize=11, lineheight=1.35)
            y += 5 * 15 + 20
        if n == 2:
            page.insert_text((60, y + 20), ["Yours sincerely,", "", "A. Engineer, Director"], fontsize=11)
        page.insert_text((280, 810), f"{n + 1}/3", fontsize=9)
    data = doc.tobytes()
    doc.close()
    return data


def make_letter_pair() -> tuple[Path, Path]:
    """A 3-page letter scanned at 200 dpi with speckle noise; one word changed on page 2."""
    old_p, new_p = CACHE / "letter_old.pdf", CACHE / "letter_new.pdf"
    if old_p.exists() and new_p.exists():
        return old_p, new_p
    pg = _pdfgen()
    old_p.write_bytes(pg.scan_pdf(_letter(False), dpi=200, noise=150, seed=5))
    new_p.write_bytes(pg.scan_pdf(_letter(True), dpi=200, noise=150, seed=6, shift=(3, 2)))
    return old_p, new_p


# ------------------------------------------------------------------------------------------ measuring
def run_child(cmd: list[str], timeout: float, cwd: Path | None = None, env: dict | None = None) -> dict:
    """Run a command; wall, CPU (user+sys) and peak RSS of the child from os.wait4."""
    # output goes to files, not pipes: a tool writing megabytes (pdf-diff writes PNG to stdout) would
    # block on a full pipe while we wait for it
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, cwd=cwd, start_new_session=True,
                                env=None if env is None else {**os.environ, **env})
        deadline = t0 + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, 9)
                os.wait4(proc.pid, 0)
                return {"ok": False, "error": f"timeout after {timeout:.0f} s", "wall": None}
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        out_f.seek(0)
        err_f.seek(0)
        out = out_f.read().decode(errors="replace")
        err = err_f.read().decode(errors="replace")
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "ok": proc.returncode in (0, 1),
        "rc": proc.returncode,
        "wall": wall,
        "cpu": rusage.ru_utime + rusage.ru_stime,
        "maxrss_mb": rusage.ru_maxrss / 1024,
        "stdout": out[-4000:],
        "stderr": err[-500:],
    }


def child_main(old: str, new: str, ocr: str, workers: int) -> None:
    """In a child process: time compare() in-process (default options unless --ocr is given) and print
    JSON."""
    import resource

    from pdfcompare.engine import CompareOptions, compare

    options = CompareOptions(workers=workers)
    if ocr != "default":
        options = CompareOptions(ocr=ocr, workers=workers)
    t, c = time.perf_counter(), time.process_time()
    report = compare(old, new, options)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({
        "compare_s": elapsed,
        "compare_cpu_s": cpu,
        "pages_new": report.new.pages,
        "summary": report.summary,
        "page_changes": [(c.op, c.old_page, c.new_page) for c in report.changes if c.kind == "page"],
        "timings": report.timings,
        "maxrss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                         resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
    }))


def measure_ours(old: Path, new: Path, repeat: int, ocr: str = "default", workers: int = 1,
                 cli: bool = True) -> dict:
    best = None
    for _ in range(repeat):
        r = run_child([PY, __file__, "--child", str(old), str(new), "--ocr", ocr, "--workers", str(workers)],
                      timeout=1800)
        if not r["ok"]:
            raise SystemExit(f"pdfcompare failed on {old.name}: {r['stderr']}")
        data = json.loads(r["stdout"].strip().splitlines()[-1])
        data["child_wall"] = r["wall"]
        data["child_maxrss_mb"] = r["maxrss_mb"]
        if best is None or data["compare_s"] < best["compare_s"]:
            best = data
    if not cli:
        return best
    cmd = [str(ROOT / ".venv" / "bin" / "pdfcompare"), "compare", str(old), str(new), "-q", "--json",
           os.devnull]
    if ocr != "default":
        cmd += ["--ocr", ocr]
    runs = [run_child(cmd, timeout=1800) for _ in range(repeat)]
    best["cli"] = min(runs, key=lambda r: r["cpu"])
    best["cli_wall_best"] = min(r["wall"] for r in runs)
    best["cli_stderr"] = runs[0]["stderr"]
    return best


def measure_startup(repeat: int) -> dict:
    """Start-up overhead of `pdfcompare compare` on two one-page files: the whole command minus the
    comparison itself, and the floor (interpreter + PyMuPDF + NumPy imports)."""
    import pymupdf

    pg = _pdfgen()
    a, b = CACHE / "one_a.pdf", CACHE / "one_b.pdf"
    a.write_bytes(pg.text_pdf([[pg.paragraph(1), pg.paragraph(2)]]))
    b.write_bytes(pg.text_pdf([[pg.paragraph(1), pg.paragraph(3)]]))
    del pymupdf
    cmd = [str(ROOT / ".venv" / "bin" / "pdfcompare"), "compare", str(a), str(b), "-q"]
    cli = [run_child(cmd, timeout=60) for _ in range(repeat)]
    floor = [run_child([PY, "-c", "import pymupdf, numpy"], timeout=60) for _ in range(repeat)]
    # the command keeps OpenBLAS (NumPy) to one thread, whose idle worker otherwise spins at start-up
    floor1 = [run_child([PY, "-c", "import pymupdf, numpy"], timeout=60, env={"OPENBLAS_NUM_THREADS": "1"})
              for _ in range(repeat)]
    bare = [run_child([PY, "-c", "pass"], timeout=60) for _ in range(repeat)]
    inproc = measure_ours(a, b, repeat, cli=False)
    best = min(cli, key=lambda r: r["wall"])
    return {
        "cli_wall": best["wall"], "cli_cpu": min(r["cpu"] for r in cli),
        "compare_s": inproc["compare_s"],
        "overhead_wall": best["wall"] - inproc["compare_s"],
        "python_wall": min(r["wall"] for r in bare),
        "floor_wall": min(r["wall"] for r in floor), "floor_cpu": min(r["cpu"] for r in floor),
        "floor1_wall": min(r["wall"] for r in floor1), "floor1_cpu": min(r["cpu"] for r in floor1),
    }


def peer_commands(name: str, old: Path, new: Path, out: Path) -> list[str] | None:
    venv = PEERS / name / "bin"
    if name == "kogo" and (venv / "kogo").exists():
        return [str(venv / "kogo"), "diff", str(old), str(new), "--json", "--no-previews", "-o", str(out)]
    if name == "pdf-diff" and (venv / "pdf-diff").exists():
        return [str(venv / "pdf-diff"), str(old), str(new)]
    if name == "pdfdelta" and (venv / "pdfdelta").exists():
        return [str(venv / "pdfdelta"), str(old), str(new), "--old-out", str(out / "old.pdf"),
                "--new-out", str(out / "new.pdf")]
    return None


def peer_found(name: str, r: dict) -> str:
    """What a peer reported, in a few words (a fast tool that finds nothing is not a fast tool)."""
    out = r.get("stdout", "")
    if name == "kogo":
        sm = r.get("summary")
        if not sm:
            return "no result.json"
        return (f"{sm['changed_pages']} changed / {sm['added_pages']} added / {sm['deleted_pages']} deleted "
                f"pages, +{sm['added_words']} -{sm['deleted_words']} words, {sm['visual_regions']} regions")
    if name == "pdfdelta":
        import re

        m = re.search(r"Old annotations: (\d+)\s+New annotations: (\d+)", out)
        return f"{m.group(1)} old + {m.group(2)} new highlights" if m else "no summary"
    if name == "pdf-diff":
        if r.get("rc") == 0 and out:
            return "side-by-side PNG (no structured report)"
        return (r.get("stderr", "").strip().splitlines() or ["failed"])[-1][:80]
    return ""


def measure_peer(name: str, old: Path, new: Path, timeout: float) -> dict:
    out = CACHE / "peer_out" / f"{name}_{old.stem}"
    out.mkdir(parents=True, exist_ok=True)
    cmd = peer_commands(name, old, new, out)
    if cmd is None:
        return {"ok": False, "error": "not installed", "wall": None}
    r = run_child(cmd, timeout=timeout, cwd=out)
    if name == "pdf-diff" and r.get("rc") == 1:  # pdf-diff exits 1 on an exception
        r["ok"] = False
        r["error"] = (r.get("stderr", "").strip().splitlines() or ["failed"])[-1][:100]
    if name == "kogo" and (out / "result.json").exists():
        r["summary"] = json.loads((out / "result.json").read_text())["summary"]
    return r


# ---------------------------------------------------------------------------------------------- main
def _fmt(x: float | None, unit: str = "s") -> str:
    return "n/a" if x is None else f"{x:.3f} {unit}" if x < 10 else f"{x:.1f} {unit}"


KIND_TITLES = {
    "text": "text (50-page contract: word edits, moved paragraphs, a page added)",
    "pages": "page ins/del (30 look-alike template pages: one deleted, one inserted)",
    "vector": "vector (A1 sheet: moved, added, removed shapes; changed dimensions)",
    "scan": "scan (10 scanned text pages, one word changed per page)",
    "a1scan": "A1 scanned sheet (150 dpi, new scan 0.3 deg askew, shifted, dust)",
    "letter": "3-page scanned letter (200 dpi, speckle, one word changed)",
    "identical": "identical (20-page report written by another writer: order, 0.3 pt shift)",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=2, metavar=("OLD", "NEW"), help=argparse.SUPPRESS)
    ap.add_argument("--ocr", default="default", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--text-pages", type=int, default=300,
                    help="pages of the long text pair measured in-process only (0: skip it)")
    ap.add_argument("--peer-text-pages", type=int, default=50,
                    help="pages of the text pair run through the peers (pdf-diff is slow)")
    ap.add_argument("--scan-pages", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KIND_TITLES), help="kinds to run (comma-separated)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peer-timeout", type=float, default=600)
    ap.add_argument("--json", metavar="FILE", help="also write all results as JSON")
    args = ap.parse_args()
    if args.child:
        child_main(*args.child, args.ocr, args.workers)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average at start {os.getloadavg()[0]:.1f}; tesseract data: {find_tess()}")
    results: dict = {"machine": platform.platform(), "cores": os.cpu_count(), "load_start": os.getloadavg()}

    su = measure_startup(max(args.repeat, 5))
    results["startup"] = su
    print("\n## start-up of `pdfcompare compare` on two one-page files (best of 5)")
    print("| CLI wall | CLI CPU | compare() in-process | overhead (CLI - compare) | python -c pass | "
          "import pymupdf, numpy | the same, one OpenBLAS thread |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {_fmt(su['cli_wall'])} | {_fmt(su['cli_cpu'])} | {_fmt(su['compare_s'])} | "
          f"{_fmt(su['overhead_wall'])} | {_fmt(su['python_wall'])} | {_fmt(su['floor_wall'])} wall, "
          f"{_fmt(su['floor_cpu'])} CPU | {_fmt(su['floor1_wall'])} wall, {_fmt(su['floor1_cpu'])} CPU |")

    makers = {
        "text": lambda: make_text_pair(args.peer_text_pages),
        "pages": make_pages_pair,
        "vector": make_a1_pair,
        "scan": lambda: make_scan_pair(args.scan_pages),
        "a1scan": make_a1scan_pair,
        "letter": make_letter_pair,
        "identical": make_identical_pair,
    }
    kinds = [k for k in args.kinds.split(",") if k in makers]
    print("\n## per kind, default options (`--ocr auto`, Tesseract installed); CLI against CLI")
    print("| kind | tool | wall | CPU | peak RSS | CPU ratio tool/pdfcompare | wall ratio | found |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        old, new = makers[kind]()
        ours = measure_ours(old, new, args.repeat)
        results[f"ours_{kind}"] = ours
        cli = ours["cli"]
        found = ", ".join(f"{k} {v}" for k, v in ours["summary"].items() if v) or "no changes"
        print(f"| {kind} | pdfcompare (compare() {_fmt(ours['compare_s'])}, "
              f"{ours['child_maxrss_mb']:.0f} MB) | {_fmt(cli['wall'])} | {_fmt(cli['cpu'])} | "
              f"{cli['maxrss_mb']:.0f} MB | 1.0 | 1.0 | {found} |")
        if args.no_peers:
            continue
        for name in ("kogo", "pdf-diff", "pdfdelta"):
            r = measure_peer(name, old, new, args.peer_timeout)
            results[f"{name}_{kind}"] = r
            if r.get("error") == "not installed" and name == "pdfdelta":
                continue
            if not r["ok"]:
                msg = r.get("error") or f"exit {r.get('rc')}: {r.get('stderr', '').strip()[-120:]}"
                print(f"| {kind} | {name} | failed: {msg} | | | | | |")
                continue
            ratios = f"{r['cpu'] / cli['cpu']:.1f}x | {r['wall'] / cli['wall']:.1f}x"
            print(f"| {kind} | {name} | {_fmt(r['wall'])} | {_fmt(r['cpu'])} | {r['maxrss_mb']:.0f} MB | "
                  f"{ratios} | {peer_found(name, r)} |")

    if args.text_pages:
        print(f"\n## long text pair in-process ({args.text_pages} pages, best of {args.repeat})")
        print("| pair | page pairs | compare() wall | pages/s | compare() CPU | peak RSS | summary |")
        print("|---|---|---|---|---|---|---|")
        old, new = make_text_pair(args.text_pages)
        for label, workers in (("workers=1", 1), ("workers=2", 2)):
            r = measure_ours(old, new, args.repeat, workers=workers, cli=False)
            results[f"ours_text{args.text_pages}_{label}"] = r
            print(f"| text, {label} | {r['pages_new']} | {_fmt(r['compare_s'])} | "
                  f"{r['pages_new'] / r['compare_s']:.0f} | {_fmt(r['compare_cpu_s'])} | "
                  f"{r['child_maxrss_mb']:.0f} MB | {r['summary']} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


def find_tess() -> bool:
    from pdfcompare.engine import find_tessdata

    return find_tessdata("eng") is not None


if __name__ == "__main__":
    main()
