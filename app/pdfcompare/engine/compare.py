"""The comparison pipeline: open, extract, align pages, diff text, geometry and rasters."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pymupdf

from .align import align_pages
from .errors import LimitExceededError, PdfCompareError, TimeLimitExceededError
from .extract import (
    Deadline,
    Source,
    apply_ocr,
    extract_document,
    needs_ocr,
    ocr_setup,
    open_pdf,
    read_source,
    thumbnail,
)
from .geometry import diff_geometry
from .model import Change, DocInfo, Document, PageContent, PageMatch, Report
from .options import CompareOptions
from .textdiff import diff_text, pairs_in_place

if TYPE_CHECKING:
    from .raster import RasterResult

# multiprocessing, the raster code (scans, pictures) and the OCR code are imported where they are used:
# a comparison of two short text documents needs none of them (start-up time, docs/benchmarks.md).

__all__ = ["compare", "load", "ProgressCallback"]

ProgressCallback = Callable[[str, int, int], None]


def _password(options: CompareOptions, which: str) -> str | None:
    own = options.old_password if which == "old" else options.new_password
    return own if own is not None else options.password


def load(
    source: Source,
    which: str = "old",
    options: CompareOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Document:
    """Open and extract one document (useful to inspect what the engine sees)."""
    options = options or CompareOptions()
    data = read_source(source, which, options.limits)
    doc = open_pdf(data, which, _password(options, which), options.limits)
    try:
        return extract_document(doc, data, which, options, Deadline(options.limits.timeout_s), progress)
    finally:
        doc.close()


def _page_changes(page_map: list[PageMatch], old: Document, new: Document) -> list[Change]:
    out = []
    for m in page_map:
        if m.status == "inserted":
            out.append(Change("page", "insert", None, m.new, None, new.pages[m.new - 1].rect))
        elif m.status == "deleted":
            out.append(Change("page", "delete", m.old, None, old.pages[m.old - 1].rect, None))
        elif m.status == "moved":
            out.append(Change("page", "move", m.old, m.new, old.pages[m.old - 1].rect,
                              new.pages[m.new - 1].rect))
    return out


_PARALLEL_MIN_PAGES = 64


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _extract_worker(
    data: bytes, which: str, options: CompareOptions, seconds: float
) -> tuple[Document, list[str]]:
    """Runs in a forked child: open and extract one document, return it (pickled) with its warnings."""
    warnings: list[str] = []
    doc = open_pdf(data, which, _password(options, which), options.limits)
    try:
        result = extract_document(doc, data, which, options, Deadline(seconds), None, warnings, ocr=False,
                                  thumbnails=False)
    finally:
        doc.close()
    return result, warnings


def _extract_in_parallel(
    od: pymupdf.Document, old_data: bytes, new_data: bytes, options: CompareOptions, deadline: Deadline,
    progress: ProgressCallback | None, warnings: list[str],
) -> tuple[Document, Document]:
    """Extract the new document in a forked child while this process extracts the old one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        future = pool.submit(_extract_worker, new_data, "new", options, deadline.remaining())
        old_doc = extract_document(od, old_data, "old", options, deadline, progress, warnings, ocr=False,
                                   thumbnails=False)
        try:
            new_doc, new_warnings = future.result(timeout=max(deadline.remaining(), 0.0) + 5.0)
        except TimeoutError:
            raise TimeLimitExceededError(
                f"The comparison took longer than the time limit of {options.limits.timeout_s:g} seconds."
            ) from None
        except BrokenProcessPool:
            raise LimitExceededError(
                "Reading the new file used more resources than this machine allows (the worker process "
                "was stopped)."
            ) from None
    warnings.extend(w for w in new_warnings if w not in warnings)
    if progress:
        progress("extract-new", new_doc.page_count, new_doc.page_count)
    return old_doc, new_doc


def _ocr_pairs(page_map: list[PageMatch], od: pymupdf.Document, nd: pymupdf.Document, old_doc: Document,
               new_doc: Document, options: CompareOptions, tessdata: str, deadline: Deadline,
               progress: ProgressCallback | None, raster: dict[tuple[int, int], RasterResult]) -> None:
    """OCR what helps: with ``auto`` the text-like changed regions of scanned page pairs (both sides
    scans, registered by the raster diff); whole pages where one side is a scan and the other is not,
    or with ``on``."""
    todo = []
    for m in page_map:
        if m.old is None or m.new is None:
            continue
        op, np_ = old_doc.pages[m.old - 1], new_doc.pages[m.new - 1]
        if op.content_hash != np_.content_hash and (needs_ocr(op, options) or needs_ocr(np_, options)):
            todo.append((m, op, np_))
    for k, (m, op, np_) in enumerate(todo):
        deadline.check()
        result = raster.get((m.old, m.new))
        if options.ocr == "auto" and op.image_only and np_.image_only and result is not None:
            if result.changes:
                from .ocr import ocr_regions

                ocr_regions(od.load_page(m.old - 1), nd.load_page(m.new - 1), op, np_, result.changes,
                            result.text_like, result.transform, options, tessdata)
            else:  # registered and nothing changed: no text changed either
                op.ocr = np_.ocr = True
        else:
            if needs_ocr(op, options):
                apply_ocr(od.load_page(m.old - 1), op, options, tessdata, "old")
            if needs_ocr(np_, options):
                apply_ocr(nd.load_page(m.new - 1), np_, options, tessdata, "new")
            if result is not None:
                from .raster import invert

                np_.to_old_frame = invert(result.transform)
        if progress:
            progress("ocr", k + 1, len(todo))


def _ocr_scan_pair(od: pymupdf.Document, nd: pymupdf.Document, m: PageMatch, op: PageContent,
                   np_: PageContent, result: RasterResult, options: CompareOptions, tessdata: str) -> None:
    """``ocr="auto"`` on a pair of scans: read the text-like changed regions (none changed: no text
    changed either)."""
    from .ocr import ocr_regions

    if result.changes:
        ocr_regions(od.load_page(m.old - 1), nd.load_page(m.new - 1), op, np_, result.changes,
                    result.text_like, result.transform, options, tessdata)
    else:
        op.ocr = np_.ocr = True


def _sort_key(c: Change) -> tuple:
    page = c.new_page if c.new_page is not None else c.old_page
    box = c.new_bbox or c.old_bbox or (0, 0, 0, 0)
    order = ("page", "text", "geometry", "raster").index(c.kind)
    return (page or 0, order, round(box[1], 1), round(box[0], 1), c.old_page or 0)


def compare(
    old: Source,
    new: Source,
    options: CompareOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Report:
    """Compare two PDFs and return a :class:`~pdfcompare.engine.model.Report`.

    ``old`` and ``new`` are file paths or the PDF bytes.  ``progress`` is called as
    ``progress(stage, done, total)`` with stages ``extract-old``, ``extract-new``, ``align``, ``ocr`` (only
    when scanned pages differ), ``pages`` and ``done``.  Raises a
    :class:`~pdfcompare.engine.errors.PdfCompareError` subclass for unreadable, encrypted or oversized
    input; never returns a partial report.
    """
    options = options or CompareOptions()
    deadline = Deadline(options.limits.timeout_s)
    timings: dict[str, float] = {}
    warnings: list[str] = []
    t0 = time.perf_counter()
    old_data = read_source(old, "old", options.limits)
    new_data = read_source(new, "new", options.limits)
    docs: list[pymupdf.Document] = []
    try:
        od = open_pdf(old_data, "old", _password(options, "old"), options.limits)
        docs.append(od)
        nd = open_pdf(new_data, "new", _password(options, "new"), options.limits)
        docs.append(nd)
        tessdata = ocr_setup(options)
        if options.workers > 1 and od.page_count + nd.page_count >= _PARALLEL_MIN_PAGES and _can_fork():
            old_doc, new_doc = _extract_in_parallel(od, old_data, new_data, options, deadline, progress,
                                                    warnings)
        else:
            old_doc = extract_document(od, old_data, "old", options, deadline, progress, warnings, ocr=False,
                                       thumbnails=False)
            new_doc = extract_document(nd, new_data, "new", options, deadline, progress, warnings, ocr=False,
                                       thumbnails=False)
        t1 = time.perf_counter()
        timings["extract"] = t1 - t0

        deadline.check()
        def thumbs(pages: list[PageContent]) -> None:  # rendered only for the scans alignment compares
            for p in pages:
                if p.image_only and p.thumbnail is None:
                    src = od if any(p is q for q in old_doc.pages) else nd
                    p.thumbnail = thumbnail(src.load_page(p.number - 1))

        page_map = align_pages(old_doc.pages, new_doc.pages, options.page_match_threshold, thumbs)
        if progress:
            progress("align", 1, 1)
        t2 = time.perf_counter()
        timings["align"] = t2 - t1

        pairs = [m for m in page_map if m.old is not None and m.new is not None]
        # scans first: registration and changed regions; OCR reads the regions that look like text
        raster: dict[tuple[int, int], RasterResult] = {}
        scans = [m for m in pairs if options.raster and m.old is not None and m.new is not None
                 and (old_doc.pages[m.old - 1].image_only or new_doc.pages[m.new - 1].image_only)
                 and old_doc.pages[m.old - 1].content_hash != new_doc.pages[m.new - 1].content_hash]
        # OCR of a pair's text-like regions right after its raster diff (``auto``, both pages scans)
        to_read = {(m.old, m.new) for m in scans if tessdata is not None and options.ocr == "auto"
                   and old_doc.pages[m.old - 1].image_only and new_doc.pages[m.new - 1].image_only}
        read = 0
        for k, m in enumerate(scans):
            deadline.check()
            op, np_ = old_doc.pages[m.old - 1], new_doc.pages[m.new - 1]
            read_now = (m.old, m.new) in to_read
            from .raster import diff_raster

            try:
                result = diff_raster(od.load_page(m.old - 1), nd.load_page(m.new - 1), options)
            except PdfCompareError:
                raise
            except Exception:
                warnings.append(f"Old page {m.old} / new page {m.new} could not be rendered; "
                                "its image comparison was skipped.")
                continue
            raster[(m.old, m.new)] = result
            if result.warning:
                warnings.append(result.warning)
            if read_now:
                _ocr_scan_pair(od, nd, m, op, np_, result, options, tessdata)
                read += 1
                if progress:
                    progress("ocr", read, len(to_read))
            if progress:
                progress("scans", k + 1, len(scans))
        if tessdata:  # OCR only the scanned pages of pairs that differ: identical scans need none
            _ocr_pairs(page_map, od, nd, old_doc, new_doc, options, tessdata, deadline, progress, raster)
        t_scan = time.perf_counter()
        timings["scans"] = t_scan - t2

        changes = _page_changes(page_map, old_doc, new_doc)
        # page pairs whose drawing instructions differ may hold words in another style
        styled = {(m.old, m.new): [] for m in pairs if options.text and options.styles
                  and old_doc.pages[m.old - 1].words and new_doc.pages[m.new - 1].words
                  and not (old_doc.pages[m.old - 1].ocr or new_doc.pages[m.new - 1].ocr)
                  and old_doc.pages[m.old - 1].style_key != new_doc.pages[m.new - 1].style_key}
        if options.text:
            changes.extend(diff_text(old_doc, new_doc, page_map, options, deadline, styled or None))
        for (po, pn), equal in styled.items():
            deadline.check()
            op, np_ = old_doc.pages[po - 1], new_doc.pages[pn - 1]
            if not equal:  # the text diff skipped the pair: the same words (in place)
                if op.words == np_.words:
                    equal.extend((k, k) for k in range(len(op.words)))
                else:
                    tol = options.text_position_tolerance
                    equal.extend(pairs_in_place(op, np_, tol, options.ignore_case))
            from .style import diff_styles

            changes.extend(diff_styles(op, np_, od.load_page(po - 1), nd.load_page(pn - 1), sorted(equal),
                                       options))
        t3 = time.perf_counter()
        timings["text"] = t3 - t_scan

        step = max(1, len(pairs) // 100)
        for k, m in enumerate(pairs):
            deadline.check()
            op, np_ = old_doc.pages[m.old - 1], new_doc.pages[m.new - 1]
            if options.geometry and op.content_hash != np_.content_hash:
                changes.extend(diff_geometry(op, np_, options))
            if (options.raster and not (op.image_only or np_.image_only) and (op.images or np_.images)
                    and op.content_hash != np_.content_hash):
                from .raster import diff_images

                changes.extend(diff_images(op, np_, od.load_page(m.old - 1), nd.load_page(m.new - 1)))
            if (m.old, m.new) in raster:
                changes.extend(raster[(m.old, m.new)].changes)
            if progress and ((k + 1) % step == 0 or k + 1 == len(pairs)):
                progress("pages", k + 1, len(pairs))
        timings["pages"] = time.perf_counter() - t3
    finally:
        for d in docs:
            d.close()
    changes.sort(key=_sort_key)
    timings["total"] = time.perf_counter() - t0
    if progress:
        progress("done", 1, 1)
    return Report(
        old=DocInfo(old_doc.sha256, old_doc.page_count),
        new=DocInfo(new_doc.sha256, new_doc.page_count),
        page_map=page_map,
        changes=changes,
        warnings=warnings,
        timings=timings,
    )
