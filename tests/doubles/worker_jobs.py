"""Jobs for the worker pool's tests (stand-ins for the real jobs of :mod:`pdfcompare.jobs`).

They live in a small module of their own so a worker process unpickles them without importing
pytest or a test module. ``on_finished`` runs in the test process: it appends to :data:`FINISHED`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from pdfcompare.engine import EncryptedPdfError
from pdfcompare.workers import Job, JobContext, JobError, JobOutcome, ParentContext

FINISHED: list[tuple[str, JobOutcome]] = []
"""(job label, outcome) of every job that ended in this process, in order."""


@dataclass
class _Recorded(Job):
    label: str = ""

    def on_finished(self, outcome: JobOutcome, parent: ParentContext) -> None:
        FINISHED.append((self.label, outcome))


@dataclass
class SleepJob(_Recorded):
    """Sleeps ``seconds`` in ``steps`` steps, reporting progress of stage ``stage`` after each."""

    kind = "sleep"
    what = "test job"
    seconds: float = 0.1
    steps: int = 1
    stage: str = "pages"
    result: Any = "ok"

    def run(self, ctx: JobContext) -> Any:
        for k in range(self.steps):
            time.sleep(self.seconds / self.steps)
            ctx.progress(self.stage, k + 1, self.steps)
        return {"result": self.result, "pid": os.getpid()}


@dataclass
class StagesJob(_Recorded):
    """Reports the stages of a comparison in order, with a pause long enough for every update."""

    kind = "stages"
    what = "comparison"
    stages: tuple[str, ...] = ("loading", "extract-old", "extract-new", "align", "pages", "saving", "done")

    def run(self, ctx: JobContext) -> list[str]:
        for stage in self.stages:
            for k in range(3):
                ctx.progress(stage, k + 1, 3)
                time.sleep(0.005)
        return list(self.stages)


@dataclass
class BlockInCJob(_Recorded):
    """Blocks in a C call (libc ``sleep``) that Python cannot interrupt, like a stuck MuPDF call."""

    kind = "block"
    what = "comparison"
    seconds: int = 60

    def run(self, ctx: JobContext) -> None:
        ctx.progress("pages", 0, 1)
        ctypes.CDLL(None).sleep(self.seconds)


@dataclass
class BusyLoopJob(_Recorded):
    """Spins in Python forever (ignoring every time limit of its own)."""

    kind = "busy"
    what = "comparison"

    def run(self, ctx: JobContext) -> None:
        n = 0
        while True:
            n += 1


@dataclass
class GilHoggerJob(_Recorded):
    """Renders a busy PDF page with PyMuPDF for ``seconds`` (MuPDF holds the GIL while it renders)."""

    kind = "render"
    what = "page preview"
    seconds: float = 1.0

    def run(self, ctx: JobContext) -> int:
        import pymupdf

        doc = pymupdf.open()
        page = doc.new_page(width=600, height=600)
        shape = page.new_shape()
        for k in range(60):
            shape.draw_circle((k * 5 % 600, k * 7 % 600), 20 + k % 100)
        shape.finish(color=(0, 0, 0), width=0.5)
        shape.commit()
        renders = 0
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            page.get_pixmap(dpi=72)
            renders += 1
        return renders


@dataclass
class KillSelfJob(_Recorded):
    """Dies by ``sig`` (SIGKILL is what the kernel's OOM killer sends)."""

    kind = "crash"
    what = "comparison"
    sig: int = signal.SIGKILL

    def run(self, ctx: JobContext) -> None:
        ctx.progress("extract-old", 1, 10)
        time.sleep(0.05)
        os.kill(os.getpid(), self.sig)
        time.sleep(10)


@dataclass
class FailJob(_Recorded):
    """Raises: ``JobError`` (``mode="job"``), an engine error (``"engine"``) or a bug (``"bug"``)."""

    kind = "fail"
    what = "comparison"
    mode: str = "job"

    def run(self, ctx: JobContext) -> None:
        if self.mode == "job":
            raise JobError("The old document no longer exists.")
        if self.mode == "engine":
            raise EncryptedPdfError("The old file is password protected.", which="old")
        raise KeyError("internal detail that must not reach the user")


@dataclass
class UnpicklableResultJob(_Recorded):
    """Returns something that cannot travel over the pipe."""

    kind = "unpicklable"
    what = "test job"

    def run(self, ctx: JobContext) -> Any:
        return lambda: None
