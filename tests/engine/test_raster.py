"""Scanned (image-only) pages: raster regions and OCR text."""

from __future__ import annotations

import pymupdf
import pytest
from pdfcompare.engine import CompareOptions, compare, find_tessdata
from pdfcompare.engine.raster import estimate_shift
from pdfgen import paragraph, scan_pdf, text_pdf

NO_OCR = CompareOptions(ocr="off")
PAGES = [[paragraph(1), paragraph(2)], [paragraph(3)]]


def _edited() -> list[list[str]]:
    pages = [list(p) for p in PAGES]
    pages[0][1] = pages[0][1].replace("P2 ", "P2 NEWWORD ", 1)
    return pages


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_scan_edit_gives_raster_box_at_the_edit():
    old, new = scan_pdf(text_pdf(PAGES)), scan_pdf(text_pdf(_edited()))
    report = compare(old, new, NO_OCR)
    assert [(m.old, m.new, m.status) for m in report.page_map] == [(1, 1, "matched"), (2, 2, "matched")]
    assert [(c.kind, c.op, c.old_page, c.new_page) for c in report.changes] == [("raster", "replace", 1, 1)]
    # where NEWWORD was typed in the text version of the page
    doc = pymupdf.open(stream=text_pdf(_edited()), filetype="pdf")
    word = next(w[:4] for w in doc[0].get_text("words") if w[4] == "NEWWORD")
    box = report.changes[0].new_bbox
    assert _overlaps(word, box)
    assert box[1] > 100 and box[3] < 160  # the second paragraph only, not the whole page


def test_identical_scans_with_speckle_noise_have_no_changes():
    text = text_pdf(PAGES)
    report = compare(scan_pdf(text, noise=0), scan_pdf(text, noise=60, seed=7), NO_OCR)
    assert report.changes == []


def test_speckle_threshold_is_configurable():
    text = text_pdf(PAGES)
    old = scan_pdf(text)
    # one 6x6 pt blob (about 150 px at 150 dpi): a real mark
    marked = scan_pdf(text, marks=((2, 300, 500, 6),))
    report = compare(old, marked, NO_OCR)
    assert [(c.op, c.new_page) for c in report.changes] == [("insert", 2)]
    b = report.changes[0].new_bbox
    assert abs(b[0] - 300) < 2 and abs(b[3] - 506) < 2
    big_min = CompareOptions(ocr="off", min_region_px=500)
    assert compare(old, marked, big_min).changes == []


def test_shifted_scan_is_aligned():
    text = text_pdf(PAGES)
    src = pymupdf.open(stream=text, filetype="pdf")
    out = pymupdf.open()
    for page in src:
        pix = page.get_pixmap(dpi=100, colorspace=pymupdf.csGRAY)
        dst = out.new_page(width=page.rect.width, height=page.rect.height)
        dst.insert_image(dst.rect + (3, 2, 3, 2), stream=pix.tobytes("png"))  # shifted 3 pt right, 2 down
    report = compare(scan_pdf(text), out.tobytes(), NO_OCR)
    assert report.changes == []


def test_estimate_shift():
    import numpy as np

    a = np.zeros((100, 120), dtype=np.int16)
    a[20:40, 30:70] = 200
    b = np.zeros_like(a)
    b[25:45, 26:66] = 200
    assert estimate_shift(a, b) == (-5, 4)


def test_scanned_page_inserted_is_aligned():
    pages = PAGES + [[paragraph(4)]]
    new_pages = [PAGES[0], [paragraph(50)], PAGES[1], [paragraph(4)]]
    report = compare(scan_pdf(text_pdf(pages)), scan_pdf(text_pdf(new_pages)), NO_OCR)
    assert [(m.old, m.new, m.status) for m in report.page_map] == [
        (1, 1, "matched"), (None, 2, "inserted"), (2, 3, "matched"), (3, 4, "matched")]
    assert [(c.kind, c.op) for c in report.changes] == [("page", "insert")]


@pytest.mark.skipif(find_tessdata("eng") is None, reason="Tesseract English data not installed")
def test_ocr_finds_the_changed_word_on_a_scan():
    one = [[paragraph(2)], [paragraph(8)]]
    edited = [[paragraph(2).replace("P2 ", "P2 NEWWORD ", 1)], [paragraph(8)]]
    opts = CompareOptions(ocr="auto", ocr_dpi=200)
    calls = []
    report = compare(scan_pdf(text_pdf(one), dpi=150), scan_pdf(text_pdf(edited), dpi=150), opts,
                     progress=lambda *a: calls.append(a))
    assert [c for c in calls if c[0] == "ocr"] == [("ocr", 1, 1)]  # the unchanged page 2 is not OCR'd
    text = [(c.op, c.new_text) for c in report.changes if c.kind == "text"]
    assert text == [("insert", "NEWWORD")]
    raster = [c.new_bbox for c in report.changes if c.kind == "raster"]
    doc = pymupdf.open(stream=text_pdf(edited), filetype="pdf")
    word = next(w[:4] for w in doc[0].get_text("words") if w[4] == "NEWWORD")
    assert any(_overlaps(word, box) for box in raster)
    # the inserted word reflows the paragraph: every changed region lies in its three lines
    assert all(box[1] > 60 and box[3] < 120 for box in raster)


def test_ocr_on_without_language_data_is_a_typed_error():
    from pdfcompare.engine import OcrUnavailableError

    with pytest.raises(OcrUnavailableError, match="xx_nonexistent"):
        compare(text_pdf(PAGES), text_pdf(PAGES), CompareOptions(ocr="on", ocr_lang="xx_nonexistent"))


def test_missing_ocr_language_in_auto_mode_is_a_warning():
    scans = scan_pdf(text_pdf(PAGES))
    report = compare(scans, scans, CompareOptions(ocr="auto", ocr_lang="xx_nonexistent"))
    assert report.changes == []
    assert len(report.warnings) == 1 and "xx_nonexistent" in report.warnings[0]


def _page_with_logo(color: int, where: tuple[float, float, float, float] | None) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Quarterly report with a company logo", fontsize=11)
    if where is not None:
        pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 40, 20), False)
        pix.clear_with(color)
        page.insert_image(pymupdf.Rect(where), pixmap=pix)
    return doc.tobytes()


def test_images_on_text_pages_are_compared():
    base = _page_with_logo(90, (400, 40, 480, 80))
    assert compare(base, _page_with_logo(90, (400, 40, 480, 80))).changes == []
    cases = {
        "replace": _page_with_logo(200, (400, 40, 480, 80)),
        "move": _page_with_logo(90, (100, 600, 180, 640)),
        "delete": _page_with_logo(90, None),
    }
    for op, new in cases.items():
        report = compare(base, new)
        assert [(c.kind, c.op) for c in report.changes] == [("raster", op)], op
    moved = compare(base, cases["move"]).changes[0]
    assert moved.old_bbox == (400, 40, 480, 80) and moved.new_bbox == (100, 600, 180, 640)


def test_rotated_scan_reports_unrotated_boxes():
    def rotated(data: bytes) -> bytes:
        doc = pymupdf.open(stream=data, filetype="pdf")
        for page in doc:
            page.set_rotation(90)
        return doc.tobytes()

    text = text_pdf(PAGES)
    old = rotated(scan_pdf(text))
    new = rotated(scan_pdf(text, marks=((1, 300, 500, 6),)))
    report = compare(old, new, NO_OCR)
    assert [(c.kind, c.op, c.new_page) for c in report.changes] == [("raster", "insert", 1)]
    box = report.changes[0].new_bbox
    assert all(abs(v - e) < 2 for v, e in zip(box, (300, 500, 306, 506), strict=True))


def test_find_tessdata_honours_tessdata_prefix(tmp_path, monkeypatch):
    from pdfcompare.engine import extract

    (tmp_path / "tessdata").mkdir()
    (tmp_path / "tessdata" / "zzz.traineddata").write_bytes(b"")
    monkeypatch.setattr(extract, "_tessdata_cache", {})
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # parent folder form
    assert find_tessdata("zzz") == str(tmp_path / "tessdata")
    monkeypatch.setattr(extract, "_tessdata_cache", {})
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path / "tessdata"))
    assert find_tessdata("zzz") == str(tmp_path / "tessdata")
    assert find_tessdata("zzz+yyy") is None  # every language must be there


@pytest.mark.parametrize(("h", "w", "cell"), [(4967, 3509, 4), (16, 16, 4), (17, 9, 4), (3, 5, 4),
                                              (20, 33, 17), (1, 1, 1), (2, 100, 4)])
def test_cell_counts_are_exact_on_every_page_size(h, w, cell):
    import numpy as np
    from pdfcompare.engine.raster import _cell_counts

    mask = np.random.default_rng(h * w + cell).random((h, w)) < 0.3
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.zeros((gh * cell, gw * cell), np.int64)
    padded[:h, :w] = mask
    expected = padded.reshape(gh, cell, gw, cell).sum(axis=(1, 3))
    got = _cell_counts(mask, cell, gh, gw)
    assert got.shape == (gh, gw) and (got == expected).all()


def test_raster_regions_do_not_depend_on_whether_ocr_may_read_them():
    from pdfcompare.engine.raster import diff_raster

    old = pymupdf.open(stream=scan_pdf(text_pdf(PAGES)), filetype="pdf")
    new = pymupdf.open(stream=scan_pdf(text_pdf(_edited()), shift=(5, -3)), filetype="pdf")
    auto = diff_raster(old[0], new[0], CompareOptions(ocr="auto"))
    off = diff_raster(old[0], new[0], NO_OCR)
    assert auto.changes and off.changes == auto.changes
    assert any(auto.text_like)  # the edited paragraph is text: OCR may read it
    assert off.text_like == [False] * len(off.changes)  # never looked at without OCR
