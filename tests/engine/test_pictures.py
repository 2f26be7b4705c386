"""Pictures on text pages compared by content at their placed size (issue 12, class 6)."""

from __future__ import annotations

import numpy as np
import pymupdf
from pdfcompare.engine import compare

BOX = (350, 60, 550, 210)


def _photo(edit: bool = False) -> pymupdf.Pixmap:
    """A 200 x 150 "photo": smooth gradients and texture; ``edit`` paints a dark patch into it."""
    y, x = np.mgrid[0:150, 0:200]
    rgb = np.stack([(x * 1.2) % 256, (y * 1.6) % 256, ((x + y) * 0.8 + 40 * np.sin(x / 7.0)) % 256], axis=-1)
    if edit:
        rgb[60:90, 120:160] = (20, 20, 20)
    data = np.ascontiguousarray(rgb.astype(np.uint8))
    return pymupdf.Pixmap(pymupdf.csRGB, 200, 150, data.tobytes(), False)


def _page(stream: bytes | None, box=BOX) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Site photograph, north elevation", fontsize=11)
    if stream is not None:
        page.insert_image(pymupdf.Rect(box), stream=stream)
    return doc.tobytes(deflate=True)


def test_reencoded_identical_picture_is_no_change():
    png = _photo().tobytes("png")
    jpeg = _photo().tobytes("jpeg", jpg_quality=92)
    assert compare(_page(png), _page(jpeg)).changes == []
    assert compare(_page(jpeg), _page(png)).changes == []


def test_picture_placed_a_fraction_of_a_point_off_is_no_change():
    png = _photo().tobytes("png")
    moved = (BOX[0] + 0.6, BOX[1] - 0.4, BOX[2] + 0.6, BOX[3] - 0.4)
    assert compare(_page(png), _page(png, moved)).changes == []


def test_edited_photo_is_one_replace_at_its_place():
    report = compare(_page(_photo().tobytes("png")), _page(_photo(edit=True).tobytes("jpeg", jpg_quality=92)))
    assert [(c.kind, c.op, c.old_bbox, c.new_bbox) for c in report.changes] == [
        ("raster", "replace", BOX, BOX)]
