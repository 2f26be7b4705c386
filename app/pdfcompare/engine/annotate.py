"""Annotated PDF and PNG previews of a report.

The annotated PDF starts with a legend/summary page, then shows every page-map entry as the old page
followed by the new page.  Changes are real PDF annotations (square annotations with a pop-up note), so any
viewer lists them: deletions red on old pages, insertions green and moves blue on new pages, geometry
orange on both, replaced text red on the old and green on the new page.
"""

from __future__ import annotations

import pymupdf

from .compare import _password
from .extract import Source, open_pdf, quiet_mupdf, read_source
from .model import Box, Change, Report
from .options import CompareOptions

__all__ = ["write_annotated_pdf", "render_preview", "COLORS"]

RED = (0.86, 0.1, 0.1)
GREEN = (0.1, 0.62, 0.2)
BLUE = (0.1, 0.35, 0.9)
ORANGE = (1.0, 0.55, 0.0)
COLORS = {"delete": RED, "insert": GREEN, "move": BLUE, "geometry": ORANGE}

_LEGEND = [
    (RED, "deleted (old pages) / replaced text, old wording"),
    (GREEN, "inserted (new pages) / replaced text, new wording"),
    (BLUE, "moved text or page (new location; old location on old pages)"),
    (ORANGE, "changed vector geometry (added, removed, moved or reshaped shapes)"),
]


def _color(c: Change, side: str) -> tuple[float, float, float] | None:
    """Annotation colour of a change on one side, or None if it is not shown there."""
    if c.kind == "geometry":
        return ORANGE
    if c.op == "move":
        return BLUE
    if c.op == "delete":
        return RED if side == "old" else None
    if c.op == "insert":
        return GREEN if side == "new" else None
    return RED if side == "old" else GREEN  # replace (text or raster)


def _label(c: Change, side: str) -> str:
    page = f"old p.{c.old_page}" if c.old_page else ""
    page2 = f"new p.{c.new_page}" if c.new_page else ""
    head = f"{c.kind} {c.op} ({', '.join(x for x in (page, page2) if x)})"
    parts = [head]
    if c.style:
        parts.append("style: " + ", ".join(f"{k} {c.style['old'][k]} -> {c.style['new'][k]}"
                                            for k in c.style["changed"]))
    if c.old_text:
        parts.append(f"old: {c.old_text[:500]}")
    if c.new_text:
        parts.append(f"new: {c.new_text[:500]}")
    return "\n".join(parts)


def _rects(c: Change, side: str) -> list[Box]:
    if side == "old":
        rects, box = c.old_rects, c.old_bbox
    else:
        rects, box = c.new_rects, c.new_bbox
    if box is None:
        return []
    return list(rects) if rects else [box]


def _annotate_page(page: pymupdf.Page, changes: list[Change], side: str) -> int:
    n = 0
    for c in changes:
        color = _color(c, side)
        if color is None:
            continue
        note = _label(c, side)
        for r in _rects(c, side):
            rect = pymupdf.Rect(r)
            if c.kind == "page":
                rect = pymupdf.Rect(r) + (4, 4, -4, -4)
            elif rect.width < 2 or rect.height < 2:
                rect = rect + (-1.5, -1.5, 1.5, 1.5)
            else:
                rect = rect + (-1, -1, 1, 1)
            annot = page.add_rect_annot(rect)
            annot.set_colors(stroke=color, fill=None if c.kind == "page" else color)
            annot.set_border(width=3 if c.kind == "page" else 1)
            annot.set_opacity(0.35 if c.kind != "page" else 0.8)
            annot.set_info(title="pdfcompare", subject=f"{c.kind} {c.op}", content=note)
            annot.update()
            n += 1
    return n


def _legend_page(out: pymupdf.Document, report: Report, width: float = 595, height: float = 842) -> None:
    page = out.new_page(-1, width=width, height=height)
    y = 60
    page.insert_text((50, y), "PDF Compare - summary", fontsize=18)
    y += 28
    s = report.summary
    total = sum(s.values())
    lines = [
        f"Old: {report.old.pages} pages, sha256 {report.old.sha256[:16]}...",
        f"New: {report.new.pages} pages, sha256 {report.new.sha256[:16]}...",
        f"Changes: {total} (text {s['text']}, geometry {s['geometry']}, raster {s['raster']}, "
        f"page {s['page']})" if total else "No changes found: the documents are equivalent.",
    ]
    for line in lines:
        page.insert_text((50, y), line, fontsize=10)
        y += 16
    y += 12
    page.insert_text((50, y), "Legend", fontsize=13)
    y += 8
    for color, text in _LEGEND:
        page.draw_rect(pymupdf.Rect(50, y + 4, 70, y + 16), color=color, fill=color, fill_opacity=0.35)
        page.insert_text((78, y + 14), text, fontsize=10)
        y += 20
    y += 12
    page.insert_text((50, y), "Pages (each old page is followed by its new counterpart)", fontsize=13)
    y += 18
    for m in report.page_map:
        if y > height - 60:
            page.insert_text((50, y), "... (see the bookmarks for all pages)", fontsize=9)
            break
        page.insert_text((50, y), f"old {m.old or '-':>5}   new {m.new or '-':>5}   {m.status}", fontsize=9)
        y += 13


def write_annotated_pdf(
    old: Source,
    new: Source,
    report: Report,
    output: str | None = None,
    options: CompareOptions | None = None,
) -> bytes:
    """Write the annotated comparison PDF; returns its bytes and also saves it to ``output`` if given.

    ``old``/``new`` must be the same inputs the report was made from (paths or bytes).
    """
    options = options or CompareOptions()
    quiet_mupdf()
    od = open_pdf(read_source(old, "old", options.limits), "old", _password(options, "old"), options.limits)
    nd = open_pdf(read_source(new, "new", options.limits), "new", _password(options, "new"), options.limits)
    out = pymupdf.open()
    try:
        _legend_page(out, report)
        toc: list[list] = [[1, "Summary", 1]]
        by_old: dict[int, list[Change]] = {}
        by_new: dict[int, list[Change]] = {}
        for c in report.changes:
            if c.old_page is not None and c.old_bbox is not None:
                by_old.setdefault(c.old_page, []).append(c)
            if c.new_page is not None and c.new_bbox is not None:
                by_new.setdefault(c.new_page, []).append(c)
        for m in report.page_map:
            for side, num, src, bucket in (("old", m.old, od, by_old), ("new", m.new, nd, by_new)):
                if num is None:
                    continue
                out.insert_pdf(src, from_page=num - 1, to_page=num - 1, annots=False, links=False)
                page = out[out.page_count - 1]
                _annotate_page(page, bucket.get(num, []), side)
                toc.append([1, f"{side.capitalize()} page {num} ({m.status})", out.page_count])
        out.set_toc(toc)
        data = out.tobytes(garbage=1, deflate=True)
    finally:
        out.close()
        od.close()
        nd.close()
    if output is not None:
        with open(output, "wb") as fh:
            fh.write(data)
    return data


def render_preview(
    source: Source,
    report: Report,
    page: int,
    side: str = "new",
    dpi: int = 100,
    options: CompareOptions | None = None,
) -> bytes:
    """PNG bytes of page ``page`` (1-based) of the ``side`` document with its changes highlighted."""
    if side not in ("old", "new"):
        raise ValueError("side must be 'old' or 'new'")
    options = options or CompareOptions()
    doc = open_pdf(read_source(source, side, options.limits), side, _password(options, side), options.limits)
    try:
        if not 1 <= page <= doc.page_count:
            raise ValueError(f"page {page} does not exist; the {side} document has {doc.page_count} pages")
        p = doc.load_page(page - 1)
        for c in report.changes_on(side, page):  # type: ignore[arg-type]
            color = _color(c, side)
            if color is None:
                continue
            for r in _rects(c, side):
                rect = pymupdf.Rect(r) + (-1, -1, 1, 1)
                if c.kind == "page":
                    p.draw_rect(rect + (3, 3, -3, -3), color=color, width=4)
                else:
                    p.draw_rect(rect, color=color, fill=color, fill_opacity=0.3, width=1)
        zoom = dpi / 72.0
        area = p.rect.width * p.rect.height * zoom * zoom
        if area > options.limits.max_render_pixels:
            zoom *= (options.limits.max_render_pixels / area) ** 0.5
        pix = p.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        return pix.tobytes("png")
    finally:
        doc.close()
