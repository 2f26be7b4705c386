"""Page images of a comparison (changes highlighted), rendered by :class:`~pdfcompare.jobs.RenderPage`
jobs in the worker processes, never here.

Lookup order: this process's small LRU cache, then Redis (shared by the instances), then a render
job. A page that is not ready yet is reported as pending; the viewer polls until it is. Callers must
have checked that the user may see the comparison (``Storage.get_comparison``) before asking: the
cache keys are comparison ids.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..jobs import RenderPage
from ..service import Services
from ..workers import JobHandle

__all__ = ["DPI", "PageImage", "page_image", "peek", "remember", "prefetch"]

DPI = 100
"""Resolution of the page images (an A4 page is 827 x 1169 pixels)."""
_LRU_SIZE = 96
_FAILED_TTL_S = 60.0
_PENDING_LIMIT = 64

Key = tuple[int, str, int, int]
_lru: OrderedDict[Key, bytes] = OrderedDict()
_pending: dict[Key, JobHandle] = {}
_failed: dict[Key, tuple[float, str]] = {}
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PageImage:
    """A page image (``png``), or why there is none yet (``pending``) or at all (``error``)."""

    png: bytes | None = None
    pending: bool = False
    error: str | None = None


def peek(comparison_id: int, side: str, page: int, dpi: int = DPI) -> bytes | None:
    """The image if this process has it."""
    key = (comparison_id, side, page, dpi)
    with _lock:
        png = _lru.get(key)
        if png is not None:
            _lru.move_to_end(key)
        return png


def remember(comparison_id: int, side: str, page: int, png: bytes, dpi: int = DPI) -> None:
    """Keep an image in this process's cache."""
    key = (comparison_id, side, page, dpi)
    with _lock:
        _lru[key] = png
        _lru.move_to_end(key)
        while len(_lru) > _LRU_SIZE:
            _lru.popitem(last=False)


def page_image(services: Services, owner_id: str, comparison_id: int, side: str, page: int,
               dpi: int = DPI) -> PageImage:
    """The image of ``page`` of the ``side`` document, or pending (a render job runs)."""
    key = (comparison_id, side, page, dpi)
    png = peek(comparison_id, side, page, dpi)
    if png is not None:
        return PageImage(png)
    with _lock:
        handle = _pending.get(key)
        failed = _failed.get(key)
    if handle is not None:
        return _collect(key, handle)
    if failed is not None and time.monotonic() - failed[0] < _FAILED_TTL_S:
        return PageImage(error=failed[1])
    job = RenderPage(owner_id, comparison_id, side, page, dpi)  # type: ignore[arg-type]
    png = job.cached(services.cache)
    if png is not None:
        remember(comparison_id, side, page, png, dpi)
        return PageImage(png)
    submitted = services.workers.submit(job)  # (inline mode: rendered right here)
    with _lock:
        handle = _pending.setdefault(key, submitted)  # another session may have asked meanwhile
        if len(_pending) > _PENDING_LIMIT:  # pages nobody came back for: keep their images
            for done_key in [k for k, h in _pending.items() if h.done and k != key]:
                finished = _pending.pop(done_key)
                if finished.state == "done":
                    _lru[done_key] = finished.result()
    return _collect(key, handle)


def _collect(key: Key, handle: JobHandle) -> PageImage:
    if not handle.done:
        return PageImage(pending=True)
    with _lock:
        _pending.pop(key, None)
    if handle.state == "done":
        png = handle.result()
        remember(key[0], key[1], key[2], png, key[3])
        return PageImage(png)
    message = handle.error_message or "The page could not be rendered."
    with _lock:
        _failed[key] = (time.monotonic(), message)
    return PageImage(error=message)


def prefetch(services: Services, owner_id: str, comparison_id: int, pages: list[tuple[str, int]],
             dpi: int = DPI) -> None:
    """Start rendering ``pages`` ((side, page) pairs) when a worker is idle (never queues behind
    other people's comparisons)."""
    pool = services.workers
    if pool.inline or pool.queue_depth > 0 or pool.busy >= pool.size:
        return
    for side, page in pages:
        key = (comparison_id, side, page, dpi)
        with _lock:
            known = key in _lru or key in _pending
        if not known:
            page_image(services, owner_id, comparison_id, side, page, dpi)
