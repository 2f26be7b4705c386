"""OCR of the changed regions of scanned pages, with Tesseract's word confidences.

OCR only adds information: it runs on the regions the raster diff found (never on unchanged parts of a
scan), only on regions that look like text (line work, hatching and symbols are left to the raster
diff), and keeps only words Tesseract is confident about.  The crops of both pages of a pair are
stacked into one image, so a page pair costs one Tesseract run (its models load once, ~0.2 s).
Tesseract runs as a child process (``tesseract stdin stdout ... tsv``): its messages go to a pipe,
never to the terminal, its memory is its own, and a time limit stops it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import numpy as np
import pymupdf

from .model import Box, Change, PageContent
from .options import CompareOptions
from .raster import invert

__all__ = ["tesseract_command", "ocr_regions", "read_boxes", "order_words", "is_text_like", "OcrWord"]

_GAP = 24  # white pixels between stacked crops
_PAD_PT = 4.0  # crop margin above and below a region (points)
_SIDE_PT = 60.0  # crop margin left and right of a region (points): whole words
_MAX_REGIONS = 24
_MAX_CROP_PIXELS = 12_000_000  # stacked crop size per page side (at ocr_dpi)
_TIMEOUT_S = 60.0

OcrWord = tuple[str, float, Box]  # text, confidence, box in page points


@functools.cache
def tesseract_command() -> str | None:
    """Path of the ``tesseract`` program, or None."""
    return shutil.which("tesseract")


def is_text_like(ink: np.ndarray, px_per_pt: float) -> bool:
    """Whether a binary ink crop looks like printed text rather than line work.

    Text is made of small blobs (characters) of similar height between 2.5 and 40 points, not much
    wider than high and not hollow like a stroke of line work; at least two of them, and at least half of
    the crop's ink in them.  Segments, hatching, frames and circles fail one of these.
    """
    import cv2

    if not ink.any():
        return False
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink.view(np.uint8), connectivity=8)
    if n <= 1:
        return False
    w, h, area = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    fill = area / np.maximum(w * h, 1)
    glyph = (h >= 2.5 * px_per_pt) & (h <= 40 * px_per_pt) & (w <= 1.5 * h) & (fill >= 0.2)
    if glyph.sum() < 2 or area[glyph].sum() < 0.5 * area.sum():
        return False
    hg = h[glyph]
    return bool(np.median(hg) > 0 and (hg <= 2.2 * np.median(hg)).mean() >= 0.8)


def _crop(page: pymupdf.Page, box: Box, zoom: float) -> np.ndarray:
    rect = pymupdf.Rect(box) * page.derotation_matrix.inverted() if page.rotation else pymupdf.Rect(box)
    rect &= page.rect
    pix = page.get_pixmap(matrix=page.derotation_matrix * pymupdf.Matrix(zoom, zoom), clip=rect,
                          colorspace=pymupdf.csGRAY, alpha=False)
    return np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)[:, : pix.width].copy()


def _run_tesseract(img: np.ndarray, options: CompareOptions, tessdata: str | None) -> list[tuple]:
    """Words of a grey image: ``(text, conf, x0, y0, x1, y1)`` in image pixels."""
    import cv2

    cmd = tesseract_command()
    if cmd is None:
        return []
    ok, png = cv2.imencode(".png", img)
    if not ok:
        return []
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    if tessdata:
        env["TESSDATA_PREFIX"] = tessdata
    args = [cmd, "stdin", "stdout", "-l", options.ocr_lang, "--dpi", str(options.ocr_dpi), "--psm", "11",
            "tsv"]
    try:
        proc = subprocess.run(args, input=png.tobytes(), capture_output=True, env=env, timeout=_TIMEOUT_S,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    words = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        try:
            conf = float(cols[10])
            x, y, w, h = (int(v) for v in cols[6:10])
        except ValueError:
            continue
        if text:
            words.append((text, conf, x, y, x + w, y + h))
    return words


def _page_crops(page: pymupdf.Page, boxes: list[Box], options: CompareOptions,
                zoom: float | None = None) -> list[tuple[np.ndarray, tuple[float, float], float]]:
    """Grey crops ``(image, origin in points, zoom)`` around ``boxes``, cut from one render of the page.

    Crops reach well beyond each box sideways, so that no word is cut at the crop's edge; only words
    whose centre lies in the box are kept later."""
    zoom = zoom or options.ocr_dpi / 72.0
    padded = [(box[0] - _SIDE_PT, box[1] - _PAD_PT, box[2] + _SIDE_PT, box[3] + _PAD_PT) for box in boxes]
    union = pymupdf.Rect(min(b[0] for b in padded), min(b[1] for b in padded),
                         max(b[2] for b in padded), max(b[3] for b in padded))
    union &= pymupdf.Rect(0, 0, float(page.cropbox.width), float(page.cropbox.height))
    if union.is_empty:
        return [(np.full((1, 1), 255, np.uint8), (0.0, 0.0), zoom) for _ in boxes]
    if union.width * union.height * zoom * zoom > _MAX_CROP_PIXELS:  # one render of every region
        zoom = (_MAX_CROP_PIXELS / (union.width * union.height)) ** 0.5
    whole = _crop(page, tuple(union), zoom)  # rendered once: MuPDF decodes the scan once
    out = []
    for box in padded:
        x0 = max(0, int((box[0] - union.x0) * zoom))
        y0 = max(0, int((box[1] - union.y0) * zoom))
        x1 = min(whole.shape[1], int(np.ceil((box[2] - union.x0) * zoom)))
        y1 = min(whole.shape[0], int(np.ceil((box[3] - union.y0) * zoom)))
        out.append((whole[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)],
                    (union.x0 + x0 / zoom, union.y0 + y0 / zoom), zoom))
    return out


def _read_crops(crops: list[tuple[np.ndarray, tuple[float, float], float]], boxes: list[Box],
                options: CompareOptions, tessdata: str | None) -> list[list[OcrWord]]:
    """Stack the crops into one image, run Tesseract once, return the confident words per box."""
    width = max(c.shape[1] for c, _, _ in crops) + 2 * _GAP
    height = sum(c.shape[0] + _GAP for c, _, _ in crops) + _GAP
    sheet = np.full((height, width), 255, np.uint8)
    offsets = []
    y = _GAP
    for c, _, _ in crops:
        sheet[y:y + c.shape[0], _GAP:_GAP + c.shape[1]] = c
        offsets.append(y)
        y += c.shape[0] + _GAP
    raw = _run_tesseract(sheet, options, tessdata)
    out: list[list[OcrWord]] = [[] for _ in boxes]
    for text, conf, x0, y0, x1, y1 in raw:
        if conf < options.ocr_min_confidence or not any(ch.isalnum() for ch in text):
            continue
        cy = (y0 + y1) / 2
        k = next((k for k, off in enumerate(offsets) if off <= cy < off + crops[k][0].shape[0]), None)
        if k is None:
            continue
        _, (ox, oy), zoom = crops[k]
        wb = (ox + (x0 - _GAP) / zoom, oy + (y0 - offsets[k]) / zoom,
              ox + (x1 - _GAP) / zoom, oy + (y1 - offsets[k]) / zoom)
        box = boxes[k]
        mx, my = (wb[0] + wb[2]) / 2, (wb[1] + wb[3]) / 2
        if box[0] <= mx <= box[2] and box[1] <= my <= box[3]:
            out[k].append((text, conf, wb))
    return out


def read_boxes(page: pymupdf.Page, boxes: list[Box], options: CompareOptions, tessdata: str | None,
               zoom: float | None = None) -> list[list[OcrWord]]:
    """OCR the ``boxes`` of one page in one Tesseract run; confident words per box (centre inside)."""
    return _read_crops(_page_crops(page, boxes, options, zoom), boxes, options, tessdata)


def read_pair(
    old_page: pymupdf.Page, old_boxes: list[Box], new_page: pymupdf.Page, new_boxes: list[Box],
    options: CompareOptions, tessdata: str | None,
) -> tuple[list[list[OcrWord]], list[list[OcrWord]]]:
    """OCR boxes of both pages of a pair in a single Tesseract run (one start-up of its models)."""
    crops = _page_crops(old_page, old_boxes, options) + _page_crops(new_page, new_boxes, options)
    words = _read_crops(crops, [*old_boxes, *new_boxes], options, tessdata)
    return words[:len(old_boxes)], words[len(old_boxes):]


def _set_words(content: PageContent, words: list[OcrWord]) -> None:
    """Replace the page's words with OCR words in reading order (lines by position)."""
    content.words = [w[0] for w in words]
    content.word_boxes = np.array([w[2] for w in words], dtype=np.float64).reshape(-1, 4)
    content.word_lines = np.zeros((len(words),), dtype=np.int64)
    content.ocr = True
    order_words(content)


def order_words(content: PageContent) -> None:
    """Sort OCR words into reading order (top to bottom, left to right) and number their lines."""
    words = content.words
    if not words:
        return
    boxes = content.word_boxes
    centre = (boxes[:, 1] + boxes[:, 3]) / 2
    gap = 0.5 * float(np.median(np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)))
    # lines: words sorted by height on the page; a new line starts where the centre jumps by half a
    # (median) word height from the line's first word
    line_of = np.zeros(len(words), dtype=np.int64)
    line, first = 0, None
    for k in np.argsort(centre, kind="stable").tolist():
        if first is not None and centre[k] - first > gap:
            line += 1
            first = None
        if first is None:
            first = centre[k]
        line_of[k] = line
    order = np.lexsort((boxes[:, 0], line_of))
    lines = line_of[order]
    content.words = [words[i] for i in order]
    content.word_boxes = boxes[order]
    content.word_lines = lines * 10000  # one text block per line: paragraphs are unknown


def ocr_regions(
    old_page: pymupdf.Page, new_page: pymupdf.Page, old: PageContent, new: PageContent,
    regions: list[Change], text_like: list[bool], transform: tuple[float, ...], options: CompareOptions,
    tessdata: str | None,
) -> int:
    """OCR the text-like ``regions`` (raster changes) of a scanned page pair on both sides and make their
    words the pages' words, so the text diff reports what the changed regions say.

    ``transform`` maps old page points to new page points (the registration).  Returns the number of
    regions read.  Pages keep no words when no region looks like text.
    """
    cand = [c for c, t in zip(regions, text_like, strict=True)
            if t and c.old_bbox is not None and c.new_bbox is not None]
    cand.sort(key=lambda c: -(c.old_bbox[2] - c.old_bbox[0]) * (c.old_bbox[3] - c.old_bbox[1]))
    chosen = cand[:_MAX_REGIONS]
    new.to_old_frame = invert(transform)
    if not chosen:
        _set_words(old, [])
        _set_words(new, [])
        return 0
    old_words, new_words = read_pair(old_page, [c.old_bbox for c in chosen], new_page,
                                     [c.new_bbox for c in chosen], options, tessdata)
    _set_words(old, [w for ws in old_words for w in ws])
    _set_words(new, [w for ws in new_words for w in ws])
    return len(chosen)
