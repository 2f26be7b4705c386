"""Data model of the engine: extracted content, page matches, changes and the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "SCHEMA_ID",
    "Box",
    "Word",
    "Shape",
    "PageContent",
    "Document",
    "DocInfo",
    "PageMatch",
    "Change",
    "Report",
    "KINDS",
    "OPS",
]

SCHEMA_ID = "pdfcompare.report/1"
KINDS = ("text", "geometry", "raster", "page")
OPS = ("insert", "delete", "replace", "move")

Box = tuple[float, float, float, float]
Kind = Literal["text", "geometry", "raster", "page"]
Op = Literal["insert", "delete", "replace", "move"]
PageStatus = Literal["matched", "inserted", "deleted", "moved"]


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a page with its box (PDF points, unrotated page, origin top-left)."""

    text: str
    bbox: Box
    line: int
    """Line identifier on the page (words of one text line share it)."""


@dataclass(frozen=True, slots=True)
class Shape:
    """One primitive of a vector drawing, canonicalised so that identical geometry compares equal.

    ``kind`` is ``"l"`` (line segment), ``"re"`` (rectangle), ``"qu"`` (quad) or ``"c"`` (Bézier curve);
    ``coords`` is the flat tuple of its points (x0, y0, x1, y1, ...).
    """

    kind: str
    coords: tuple[float, ...]
    bbox: Box


@dataclass(slots=True)
class PageContent:
    """Everything extracted from one page.  Coordinates are unrotated PDF points."""

    number: int
    """1-based page number."""
    width: float
    height: float
    rotation: int
    words: list[str]
    """Word texts in reading (content stream) order."""
    word_boxes: np.ndarray
    """``(n, 4)`` float array of word boxes, aligned with ``words``."""
    word_lines: np.ndarray
    """``(n,)`` int array of line identifiers, aligned with ``words``."""
    shapes: list[Shape] = field(default_factory=list)
    images: list[Box] = field(default_factory=list)
    """Boxes of the images shown on the page."""
    image_digests: list[bytes] = field(default_factory=list)
    """MD5 digests of the image data, aligned with ``images``."""
    image_only: bool = False
    """The page has images but no text layer (a scan)."""
    ocr: bool = False
    """The words come from OCR."""
    content_hash: int = 0
    """Hash of the page content, equal for pages that compare without changes."""
    style_key: int = 0
    """Digest of the page's stored content streams: pages with equal keys cannot differ in text style;
    others are checked word by word for font, weight, slant, size and colour changes."""
    thumbnail: np.ndarray | None = None
    """Small grey thumbnail (image-only pages), used to align scanned pages."""
    to_old_frame: tuple[float, float, float, float, float, float] | None = None
    """Affine transform (2 x 3, row-major) from this (new) page's points to its old counterpart's points,
    set when a scan was registered; word positions are compared through it."""

    @property
    def rect(self) -> Box:
        """The unrotated page rectangle."""
        return (0.0, 0.0, self.width, self.height)

    def iter_words(self) -> Iterator[Word]:
        """Iterate the page's words as :class:`Word` objects."""
        rows = zip(self.words, self.word_boxes.tolist(), self.word_lines.tolist(), strict=True)
        for text, box, line in rows:
            yield Word(text, tuple(box), int(line))


@dataclass(slots=True)
class Document:
    """An extracted document."""

    sha256: str
    pages: list[PageContent]

    @property
    def page_count(self) -> int:
        """Number of pages."""
        return len(self.pages)


@dataclass(frozen=True, slots=True)
class DocInfo:
    """Identity of one input in the report."""

    sha256: str
    pages: int

    def to_dict(self) -> dict[str, Any]:
        """Schema representation."""
        return {"sha256": self.sha256, "pages": self.pages}


@dataclass(frozen=True, slots=True)
class PageMatch:
    """One entry of the page map: which old page corresponds to which new page (1-based)."""

    old: int | None
    new: int | None
    status: PageStatus
    similarity: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Schema representation."""
        return {"old": self.old, "new": self.new, "status": self.status}


def _box_list(box: Box | None) -> list[float] | None:
    return None if box is None else [round(float(v), 2) for v in box]


@dataclass(frozen=True, slots=True)
class Change:
    """One detected change.  Pages are 1-based; boxes are unrotated PDF points, origin top-left.

    ``old_rects``/``new_rects`` hold finer boxes (one per text line) used for highlighting; they are not
    part of the JSON report.
    """

    kind: Kind
    op: Op
    old_page: int | None = None
    new_page: int | None = None
    old_bbox: Box | None = None
    new_bbox: Box | None = None
    old_text: str | None = None
    new_text: str | None = None
    old_rects: tuple[Box, ...] = ()
    new_rects: tuple[Box, ...] = ()
    style: dict[str, Any] | None = None
    """For a style-only change (same words, other font, weight, slant, size or colour):
    ``{"changed": [...], "old": {...}, "new": {...}}``; None for every other change."""

    def to_dict(self) -> dict[str, Any]:
        """Schema representation (``style`` only on style changes)."""
        d = {
            "kind": self.kind,
            "op": self.op,
            "old_page": self.old_page,
            "new_page": self.new_page,
            "old_bbox": _box_list(self.old_bbox),
            "new_bbox": _box_list(self.new_bbox),
            "old_text": self.old_text,
            "new_text": self.new_text,
        }
        if self.style is not None:
            d["style"] = self.style
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        """Inverse of :meth:`to_dict`."""
        ob, nb = d.get("old_bbox"), d.get("new_bbox")
        return cls(
            kind=d["kind"],
            op=d["op"],
            old_page=d.get("old_page"),
            new_page=d.get("new_page"),
            old_bbox=None if ob is None else tuple(ob),
            new_bbox=None if nb is None else tuple(nb),
            old_text=d.get("old_text"),
            new_text=d.get("new_text"),
            style=d.get("style"),
        )


@dataclass(slots=True)
class Report:
    """Result of a comparison.  :meth:`to_dict` gives exactly the ``pdfcompare.report/1`` schema."""

    old: DocInfo
    new: DocInfo
    page_map: list[PageMatch]
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)
    """Notes for the user (e.g. OCR skipped); not part of the JSON schema."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent per stage; not part of the JSON schema."""

    @property
    def summary(self) -> dict[str, int]:
        """Number of changes per kind (every kind present, zero included)."""
        counts = dict.fromkeys(KINDS, 0)
        for c in self.changes:
            counts[c.kind] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        """True when at least one change was found."""
        return bool(self.changes)

    def changes_on(self, side: Literal["old", "new"], page: int) -> list[Change]:
        """Changes that have a box on ``page`` (1-based) of the ``side`` document."""
        if side == "old":
            return [c for c in self.changes if c.old_page == page and c.old_bbox is not None]
        return [c for c in self.changes if c.new_page == page and c.new_bbox is not None]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data in the ``pdfcompare.report/1`` schema."""
        return {
            "schema": SCHEMA_ID,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "page_map": [m.to_dict() for m in self.page_map],
            "changes": [c.to_dict() for c in self.changes],
            "summary": self.summary,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON text in the ``pdfcompare.report/1`` schema."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (e.g. a stored JSON report)."""
        if d.get("schema") != SCHEMA_ID:
            raise ValueError(f"unsupported report schema {d.get('schema')!r}, expected {SCHEMA_ID!r}")
        return cls(
            old=DocInfo(d["old"]["sha256"], d["old"]["pages"]),
            new=DocInfo(d["new"]["sha256"], d["new"]["pages"]),
            page_map=[PageMatch(m["old"], m["new"], m["status"]) for m in d["page_map"]],
            changes=[Change.from_dict(c) for c in d["changes"]],
        )
