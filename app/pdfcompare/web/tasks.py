"""Comparisons in flight on this instance, and how their progress reads to a person.

Starting a comparison (:func:`start`) hands it to a small thread of the server process that only
*waits*: it submits the :class:`~pdfcompare.jobs.RunComparison` job to the worker pool, waits for
it, renders the first page pair for the viewer (so the result opens with images), and then reads
the documents for search and questions (:class:`~pdfcompare.jobs.IngestDocument`), one job at a
time, so that one user's comparison keeps at most one worker busy. The PDF work itself happens in
the worker processes; the thread holds no lock while it waits, so every session of the instance
stays responsive.

The page shows a running comparison from :func:`progress_of`: the local task when the comparison
runs on this instance, otherwise (a reconnect to another instance) the status stored in the
database and the progress the worker publishes in Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..jobs import IngestDocument, RunComparison
from ..service import Services
from ..workers import JobHandle
from . import images, reports

__all__ = ["ComparisonTask", "ProgressView", "start", "get", "progress_of", "stage_label",
           "overall_fraction", "STAGE_LABELS"]

log = logging.getLogger("pdfcompare.web")

STAGE_LABELS = {
    "queued": "Waiting for a free worker",
    "loading": "Loading the files",
    "extract-old": "Reading the old version",
    "extract-new": "Reading the new version",
    "align": "Matching the pages of both versions",
    "ocr": "Recognising text on scanned pages",
    "pages": "Comparing the pages",
    "saving": "Saving the result",
    "done": "Done",
    "failed": "Failed",
    "timeout": "Stopped: it took too long",
    "cancelled": "Cancelled",
}
"""Stage names of the jobs and the engine, as a person reads them."""

# Share of the progress bar each stage covers (start, end): reading dominates a comparison.
_SPANS = {
    "queued": (0.0, 0.0),
    "loading": (0.0, 0.05),
    "extract-old": (0.05, 0.35),
    "extract-new": (0.35, 0.65),
    "align": (0.65, 0.7),
    "ocr": (0.7, 0.8),
    "pages": (0.7, 0.96),
    "saving": (0.96, 1.0),
    "done": (1.0, 1.0),
}
_KEEP_FINISHED_S = 3600.0
_tasks: dict[int, ComparisonTask] = {}
_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _background_slot(pool: Any) -> threading.BoundedSemaphore:
    """Reading documents for search is background work: it may use all workers but one, so a
    comparison or a page image someone waits for always finds a free worker soon."""
    with _lock:
        slot = _slots.get(id(pool))
        if slot is None:
            slot = _slots[id(pool)] = threading.BoundedSemaphore(max(1, pool.size - 1))
        return slot


def stage_label(stage: str, done: int = 0, total: int = 0) -> str:
    """``Reading the old version — page 12 of 300``."""
    label = STAGE_LABELS.get(stage, stage.replace("-", " ").capitalize())
    if stage in ("extract-old", "extract-new", "pages", "ocr") and total > 1:
        noun = "page pair" if stage == "pages" else "page"
        return f"{label} — {noun} {min(done, total)} of {total}"
    return label


def overall_fraction(stage: str, done: int = 0, total: int = 0) -> float:
    """Where the whole comparison is (0..1) given its current stage."""
    start, end = _SPANS.get(stage, (0.0, 0.0))
    within = min(1.0, done / total) if total > 0 else 0.0
    return max(0.0, min(1.0, start + (end - start) * within))


@dataclass(frozen=True, slots=True)
class ProgressView:
    """What the progress bar shows."""

    state: str
    """``queued``, ``running``, ``done``, ``failed``, ``timeout``, ``cancelled``."""
    label: str
    fraction: float
    error: str | None = None
    instance: str | None = None
    """The instance running it, when it is another one."""
    local: bool = True
    updated_at: float | None = None


@dataclass
class ComparisonTask:
    """One comparison started on this instance (see the module docstring)."""

    services: Services
    owner_id: str
    comparison_id: int
    ingest: Sequence[int] = ()
    handle: JobHandle | None = None
    indexing: str | None = None
    """What the follow-up work is doing (``Indexing report.pdf for search``), None when idle."""
    finished_at: float | None = None
    started_at: float = field(default_factory=time.monotonic)
    _thread: threading.Thread | None = None

    def run(self) -> None:
        pool = self.services.workers
        settings = self.services.settings
        try:
            self.handle = pool.submit(RunComparison(self.owner_id, self.comparison_id))
            limit = settings.compare_timeout_s + 120.0
            self.handle.wait(limit)
            if self.handle.state == "done":
                self._first_pages()
            for document_id in self.ingest:
                self.indexing = "Reading the documents for search and questions"
                with _background_slot(pool):
                    pool.submit(IngestDocument(self.owner_id, document_id)).wait(limit)
        except RuntimeError as exc:  # the pool closed: the instance is stopping
            log.info("comparison %s: follow-up work stopped (%s)", self.comparison_id, exc)
        except Exception:  # noqa: BLE001 - the comparison's own status tells the user; log the bug
            log.exception("comparison %s: follow-up work failed", self.comparison_id)
        finally:
            self.indexing = None
            self.finished_at = time.monotonic()

    def _first_pages(self) -> None:
        """Render the pages the viewer opens with (the first pair with changes), so the result
        shows its images at once."""
        storage = self.services.storage
        if storage is None:
            return
        view = reports.load_report(storage, self.owner_id, self.comparison_id)
        if not view.entries:
            return
        first = view.entries[(view.entries_with_changes or [0])[0]]
        wanted = [(side, page) for side, page in (("old", first.old), ("new", first.new)) if page is not None]
        deadline = time.monotonic() + 60.0
        while wanted and time.monotonic() < deadline:  # the same requests as the viewer's: no duplicates
            wanted = [(side, page) for side, page in wanted if images.page_image(
                self.services, self.owner_id, self.comparison_id, side, page).pending]
            if wanted:
                time.sleep(0.1)

    @property
    def done(self) -> bool:
        return self.handle is not None and self.handle.done

    def view(self) -> ProgressView:
        handle = self.handle
        if handle is None or handle.state == "queued":
            return ProgressView("queued", stage_label("queued"), 0.0)
        if handle.done:
            fraction = 1.0 if handle.state == "done" else 0.0
            return ProgressView(handle.state, stage_label(handle.state), fraction, handle.error_message)
        progress = handle.progress
        if progress is None:
            return ProgressView("running", "Starting", 0.0)
        return ProgressView("running", stage_label(progress.stage, progress.done, progress.total),
                            overall_fraction(progress.stage, progress.done, progress.total),
                            updated_at=progress.updated_at)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


def start(services: Services, owner_id: str, comparison_id: int,
          ingest: Sequence[int] = ()) -> ComparisonTask:
    """Run comparison ``comparison_id`` (then read ``ingest`` documents) in the background."""
    task = ComparisonTask(services, owner_id, comparison_id, tuple(ingest))
    with _lock:
        _forget_old()
        _tasks[comparison_id] = task
    thread = threading.Thread(target=task.run, name=f"pdfcompare-compare-{comparison_id}", daemon=True)
    task._thread = thread
    thread.start()
    return task


def get(comparison_id: int) -> ComparisonTask | None:
    """The task of a comparison started on this instance (call only after the user may see it)."""
    with _lock:
        return _tasks.get(comparison_id)


def _forget_old() -> None:
    now = time.monotonic()
    for key in [k for k, t in _tasks.items() if t.finished_at and now - t.finished_at > _KEEP_FINISHED_S]:
        del _tasks[key]


def progress_of(record: Any, published: Mapping[str, Any] | None, this_instance: str) -> ProgressView:
    """Progress of a comparison that does not run on this instance: its stored status and what its
    worker published in Redis (``published``, may be None without Redis)."""
    if record.status in ("done", "failed"):
        return ProgressView(record.status, stage_label(record.status), 1.0, record.error, record.instance,
                            local=False)
    instance = record.instance if record.instance and record.instance != this_instance else None
    if not published:
        label = "Waiting for a free worker" if record.status == "queued" else "Running"
        return ProgressView("queued" if record.status == "queued" else "running", label, 0.0,
                            instance=instance, local=False)
    stage = str(published.get("stage", "running"))
    done, total = int(published.get("done") or 0), int(published.get("total") or 0)
    state = str(published.get("state") or "running")
    if state in ("failed", "timeout", "cancelled"):
        return ProgressView(state, stage_label(state), 0.0, published.get("error"), instance, local=False)
    return ProgressView("running", stage_label(stage, done, total), overall_fraction(stage, done, total),
                        instance=instance or published.get("instance"), local=False,
                        updated_at=published.get("updated_at"))
