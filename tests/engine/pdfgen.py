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


def scan_pdf(source: bytes, dpi: int = 100, noise: int = 0, seed: int = 0, marks: tuple = ()) -> bytes:
    """Rasterise every page of ``source`` into an image-only PDF.

    ``noise`` black single-pixel specks are sprinkled per page; ``marks`` are ``(page, x, y, size)`` black
    squares (points, 1-based page) painted into the image.
    """
    src = pymupdf.open(stream=source, filetype="pdf")
    out = pymupdf.open()
    rnd = random.Random(seed)
    for page in src:
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        for _ in range(noise):
            pix.set_pixel(rnd.randrange(pix.width), rnd.randrange(pix.height), (0,))
        for pno, x, y, size in marks:
            if pno == page.number + 1:
                z = dpi / 72
                box = pymupdf.IRect(int(x * z), int(y * z), int((x + size) * z), int((y + size) * z))
                pix.set_rect(box, (0,))
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
