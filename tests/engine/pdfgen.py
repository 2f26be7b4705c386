"""Builders of small test PDFs with known content (text, drawings, scans) for the engine tests."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pymupdf

_VOCAB_TEXT = (
    "agreement party shall provide notice within days written consent supplier customer invoice payment "
    "term clause section schedule delivery goods services warranty liability damages indemnify breach "
    "terminate effective date confidential information disclose third person law court dispute resolve "
    "arbitration venue governing amendment waiver assignment successor force majeure event delay failure "
    "perform obligation reasonable effort insurance policy coverage limit claim loss expense cost fee tax "
    "price change order approval review inspection acceptance defect repair replace return refund credit "
    "record audit access premises employee contractor subcontractor standard quality safety environment "
    "permit license intellectual property right title interest data privacy security breach report"
)
VOCAB = _VOCAB_TEXT.split()


def paragraph(seed: int, n: int = 30) -> str:
    """A deterministic pseudo-sentence of ``n`` words, different for each seed."""
    rnd = random.Random(seed)
    words = [rnd.choice(VOCAB) for _ in range(n)]
    words[0] = f"P{seed}"  # make every paragraph unique
    return " ".join(words) + "."


def _wrap(text: str, per_line: int = 11) -> list[str]:
    w = text.split()
    return [" ".join(w[k : k + per_line]) for k in range(0, len(w), per_line)]


def write_paragraphs(page: pymupdf.Page, paragraphs: list[str], top: float = 72.0) -> None:
    """Paragraphs of 11 words per line, 13 pt line pitch, a blank line between paragraphs."""
    lines: list[str] = []
    for para in paragraphs:
        lines.extend(_wrap(para))
        lines.append("")
    if lines:
        page.insert_text((72, top), lines[:-1], fontsize=10, lineheight=1.3)


def text_pdf(pages: list[list[str]], width: float = 595, height: float = 842, rotation: int = 0) -> bytes:
    """A text PDF: one list of paragraphs per page."""
    doc = pymupdf.open()
    for paras in pages:
        page = doc.new_page(width=width, height=height)
        write_paragraphs(page, paras)
        if rotation:
            page.set_rotation(rotation)
    data = doc.tobytes()
    doc.close()
    return data


@dataclass
class Drawing:
    """A simple engineering drawing: frame, title block, line grid, shapes and dimension texts."""

    width: float = 842
    height: float = 595
    rects: tuple = ()
    lines: tuple = ()
    circles: tuple = ()
    texts: tuple = ()  # ((x, y), "text")
    grid: int = 6

    def pdf(self) -> bytes:
        doc = pymupdf.open()
        page = doc.new_page(width=self.width, height=self.height)
        page.draw_rect(pymupdf.Rect(20, 20, self.width - 20, self.height - 20), width=1.5)
        page.draw_rect(pymupdf.Rect(self.width - 260, self.height - 90, self.width - 20, self.height - 20))
        for k in range(self.grid):
            x = 60 + k * 40
            page.draw_line((x, 60), (x, 200), width=0.5)
        for r in self.rects:
            page.draw_rect(pymupdf.Rect(r), width=1)
        for a, b in self.lines:
            page.draw_line(a, b, width=1)
        for c, rad in self.circles:
            page.draw_circle(c, rad)
        for pos, text in self.texts:
            page.insert_text(pos, text, fontsize=9)
        data = doc.tobytes()
        doc.close()
        return data


def _warp(img, angle: float, shift: tuple[float, float]):
    """``img`` (grey, 255 = white) rotated by ``angle`` degrees about its centre and shifted by ``shift``
    (dx, dy) pixels, as a scanner that took the sheet slightly askew would deliver it.

    Output pixel ``o`` shows input pixel ``R (o - c - shift) + c`` with ``R`` the rotation of (y, x)
    vectors by ``angle`` (bilinear)."""
    import math

    import cv2
    import numpy as np

    h, w = img.shape
    t = math.radians(angle)
    cos, sin = math.cos(t), math.sin(t)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    ux, uy = cx + shift[0], cy + shift[1]
    m = np.array([[cos, sin, cx - cos * ux - sin * uy], [-sin, cos, cy + sin * ux - cos * uy]])
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def scan_pdf(source: bytes, dpi: int = 100, noise: int = 0, seed: int = 0, marks: tuple = (),
             angle: float = 0.0, shift: tuple[float, float] = (0, 0), pages: tuple[int, ...] = ()) -> bytes:
    """Rasterise every page of ``source`` into an image-only PDF.

    ``noise`` black single-pixel specks are sprinkled per page; ``marks`` are ``(page, x, y, size)`` black
    squares (points, 1-based page) painted into the image.  ``angle`` (degrees) and ``shift`` (pixels,
    dx, dy) place the sheet askew on the scanner (on the ``pages`` given, every page when empty).
    """
    import numpy as np

    src = pymupdf.open(stream=source, filetype="pdf")
    out = pymupdf.open()
    rnd = random.Random(seed)
    for page in src:
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        for pno, x, y, size in marks:
            if pno == page.number + 1:
                z = dpi / 72
                box = pymupdf.IRect(int(x * z), int(y * z), int((x + size) * z), int((y + size) * z))
                pix.set_rect(box, (0,))
        if (angle or shift != (0, 0)) and (not pages or page.number + 1 in pages):
            img = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.stride)[:, : pix.width]
            img = np.ascontiguousarray(_warp(img, angle, shift))
            pix = pymupdf.Pixmap(pymupdf.csGRAY, pix.width, pix.height, img.tobytes(), False)
        for _ in range(noise):
            pix.set_pixel(rnd.randrange(pix.width), rnd.randrange(pix.height), (0,))
        dst = out.new_page(width=page.rect.width, height=page.rect.height)
        dst.insert_image(dst.rect, stream=pix.tobytes("png"))
    data = out.tobytes(deflate=True)
    src.close()
    out.close()
    return data


def resave(data: bytes) -> bytes:
    """The same document written differently: garbage collection, compression, new object order."""
    doc = pymupdf.open(stream=data, filetype="pdf")
    out = doc.tobytes(garbage=4, deflate=True, clean=True, use_objstms=1)
    doc.close()
    assert out != data
    return out


# ------------------------------------------------------------------------------------------------------
# Second-round builders: re-written documents, template pages, scanned drawings and letters, styles.

def report_page(page: pymupdf.Page, seed: int, number: int, total: int, *, other_writer: bool = False,
                cells: dict | None = None) -> None:
    """A report page: header, two text columns, a 6 x 4 table with rules, footer.

    ``other_writer`` writes the same page as another PDF writer would: every element in the opposite
    order (columns and table rows reversed) and everything shifted by (0.3, 0.2) pt.  ``cells`` overrides
    table cells: ``{(row, col): "text"}``.
    """
    rnd = random.Random(seed)
    dx, dy = (0.3, 0.2) if other_writer else (0.0, 0.0)
    items: list[tuple] = [("text", (50, 40), f"Annual technical report, section {number}", 11)]
    words = [rnd.choice(VOCAB) for _ in range(2 * 10 * 8)]
    for col in range(2):
        for ln in range(10):
            chunk = words[(col * 10 + ln) * 8:(col * 10 + ln + 1) * 8]
            items.append(("text", (50 + col * 260, 80 + ln * 12), " ".join(chunk), 8))
    for r in range(6):
        for c in range(4):
            val = f"{rnd.randrange(100, 9999) / 100:.2f}"
            val = (cells or {}).get((r, c), val)
            items.append(("text", (70 + c * 110, 242 + r * 18), val, 9))
        items.append(("line", (60, 230 + r * 18), (500, 230 + r * 18)))
    items.append(("line", (60, 338), (500, 338)))
    items.append(("text", (260, 800), f"Page {number} of {total}", 8))
    if other_writer:
        items.reverse()
    for it in items:
        if it[0] == "text":
            page.insert_text((it[1][0] + dx, it[1][1] + dy), it[2], fontsize=it[3])
        else:
            page.draw_line((it[1][0] + dx, it[1][1] + dy), (it[2][0] + dx, it[2][1] + dy), width=0.5)


def report_pdf(pages: int = 3, *, other_writer: bool = False, cells: dict | None = None) -> bytes:
    """A report of ``pages`` pages (see :func:`report_page`); ``cells`` apply to page 1."""
    doc = pymupdf.open()
    for n in range(pages):
        report_page(doc.new_page(), 100 + n, n + 1, pages, other_writer=other_writer,
                    cells=cells if n == 0 else None)
    data = doc.tobytes(garbage=4, deflate=True, clean=True) if other_writer else doc.tobytes()
    doc.close()
    return data


def rerender(data: bytes, offset: tuple[float, float] = (0.0, 0.0)) -> bytes:
    """The document drawn again onto new pages through a form XObject (as imposition or "print to PDF"
    tools do), moved by ``offset`` points."""
    src = pymupdf.open(stream=data, filetype="pdf")
    out = pymupdf.open()
    for page in src:
        dst = out.new_page(width=page.rect.width, height=page.rect.height)
        dst.show_pdf_page(dst.rect + (offset[0], offset[1], offset[0], offset[1]), src, page.number)
    res = out.tobytes(garbage=3, deflate=True)
    src.close()
    out.close()
    return res


def form_page(page: pymupdf.Page, seed: int, number: int | None, total: int) -> None:
    """A page of an inspection log: the same header, labels and footer on every page; own values and
    remarks.  ``number`` None leaves the page number out of the footer."""
    rnd = random.Random(seed)
    page.insert_text((50, 40), ["ACME Engineering - Site Inspection Log", "Form QA-17 rev 4   Confidential"],
                     fontsize=11)
    for k, label in enumerate(["Site", "Inspector", "Date", "Weather", "Result", "Reference"]):
        page.insert_text((50, 100 + k * 16), f"{label}:", fontsize=9)
        page.insert_text((150, 100 + k * 16), f"{rnd.choice(VOCAB)} {rnd.randrange(10, 999)}", fontsize=9)
    remark = [rnd.choice(VOCAB) for _ in range(24)]
    page.insert_text((50, 220), "Remarks:", fontsize=9)
    page.insert_text((50, 236), [" ".join(remark[k:k + 12]) for k in range(0, 24, 12)], fontsize=9)
    page.insert_text((50, 780), "Checked by: ____________   Approved by: ____________", fontsize=9)
    footer = f"Page {number} of {total}" if number is not None else "Site inspection log"
    page.insert_text((260, 810), footer, fontsize=8)


def form_pdf(seeds: list[int], numbered: bool = True) -> bytes:
    """One :func:`form_page` per seed."""
    doc = pymupdf.open()
    for n, seed in enumerate(seeds):
        form_page(doc.new_page(), seed, n + 1 if numbered else None, len(seeds))
    data = doc.tobytes()
    doc.close()
    return data


@dataclass
class Sheet:
    """A drawing sheet for scans: frame, title block with a revision letter, parts, dimension texts."""

    parts: tuple = ((100, 100, 260, 180), (320, 100, 420, 220), (120, 260, 300, 330))
    extra_parts: tuple = ()
    dims: tuple = (((130, 95), "160"), ((330, 95), "100"), ((130, 355), "180"))
    revision: str = "A"

    def pdf(self) -> bytes:
        doc = pymupdf.open()
        page = doc.new_page(width=842, height=595)
        page.draw_rect(pymupdf.Rect(20, 20, 822, 575), width=1.5)
        page.draw_rect(pymupdf.Rect(582, 505, 822, 575), width=1)
        page.draw_line((582, 530), (822, 530), width=0.7)
        for k in range(8):  # hatching of a section
            page.draw_line((480 + k * 8, 300), (520 + k * 8, 380), width=0.5)
        for r in (*self.parts, *self.extra_parts):
            page.draw_rect(pymupdf.Rect(r), width=1.2)
        for pos, text in self.dims:
            page.insert_text(pos, text, fontsize=10)
        page.insert_text((590, 522), "PUMP HOUSING  DWG 4711", fontsize=11)
        page.insert_text((590, 560), f"REV {self.revision}", fontsize=14)
        data = doc.tobytes()
        doc.close()
        return data


def letter_pdf(edit: tuple[int, int, str] | None = None, pages: int = 3) -> bytes:
    """A letter of ``pages`` pages, 11 pt, four 48-word paragraphs per page; ``edit`` = (page, word index
    on that page, new word) replaces one word."""
    rnd = random.Random(77)
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page()
        page.insert_text((60, 60), ["ACME Engineering Ltd", "12 Harbour Road, Portsmouth"], fontsize=12)
        words = [rnd.choice(VOCAB) for _ in range(4 * 48)]
        if edit is not None and edit[0] == n + 1:
            words[edit[1]] = edit[2]
        y = 140
        for p in range(4):
            para = words[p * 48:(p + 1) * 48]
            page.insert_text((60, y), [" ".join(para[k:k + 12]) for k in range(0, 48, 12)], fontsize=11,
                             lineheight=1.4)
            y += 4 * 15.4 + 24
        page.insert_text((280, 810), f"{n + 1}/{pages}", fontsize=9)
    data = doc.tobytes()
    doc.close()
    return data


def styled_pdf(clauses: list[tuple[str, dict]]) -> bytes:
    """One page of clauses, each written with its own style: ``{"font": "helv"|"hebo"|"heit"|"tiro"...,
    "size": 10, "color": (r, g, b)}``; each clause on its own line."""
    doc = pymupdf.open()
    page = doc.new_page()
    y = 80.0
    for text, style in clauses:
        page.insert_text((72, y), text, fontname=style.get("font", "helv"), fontsize=style.get("size", 10),
                         color=style.get("color", (0, 0, 0)))
        y += 20
    data = doc.tobytes()
    doc.close()
    return data
