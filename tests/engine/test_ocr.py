"""OCR that only adds information (issue 12, class 4): scanned letters and drawings with speckle noise,
Tesseract installed.  Noise never becomes a change, the same word read twice is no change, line work is
never OCR'd, and Tesseract never writes to the terminal."""

from __future__ import annotations

import pymupdf
import pytest
from pdfcompare.engine import CompareOptions, compare, find_tessdata
from pdfcompare.engine.ocr import tesseract_command
from pdfgen import Sheet, letter_pdf, scan_pdf

pytestmark = pytest.mark.skipif(find_tessdata("eng") is None or tesseract_command() is None,
                                reason="Tesseract (program and English data) not installed")

AUTO = CompareOptions()  # the defaults: ocr="auto"


def _word_box(data: bytes, page: int, word: str) -> tuple:
    doc = pymupdf.open(stream=data, filetype="pdf")
    return next(w[:4] for w in doc[page - 1].get_text("words") if w[4] == word)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_rescanned_letter_with_noise_has_no_changes(capfd):
    text = letter_pdf()
    old = scan_pdf(text, dpi=200, noise=300, seed=1)
    new = scan_pdf(text, dpi=200, noise=300, seed=2, shift=(3, -2))
    report = compare(old, new, AUTO)
    assert report.changes == []
    assert capfd.readouterr() == ("", "")


def test_changed_word_on_a_scanned_letter_is_one_text_change_and_one_region(capfd):
    text_old = letter_pdf()
    text_new = letter_pdf(edit=(2, 17, "Revised"))  # a word in the middle of the second line of page 2
    old_words = pymupdf.open(stream=text_old, filetype="pdf")[1].get_text("words")
    new_words = pymupdf.open(stream=text_new, filetype="pdf")[1].get_text("words")
    target = next(a for a, b in zip(old_words, new_words, strict=True) if a[4] != b[4])
    old = scan_pdf(text_old, dpi=200, noise=200, seed=1)
    new = scan_pdf(text_new, dpi=200, noise=200, seed=4, shift=(-4, 3), angle=0.2)
    report = compare(old, new, AUTO)
    text = [(c.op, c.old_page, c.new_page, c.old_text, c.new_text) for c in report.changes
            if c.kind == "text"]
    assert text == [("replace", 2, 2, target[4], "Revised")]
    raster = [c for c in report.changes if c.kind == "raster"]
    assert len(raster) == 1 and raster[0].old_page == 2
    assert _overlaps(raster[0].old_bbox, target[:4])
    change = next(c for c in report.changes if c.kind == "text")
    assert _overlaps(change.old_bbox, target[:4])
    assert _overlaps(change.new_bbox, _word_box(text_new, 2, "Revised"))
    assert capfd.readouterr() == ("", "")


def test_scanned_drawing_changes_are_regions_never_ocr_garbage(capfd):
    from dataclasses import replace

    base = Sheet()
    changed = replace(base, extra_parts=((640, 120, 740, 200),), revision="B")
    old = scan_pdf(base.pdf(), dpi=150, noise=150, seed=1)
    new = scan_pdf(changed.pdf(), dpi=150, noise=150, seed=2, angle=0.4, shift=(8, -5))
    report = compare(old, new, AUTO)
    assert report.summary["raster"] == 2
    # OCR reads only the title block's revision letter (text-like); the added part is line work
    assert [(c.op, c.old_text, c.new_text) for c in report.changes if c.kind == "text"] in (
        [], [("replace", "A", "B")])
    assert capfd.readouterr() == ("", "")


def test_identical_scanned_drawing_with_noise_has_no_changes():
    base = Sheet().pdf()
    report = compare(scan_pdf(base, dpi=150, noise=400, seed=1), scan_pdf(base, dpi=150, noise=400, seed=9),
                     AUTO)
    assert report.changes == []


def test_low_confidence_words_are_dropped():
    """With an impossible confidence floor OCR adds nothing; the raster region stays."""
    text_old = letter_pdf(pages=1)
    text_new = letter_pdf(edit=(1, 17, "Revised"), pages=1)
    strict = CompareOptions(ocr_min_confidence=101)
    report = compare(scan_pdf(text_old, dpi=200), scan_pdf(text_new, dpi=200), strict)
    assert report.summary["text"] == 0 and report.summary["raster"] == 1
