"""In-process timing of ``compare()`` on one generated pair (after one warm-up run).

    .venv/bin/python tests/benchmarks/bench_inproc.py a1scan off 5

KIND names a pair ``.cache/bench/KIND_old.pdf`` / ``KIND_new.pdf`` (written by bench_engine.py), MODE is
the ``--ocr`` mode, N the number of timed runs.  Prints the best and median wall time and CPU time
(this process plus its children, i.e. Tesseract).  Run the code before a change with
``PYTHONPATH=<copy of app/>`` to compare before and after in the same minutes.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

from pdfcompare.engine import CompareOptions, compare

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "bench"


def main(kind: str, mode: str, n: int) -> None:
    old, new = CACHE / f"{kind}_old.pdf", CACHE / f"{kind}_new.pdf"
    options = CompareOptions(ocr=mode)
    compare(old, new, options)  # warm-up: imports, OpenCV start
    walls, cpus = [], []
    for _ in range(n):
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t, c = time.perf_counter(), time.process_time()
        report = compare(old, new, options)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c + (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime))
    print(f"{kind} --ocr {mode}: wall best {min(walls):.3f} median {statistics.median(walls):.3f} | "
          f"CPU best {min(cpus):.3f} median {statistics.median(cpus):.3f} | {report.summary}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1] if len(args) > 1 else "off", int(args[2]) if len(args) > 2 else 5)
