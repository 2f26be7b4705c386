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
* scan:    image-only pages (rasterised text pages at 150 dpi) with one edited word per page.

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


# ------------------------------------------------------------------------------------------ measuring
def run_child(cmd: list[str], timeout: float, cwd: Path | None = None) -> dict:
    """Run a command; wall, CPU (user+sys) and peak RSS of the child from os.wait4."""
    # output goes to files, not pipes: a tool writing megabytes (pdf-diff writes PNG to stdout) would
    # block on a full pipe while we wait for it
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, cwd=cwd, start_new_session=True)
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
    """In a child process: time compare() in-process and print JSON."""
    import resource

    from pdfcompare.engine import CompareOptions, compare

    options = CompareOptions(ocr=ocr, workers=workers)
    t, c = time.perf_counter(), time.process_time()
    report = compare(old, new, options)
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({
        "compare_s": elapsed,
        "compare_cpu_s": cpu,
        "pages_new": report.new.pages,
        "summary": report.summary,
        "timings": report.timings,
        "maxrss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                         resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
    }))


def measure_ours(old: Path, new: Path, repeat: int, ocr: str = "off", workers: int = 1,
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
    cmd = [str(ROOT / ".venv" / "bin" / "pdfcompare"), "compare", str(old), str(new), "-q", "--ocr", ocr,
           "--json", os.devnull]
    runs = [run_child(cmd, timeout=1800) for _ in range(repeat)]
    best["cli"] = min(runs, key=lambda r: r["cpu"])
    best["cli_wall_best"] = min(r["wall"] for r in runs)
    return best


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", nargs=2, metavar=("OLD", "NEW"), help=argparse.SUPPRESS)
    ap.add_argument("--ocr", default="off", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--text-pages", type=int, default=300)
    ap.add_argument("--peer-text-pages", type=int, default=50,
                    help="pages of the text pair run through the peers (pdf-diff is slow)")
    ap.add_argument("--scan-pages", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--peer-timeout", type=float, default=600)
    ap.add_argument("--json", metavar="FILE", help="also write all results as JSON")
    args = ap.parse_args()
    if args.child:
        child_main(*args.child, args.ocr, args.workers)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average at start {os.getloadavg()[0]:.1f}")
    results: dict = {"machine": platform.platform(), "cores": os.cpu_count()}

    pairs = {
        "text": make_text_pair(args.text_pages),
        "a1": make_a1_pair(),
        "scan": make_scan_pair(args.scan_pages),
        "text_peer": make_text_pair(args.peer_text_pages),
    }
    print("\n## pdfcompare (in-process compare(), best of", args.repeat, ")")
    print("| pair | page pairs | compare() wall | pages/s (wall) | compare() CPU | pages/s (CPU) | peak RSS "
          "| summary |")
    print("|---|---|---|---|---|---|---|---|")
    for key, (old, new) in pairs.items():
        r = measure_ours(old, new, args.repeat)
        results[f"ours_{key}"] = r
        pps = r["pages_new"] / r["compare_s"]
        cps = r["pages_new"] / r["compare_cpu_s"]
        print(f"| {key} | {r['pages_new']} | {_fmt(r['compare_s'])} | {pps:.1f} | "
              f"{_fmt(r['compare_cpu_s'])} | {cps:.1f} | {r['child_maxrss_mb']:.0f} MB | {r['summary']} |")
    old, new = pairs["text"]
    r = measure_ours(old, new, args.repeat, workers=2, cli=False)
    results["ours_text_workers2"] = r
    pps = r["pages_new"] / r["compare_s"]
    print(f"| text, workers=2 | {r['pages_new']} | {_fmt(r['compare_s'])} | {pps:.1f} | "
          f"{_fmt(r['compare_cpu_s'])} (parent only) | - | {r['child_maxrss_mb']:.0f} MB | {r['summary']} |")
    if find_tess():
        old, new = make_scan_pair(2)
        r = measure_ours(old, new, 1, ocr="auto")
        results["ours_scan_ocr"] = r
        pps = r["pages_new"] / r["compare_s"]
        cps = r["pages_new"] / r["compare_cpu_s"]
        print(f"| scan+OCR | {r['pages_new']} | {_fmt(r['compare_s'])} | {pps:.2f} | "
              f"{_fmt(r['compare_cpu_s'])} | {cps:.2f} | {r['child_maxrss_mb']:.0f} MB | {r['summary']} |")

    if not args.no_peers:
        print("\n## side by side, CLI against CLI (child process: wall / CPU user+sys / peak RSS)")
        print("| pair | tool | wall | CPU | peak RSS | CPU ratio peer/pdfcompare | wall ratio | found |")
        print("|---|---|---|---|---|---|---|---|")
        for key in ("text_peer", "a1", "scan"):
            old, new = pairs[key]
            ours = results[f"ours_{key}"]["cli"]
            print(f"| {key} | pdfcompare | {_fmt(ours['wall'])} | {_fmt(ours['cpu'])} | "
                  f"{ours['maxrss_mb']:.0f} MB | 1.0 | 1.0 | {results[f'ours_{key}']['summary']} |")
            for name in ("kogo", "pdf-diff", "pdfdelta"):
                r = measure_peer(name, old, new, args.peer_timeout)
                results[f"{name}_{key}"] = r
                if not r["ok"]:
                    msg = r.get("error") or f"exit {r.get('rc')}: {r.get('stderr', '').strip()[-120:]}"
                    print(f"| {key} | {name} | failed: {msg} | | | | | |")
                    continue
                ratios = f"{r['cpu'] / ours['cpu']:.1f}x | {r['wall'] / ours['wall']:.1f}x"
                print(f"| {key} | {name} | {_fmt(r['wall'])} | {_fmt(r['cpu'])} | {r['maxrss_mb']:.0f} MB | "
                      f"{ratios} | {peer_found(name, r)} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


def find_tess() -> bool:
    from pdfcompare.engine import find_tessdata

    return find_tessdata("eng") is not None


if __name__ == "__main__":
    main()
