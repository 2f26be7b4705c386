"""Typed records the storage layer reads and writes (no database code here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the engine pulls in PyMuPDF/numpy; `pdfcompare migrate` must not need them
    from ..engine.model import Change, PageContent

__all__ = [
    "Box",
    "StoredDocument",
    "PageText",
    "Chunk",
    "ComparisonRecord",
    "ChangeRecord",
    "SearchHit",
    "RegionHit",
    "SchemaStatus",
    "options_hash",
]

Box = tuple[float, float, float, float]
"""``(x0, y0, x1, y1)`` in PDF points, origin top-left of the unrotated page (as the engine)."""
DocumentStatus = Literal["ingesting", "ready", "failed"]
ComparisonStatus = Literal["queued", "running", "done", "failed"]


def options_hash(options: Mapping[str, Any]) -> str:
    """A stable hash of comparison options (keys sorted): the same options give the same hash in
    every process, so stored and cached results can be reused."""
    text = json.dumps(options, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """An uploaded PDF (without its bytes: :meth:`Storage.get_document_content`)."""

    id: int
    owner: str
    sha256: str
    filename: str
    size_bytes: int
    page_count: int | None
    status: DocumentStatus
    error: str | None
    created_at: datetime
    created: bool = False
    """True when :meth:`Storage.add_document` stored it just now; False when the same file was
    already there (dedup) or the record was read."""


@dataclass(frozen=True, slots=True)
class PageText:
    """Text of one page for search and retrieval: ``words`` is ``[[text, x0, y0, x1, y1], ...]``
    (a list, or that list already serialised as JSON text)."""

    page_no: int
    width: float
    height: float
    text: str
    words: list[list[Any]] | str = ()  # type: ignore[assignment]

    @classmethod
    def from_page_content(cls, page: PageContent) -> PageText:
        """Build from the engine's extracted page: lines in reading order, one per text line."""
        lines: list[list[str]] = []
        last_line = None
        words: list[list[Any]] = []
        for text, box, line in zip(page.words, page.word_boxes.tolist(), page.word_lines.tolist(),
                                   strict=True):
            if line != last_line:
                lines.append([])
                last_line = line
            lines[-1].append(text)
            words.append([text, *(round(float(v), 2) for v in box)])
        return cls(page.number, float(page.width), float(page.height),
                   "\n".join(" ".join(line) for line in lines), words)

    def words_json(self) -> str:
        """``words`` as JSON text."""
        if isinstance(self.words, str):
            return self.words
        return json.dumps(list(self.words), separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document for retrieval (question answering)."""

    document_id: int
    chunk_no: int
    page_no: int
    text: str
    score: float | None = None
    """Relevance of a retrieved chunk (higher is better); None when not retrieved by a query."""


@dataclass(frozen=True, slots=True)
class ComparisonRecord:
    """One comparison of two of the user's documents (the report itself:
    :meth:`Storage.get_report_json`)."""

    id: int
    owner: str
    old_document_id: int
    new_document_id: int
    old_filename: str
    new_filename: str
    old_sha256: str
    new_sha256: str
    options: dict[str, Any]
    options_hash: str
    engine_version: str
    status: ComparisonStatus
    error: str | None
    cached: bool
    instance: str | None
    timings: dict[str, float] | None
    summary: dict[str, int] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One stored change of a comparison (``idx`` = its position in the report)."""

    comparison_id: int
    idx: int
    kind: str
    op: str
    old_page: int | None
    new_page: int | None
    old_box: Box | None
    new_box: Box | None
    old_text: str | None
    new_text: str | None

    def to_change(self) -> Change:
        """The engine's :class:`~pdfcompare.engine.model.Change` (without the finer highlight
        rectangles, which are not stored)."""
        from ..engine.model import Change

        return Change(kind=self.kind, op=self.op, old_page=self.old_page,  # type: ignore[arg-type]
                      new_page=self.new_page, old_bbox=self.old_box, new_bbox=self.new_box,
                      old_text=self.old_text, new_text=self.new_text)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A page of the user's documents matching a search. ``snippet`` marks the matched words with
    ``«`` and ``»`` (plain text: the UI decides how to show them)."""

    document_id: int
    filename: str
    page_no: int
    rank: float
    snippet: str


@dataclass(frozen=True, slots=True)
class RegionHit:
    """A change whose box on the asked page intersects the asked region (``side`` tells which of
    its boxes matched: the new document's, else the old one's)."""

    comparison_id: int
    idx: int
    comparison_created_at: datetime
    old_document_id: int
    new_document_id: int
    old_filename: str
    new_filename: str
    kind: str
    op: str
    side: Literal["old", "new"]
    page: int
    box: Box
    old_text: str | None
    new_text: str | None


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the database schema stands compared with this version's migrations."""

    current: int
    """Highest applied migration version (0 = none)."""
    latest: int
    """Highest migration version this version of the app ships."""
    pending: tuple[str, ...]
    """Names of the migrations not applied yet, in order."""


def change_rows(changes: Sequence[Any]) -> dict[str, list[Any]]:
    """Column arrays of the engine's changes (objects with kind, op, old_page, new_page, old_bbox,
    new_bbox, old_text, new_text), for one ``INSERT ... SELECT FROM unnest(...)``."""
    columns: dict[str, list[Any]] = {name: [] for name in (
        "kind", "op", "old_page", "new_page", "ox0", "oy0", "ox1", "oy1", "nx0", "ny0", "nx1", "ny1",
        "old_text", "new_text")}
    none4 = (None, None, None, None)
    for change in changes:
        columns["kind"].append(change.kind)
        columns["op"].append(change.op)
        columns["old_page"].append(change.old_page)
        columns["new_page"].append(change.new_page)
        for prefix, box in (("o", change.old_bbox), ("n", change.new_bbox)):
            for key, value in zip(("x0", "y0", "x1", "y1"), box if box is not None else none4, strict=True):
                columns[prefix + key].append(None if value is None else float(value))
        columns["old_text"].append(change.old_text)
        columns["new_text"].append(change.new_text)
    return columns
