"""The PDF work of the web app, as jobs that run in worker processes (:mod:`pdfcompare.workers`).

Each job is a small picklable dataclass of ids; ``run`` executes in the worker process with its own
database and Redis connections (``ctx.storage``, ``ctx.cache``) and acts for the owner of the rows
(``owner_id``); ``on_finished`` runs in the server process when the job has ended, however it ended
(metrics; a comparison or document whose worker was killed is marked failed there).

- :class:`IngestDocument`: read an uploaded PDF with the engine (validation, page count, words),
  store its page texts and retrieval chunks, mark it ready (or failed, with the engine's message).
- :class:`RunComparison`: compare two stored documents, unless Redis has the result of the same files,
  options and engine version (computed for any user: the owner gets a comparison of their own
  without recomputing); store the report and its changes; put the result in Redis.
- :class:`RenderPage`: a PNG of one page of a comparison with its changes highlighted (cached in
  Redis).
- :class:`BuildAnnotatedPdf`: the annotated PDF of a comparison, stored as an artifact.

Progress stages are the engine's (``extract-old``, ``extract-new``, ``align``, ``ocr``, ``pages``) and
the jobs' own ``loading`` (reading from the database or the cache), ``saving`` and, last, ``done``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pymupdf

from . import __version__, metrics
from .cache import Cache
from .engine import CompareOptions, Limits, PdfCompareError, Report, compare, load, render_preview
from .engine import write_annotated_pdf as engine_write_annotated_pdf
from .settings import Settings
from .storage.errors import NotFoundError
from .storage.records import Chunk, PageText
from .workers import Job, JobContext, JobError, JobOutcome, ParentContext

__all__ = [
    "IngestDocument",
    "RunComparison",
    "RenderPage",
    "BuildAnnotatedPdf",
    "IngestResult",
    "ComparisonResult",
    "ArtifactResult",
    "ENGINE_VERSION",
    "OPTION_DEFAULTS",
    "normalize_options",
    "compare_options",
    "chunk_pages",
    "document_kind",
    "ANNOTATED_PDF",
]

log = logging.getLogger("pdfcompare.jobs")

ENGINE_VERSION = __version__
"""Version stored with each comparison and part of the result cache key."""
ANNOTATED_PDF = "annotated_pdf"
CHUNK_CHARS = 1000
"""Longest retrieval chunk (characters); chunks never span pages, so each has one page number."""
INGEST_OCR_MAX_PAGES = 20
"""Scanned pages of an uploaded document OCR'd for search and questions (more would make the upload
slow; comparisons OCR the pages they need themselves)."""
RENDER_TIMEOUT_S = 120.0
PROGRESS_PUBLISH_S = 1.0

OPTION_DEFAULTS: dict[str, Any] = {
    "ocr": "auto",
    "ocr_lang": "eng",
    "ocr_dpi": 300,
    "dpi": 150,
    "min_region_px": 40,
    "geometry_tolerance": 0.5,
    "ignore_case": False,
    "text": True,
    "geometry": True,
    "raster": True,
}
"""The comparison options a user may set (the engine's names) and their defaults."""

DocumentKind = Literal["text", "drawing", "scan", "mixed"]


def normalize_options(options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every option with its value (defaults filled in, types checked): store and hash this, so equal
    choices give equal cache keys. Raises :class:`JobError` naming a bad option."""
    result = dict(OPTION_DEFAULTS)
    for key, value in (options or {}).items():
        if key not in OPTION_DEFAULTS:
            raise JobError(f"Unknown comparison option {key!r}.")
        default = OPTION_DEFAULTS[key]
        try:
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError
            elif isinstance(default, int):
                value = int(value)
                if value <= 0:
                    raise ValueError
            elif isinstance(default, float):
                value = float(value)
                if value <= 0:
                    raise ValueError
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise JobError(f"The comparison option {key!r} has an invalid value {value!r}.") from None
        result[key] = value
    if result["ocr"] not in ("auto", "on", "off"):
        raise JobError(f"The comparison option 'ocr' must be auto, on or off, not {result['ocr']!r}.")
    return result


def compare_options(settings: Settings, options: Mapping[str, Any] | None = None) -> CompareOptions:
    """The engine's options for stored ``options``, with the service's limits."""
    values = normalize_options(options)
    limits = Limits(max_file_bytes=settings.max_upload_bytes, max_pages=settings.max_pages,
                    timeout_s=settings.compare_timeout_s)
    return CompareOptions(limits=limits, ocr=values["ocr"], ocr_lang=values["ocr_lang"],
                          ocr_dpi=values["ocr_dpi"], dpi=values["dpi"], min_region_px=values["min_region_px"],
                          geometry_tolerance=values["geometry_tolerance"], ignore_case=values["ignore_case"],
                          text=values["text"], geometry=values["geometry"], raster=values["raster"],
                          workers=1)


def chunk_pages(document_id: int, pages: Sequence[PageText], size: int = CHUNK_CHARS) -> list[Chunk]:
    """Retrieval chunks of a document: each page's text cut at line ends into pieces of at most
    ``size`` characters (a longer line is cut at word ends)."""
    chunks: list[Chunk] = []
    for page in pages:
        current: list[str] = []
        length = 0

        def flush(page_no: int = page.page_no) -> None:
            nonlocal current, length
            text = "\n".join(current).strip()
            if text:
                chunks.append(Chunk(document_id, len(chunks), page_no, text))
            current, length = [], 0

        for line in page.text.splitlines():
            pieces = [line] if len(line) <= size else _split_words(line, size)
            for piece in pieces:
                if length + len(piece) + 1 > size and current:
                    flush()
                current.append(piece)
                length += len(piece) + 1
        flush()
    return chunks


def _split_words(line: str, size: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in line.split():
        if current and len(current) + 1 + len(word) > size:
            pieces.append(current)
            current = ""
        current = f"{current} {word}" if current else word[:size]
    if current:
        pieces.append(current)
    return pieces


def document_kind(data: bytes, sample: int = 5) -> DocumentKind:
    """What a PDF mostly is, from up to ``sample`` pages spread over it (for metrics): ``text``,
    ``drawing`` (few words, large content streams), ``scan`` (images, no text) or ``mixed``."""
    kinds: set[str] = set()
    try:
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            count = doc.page_count
            if count == 0 or doc.needs_pass:
                return "text"
            picks = sorted({round(k * (count - 1) / max(sample - 1, 1)) for k in range(min(sample, count))})
            for number in picks:
                page = doc.load_page(number)
                words = len(page.get_text("words"))
                content = len(page.read_contents())
                if words == 0 and page.get_images():
                    kinds.add("scan")
                elif words < 300 and content > 20_000 + 60 * words:
                    kinds.add("drawing")
                else:
                    kinds.add("text")
    except Exception:  # noqa: BLE001 - a metric label is not worth failing a comparison
        return "text"
    if len(kinds) == 1:
        return kinds.pop()  # type: ignore[return-value]
    return "mixed" if kinds else "text"


def _kind_of_changes(report: Report) -> DocumentKind:
    kinds = {"text": "text", "geometry": "drawing", "raster": "scan"}
    found = {kinds[c.kind] for c in report.changes if c.kind in kinds}
    if len(found) == 1:
        return found.pop()  # type: ignore[return-value]
    return "mixed" if found else "text"


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What :class:`IngestDocument` stored."""

    document_id: int
    page_count: int
    chunks: int
    kind: DocumentKind
    ocr_pages: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ComparisonResult:
    """What :class:`RunComparison` did (the report itself is in the storage)."""

    comparison_id: int
    cached: bool
    """The result came from Redis (computed earlier, possibly for another user)."""
    changed: bool
    summary: dict[str, int]
    kind: DocumentKind
    pages: int
    """Pages read (old + new; 0 for a cached result)."""
    seconds: float
    warnings: list[str] = field(default_factory=list)
    """The engine's notes for the user (e.g. OCR skipped); not stored with the report."""


@dataclass(frozen=True, slots=True)
class ArtifactResult:
    """What :class:`BuildAnnotatedPdf` stored."""

    comparison_id: int
    kind: str
    size_bytes: int
    reused: bool


# --- jobs ----------------------------------------------------------------------------------------


def _with_engine_stages(ctx: JobContext, publish: Any = None) -> Any:
    """The engine's progress callback: forwards its stages, except its final ``done`` (a job reports
    ``done`` after saving)."""
    def progress(stage: str, done: int, total: int) -> None:
        if stage == "done":
            return
        ctx.progress(stage, done, total)
        if publish is not None:
            publish(stage, done, total)
    return progress


@dataclass
class IngestDocument(Job):
    """Read an uploaded document: page texts and words, retrieval chunks; mark it ready or failed.

    Submit it once per upload (when ``Storage.add_document`` returned ``created=True``): a second
    upload of the same file returns the existing document, which needs no second ingest."""

    kind = "ingest"
    what = "reading of the document"
    owner_id: str = ""
    document_id: int = 0

    def run(self, ctx: JobContext) -> IngestResult:
        started = time.monotonic()
        storage = ctx.storage
        ctx.progress("loading", 0, 1)
        data = storage.get_document_content(self.owner_id, self.document_id)
        ctx.progress("loading", 1, 1)
        options = compare_options(ctx.settings, {"ocr": "off"})
        try:
            document = load(data, "old", options, progress=_with_engine_stages(ctx))
        except PdfCompareError as exc:
            storage.mark_document_failed(self.owner_id, self.document_id, str(exc))
            raise
        ocr_pages = _ocr_for_search(data, document, ctx)
        pages = [PageText.from_page_content(page) for page in document.pages]
        chunks = chunk_pages(self.document_id, pages)
        ctx.progress("saving", 0, 3)
        storage.save_pages(self.owner_id, self.document_id, pages)
        ctx.progress("saving", 1, 3)
        storage.save_chunks(self.owner_id, self.document_id, chunks)
        ctx.progress("saving", 2, 3)
        storage.mark_document_ready(self.owner_id, self.document_id, document.page_count)
        ctx.progress("saving", 3, 3)
        ctx.progress("done", 1, 1)
        kind = _kind_of_document(document)
        return IngestResult(self.document_id, document.page_count, len(chunks), kind, ocr_pages,
                            time.monotonic() - started)

    def on_finished(self, outcome: JobOutcome, parent: ParentContext) -> None:
        if outcome.state == "done":
            metrics.count_pages(outcome.result.page_count)
            return
        metrics.count_error(outcome.error_type or outcome.state)
        if parent.storage is not None and outcome.error_message:
            try:
                # not over a result another ingest of the same document stored meanwhile
                if parent.storage.get_document(self.owner_id, self.document_id).status == "ready":
                    return
                parent.storage.mark_document_failed(self.owner_id, self.document_id, outcome.error_message)
            except Exception as exc:  # noqa: BLE001 - e.g. the document was deleted meanwhile
                log.warning("cannot mark document %s failed: %s", self.document_id, exc)


def _kind_of_document(document: Any) -> DocumentKind:
    kinds = set()
    for page in document.pages:
        if page.image_only:
            kinds.add("scan")
        elif len(page.shapes) > 50 and len(page.words) < 300:
            kinds.add("drawing")
        else:
            kinds.add("text")
    if len(kinds) == 1:
        return kinds.pop()  # type: ignore[return-value]
    return "mixed" if kinds else "text"


def _ocr_for_search(data: bytes, document: Any, ctx: JobContext) -> int:
    """OCR the scanned pages of a short document, so search and questions find their text."""
    from .engine.extract import apply_ocr, find_tessdata

    scans = [page for page in document.pages if page.image_only]
    if not scans or len(scans) > INGEST_OCR_MAX_PAGES:
        return 0
    options = compare_options(ctx.settings, {"ocr": "auto"})
    tessdata = find_tessdata(options.ocr_lang)
    if tessdata is None:
        return 0
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for k, content in enumerate(scans):
            ctx.progress("ocr", k, len(scans))
            try:
                apply_ocr(doc.load_page(content.number - 1), content, options, tessdata, "old")
            except Exception as exc:  # noqa: BLE001 - search without a page's text is still useful
                log.info("OCR of page %s failed: %s", content.number, exc)
        ctx.progress("ocr", len(scans), len(scans))
    return len(scans)


@dataclass
class RunComparison(Job):
    """Compare the two documents of a stored comparison (see the module docstring)."""

    kind = "compare"
    what = "comparison"
    owner_id: str = ""
    comparison_id: int = 0

    def run(self, ctx: JobContext) -> ComparisonResult:
        started = time.monotonic()
        storage, cache = ctx.storage, ctx.cache
        publish = _Publisher(cache, self.comparison_id, ctx.settings.instance)
        ctx.progress("loading", 0, 3)
        publish("loading", 0, 3, force=True)
        record = storage.get_comparison(self.owner_id, self.comparison_id)
        storage.start_comparison(self.owner_id, self.comparison_id, ctx.settings.instance)
        key = Cache.result_key(record.old_sha256, record.new_sha256, record.options_hash,
                               record.engine_version)
        try:
            cached_json = cache.get_result(key)
            report = _report_from_json(cached_json) if cached_json else None
            if report is not None:
                assert cached_json is not None
                ctx.progress("saving", 0, 1)
                publish("saving", 0, 1, force=True)
                storage.finish_comparison(self.owner_id, self.comparison_id, cached_json, report.changes,
                                          {"total": 0.0}, cached=True)
                result = ComparisonResult(self.comparison_id, True, report.has_changes, report.summary,
                                          _kind_of_changes(report), 0, time.monotonic() - started)
            else:
                result = self._compute(ctx, record, key, publish, started)
        except PdfCompareError as exc:
            storage.fail_comparison(self.owner_id, self.comparison_id, str(exc))
            publish("failed", 0, 0, force=True, state="failed")
            raise
        ctx.progress("done", 1, 1)
        publish("done", 1, 1, force=True, state="done")
        return result

    def _compute(self, ctx: JobContext, record: Any, key: str, publish: _Publisher,
                 started: float) -> ComparisonResult:
        storage, cache = ctx.storage, ctx.cache
        old = storage.get_document_content(self.owner_id, record.old_document_id)
        ctx.progress("loading", 1, 3)
        new = storage.get_document_content(self.owner_id, record.new_document_id)
        ctx.progress("loading", 2, 3)
        options = compare_options(ctx.settings, record.options)
        kind = document_kind(new)
        ctx.progress("loading", 3, 3)
        report = compare(old, new, options, progress=_with_engine_stages(ctx, publish))
        report_json = report.to_json(indent=None)
        ctx.progress("saving", 0, 1)
        publish("saving", 0, 1, force=True)
        storage.finish_comparison(self.owner_id, self.comparison_id, report_json, report.changes,
                                  report.timings)
        cache.put_result(key, report_json)
        ctx.progress("saving", 1, 1)
        return ComparisonResult(self.comparison_id, False, report.has_changes, report.summary, kind,
                                report.old.pages + report.new.pages, time.monotonic() - started,
                                list(report.warnings))

    def on_finished(self, outcome: JobOutcome, parent: ParentContext) -> None:
        if outcome.state == "done":
            r: ComparisonResult = outcome.result
            result = "cached" if r.cached else ("changed" if r.changed else "unchanged")
            metrics.observe_comparison(result, r.kind, None if r.cached else outcome.run_s, r.pages)
            return
        if outcome.state == "cancelled":
            message = outcome.error_message or "The comparison was cancelled."
        else:
            metrics.observe_comparison("timeout" if outcome.state == "timeout" else "failed", "unknown",
                                       outcome.run_s)
            metrics.count_error(outcome.error_type or outcome.state)
            message = outcome.error_message or "The comparison failed."
        if parent.cache is not None:
            parent.cache.set_progress(self.comparison_id, {
                "stage": outcome.state, "done": 0, "total": 0, "updated_at": time.time(),
                "instance": parent.settings.instance, "state": outcome.state, "error": message})
        if parent.storage is not None:
            try:
                parent.storage.fail_comparison(self.owner_id, self.comparison_id, message)
            except Exception as exc:  # noqa: BLE001 - e.g. deleted meanwhile, or no database now
                log.warning("cannot mark comparison %s failed: %s", self.comparison_id, exc)


def _report_from_json(text: str) -> Report | None:
    try:
        return Report.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring an unreadable cached report: %s", exc)
        return None


class _Publisher:
    """Publishes a comparison's progress to Redis at most once a second (other instances read it)."""

    def __init__(self, cache: Cache, comparison_id: int, instance: str) -> None:
        self.cache = cache
        self.comparison_id = comparison_id
        self.instance = instance
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int, *, force: bool = False,
                 state: str = "running") -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_PUBLISH_S:
            return
        self.last = now
        self.cache.set_progress(self.comparison_id, {"stage": stage, "done": done, "total": total,
                                                     "updated_at": time.time(), "instance": self.instance,
                                                     "state": state})


def _load_comparison(ctx: JobContext, owner_id: str, comparison_id: int) -> tuple[Any, Report]:
    record = ctx.storage.get_comparison(owner_id, comparison_id)
    if record.status != "done":
        raise JobError("The comparison has not finished yet.")
    report = Report.from_dict(json.loads(ctx.storage.get_report_json(owner_id, comparison_id)))
    return record, report


@dataclass
class RenderPage(Job):
    """PNG of page ``page`` of the ``side`` document of a comparison, changes highlighted."""

    kind = "render"
    what = "page preview"
    owner_id: str = ""
    comparison_id: int = 0
    side: Literal["old", "new"] = "new"
    page: int = 1
    dpi: int = 100

    @property
    def cache_key(self) -> str:
        return Cache.png_key(self.comparison_id, self.side, self.page, self.dpi)

    def cached(self, cache: Cache) -> bytes | None:
        """The PNG from Redis, if it was rendered before (the UI asks this before submitting)."""
        return cache.get_png(self.cache_key)

    def timeout_s(self, settings: Settings) -> float:
        return min(settings.compare_timeout_s, RENDER_TIMEOUT_S)

    def run(self, ctx: JobContext) -> bytes:
        if self.side not in ("old", "new"):
            raise JobError("A page preview shows the old or the new document.")
        png = self.cached(ctx.cache)
        if png is not None:
            return png
        ctx.progress("loading", 0, 1)
        record, report = _load_comparison(ctx, self.owner_id, self.comparison_id)
        document_id = record.old_document_id if self.side == "old" else record.new_document_id
        data = ctx.storage.get_document_content(self.owner_id, document_id)
        ctx.progress("pages", 0, 1)
        try:
            png = render_preview(data, report, self.page, self.side, dpi=self.dpi,
                                 options=compare_options(ctx.settings, record.options))
        except ValueError as exc:  # a page that does not exist
            raise JobError(str(exc).capitalize() + ".") from None
        ctx.cache.put_png(self.cache_key, png)
        ctx.progress("done", 1, 1)
        return png


@dataclass
class BuildAnnotatedPdf(Job):
    """The annotated PDF of a comparison (legend, then each old page followed by its new page),
    stored as the comparison's ``annotated_pdf`` artifact; fetch it with ``Storage.get_artifact``."""

    kind = "annotate"
    what = "annotated PDF"
    owner_id: str = ""
    comparison_id: int = 0

    def run(self, ctx: JobContext) -> ArtifactResult:
        storage = ctx.storage
        try:
            existing = storage.get_artifact(self.owner_id, self.comparison_id, ANNOTATED_PDF)
        except NotFoundError:
            pass
        else:
            return ArtifactResult(self.comparison_id, ANNOTATED_PDF, len(existing), True)
        ctx.progress("loading", 0, 2)
        record, report = _load_comparison(ctx, self.owner_id, self.comparison_id)
        old = storage.get_document_content(self.owner_id, record.old_document_id)
        ctx.progress("loading", 1, 2)
        new = storage.get_document_content(self.owner_id, record.new_document_id)
        ctx.progress("loading", 2, 2)
        ctx.progress("pages", 0, 1)
        options = compare_options(ctx.settings, record.options)
        pdf = engine_write_annotated_pdf(old, new, report, None, options)
        ctx.progress("saving", 0, 1)
        storage.save_artifact(self.owner_id, self.comparison_id, ANNOTATED_PDF, pdf)
        ctx.progress("done", 1, 1)
        return ArtifactResult(self.comparison_id, ANNOTATED_PDF, len(pdf), False)

    def on_finished(self, outcome: JobOutcome, parent: ParentContext) -> None:
        if outcome.state in ("failed", "timeout"):
            metrics.count_error(outcome.error_type or outcome.state)
