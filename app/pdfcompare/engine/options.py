"""Options and safety limits of a comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Limits", "CompareOptions", "OcrMode"]

OcrMode = Literal["auto", "on", "off"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Safety limits applied to every input document.

    The defaults accept any ordinary document (a 5000 page manual, an A0 drawing with 200k vector items)
    and reject files built to exhaust the server.  Exceeding a limit raises
    :class:`~pdfcompare.engine.errors.LimitExceededError`.
    """

    max_file_bytes: int = 500_000_000
    """Largest accepted input file (bytes)."""
    max_pages: int = 5000
    """Most pages per document."""
    max_page_area: float = 14400.0 * 14400.0
    """Largest page area in square points (14400 pt = 200 in is the largest page the PDF spec allows)."""
    max_objects: int = 5_000_000
    """Most PDF objects (xref entries) per document."""
    max_content_bytes_per_page: int = 32 * 1024 * 1024
    """Largest stored content stream size of one page (guards against absurd drawing counts)."""
    max_drawings_per_page: int = 250_000
    """Most vector path items on one page."""
    max_words_per_page: int = 100_000
    """Most words on one page."""
    max_render_pixels: int = 40_000_000
    """Largest raster rendered for a page; the resolution is lowered for giant pages to stay below it."""
    timeout_s: float = 600.0
    """Wall-clock budget for one comparison in seconds (checked between pages and stages)."""


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """Everything that tunes a comparison.  All fields have safe defaults."""

    limits: Limits = field(default_factory=Limits)
    password: str | None = None
    """Password tried on both files when they are encrypted."""
    old_password: str | None = None
    """Password for the old file only (wins over ``password``)."""
    new_password: str | None = None
    """Password for the new file only (wins over ``password``)."""
    ocr: OcrMode = "auto"
    """``auto``: read the changed regions of scanned pages that look like text (the raster diff finds
    them; line work is never OCR'd); ``on``: OCR whole pages, text pages too; ``off``: never OCR.  Only
    pages of aligned pairs that differ are OCR'd."""
    ocr_lang: str = "eng"
    """Tesseract language(s), e.g. ``"eng"`` or ``"deu+eng"``."""
    ocr_dpi: int = 300
    """Resolution used for OCR."""
    ocr_min_confidence: float = 70.0
    """Tesseract word confidence (0-100) below which an OCR word is dropped as a misreading."""
    dpi: int = 150
    """Resolution used for raster comparison of image-only pages."""
    raster: bool = True
    """Compare image-only (scanned) pages as rasters."""
    raster_threshold: int = 48
    """Grey-level difference (0-255) from which a pixel counts as changed."""
    min_region_px: int = 40
    """Changed raster regions smaller than this many pixels (at ``dpi``) are ignored as speckle noise."""
    text: bool = True
    """Compare text."""
    geometry: bool = True
    """Compare vector drawings."""
    geometry_tolerance: float = 0.5
    """Shapes whose points differ by at most this many points are considered identical."""
    geometry_group_distance: float = 6.0
    """Changed shapes closer than this (points) are reported as one change."""
    min_move_words: int = 3
    """A deleted and an inserted block of text become a move only if they have at least this many words."""
    move_similarity: float = 90.0
    """Similarity (0-100, rapidfuzz ratio) from which a deleted and an inserted block are one moved block."""
    page_match_threshold: float = 0.5
    """Similarity (0-1) from which an old and a new page are considered the same page."""
    text_position_tolerance: float = 1.5
    """A word deleted and inserted with the same text at the same place (every edge within this many
    points; half a line height for OCR words) is no change: only its reading order differed."""
    styles: bool = True
    """Report words whose font, weight, slant, size or colour changed (text unchanged)."""
    style_size_tolerance: float = 0.25
    """Font size differences up to this many points are no style change."""
    ignore_case: bool = False
    """Compare words case-insensitively."""
    workers: int = 1
    """Processes for extraction: with 2, the new document is read in a forked child process while this
    process reads the old one (documents of 64+ pages in total; POSIX only).  Keep 1 inside threaded
    servers, where forking is unsafe, and on machines without an idle core (it is slower there)."""
