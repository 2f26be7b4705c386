"""Hostile and broken input: every case is a typed error with a human message, never a crash or hang."""

from __future__ import annotations

import re
import time

import pymupdf
import pytest
from pdfcompare.engine import (
    CompareOptions,
    DamagedPdfError,
    EmptyFileError,
    EncryptedPdfError,
    InvalidPdfError,
    LimitExceededError,
    Limits,
    NotAPdfError,
    PdfCompareError,
    TimeLimitExceededError,
    WrongPasswordError,
    compare,
)
from pdfgen import paragraph, text_pdf

GOOD = text_pdf([[paragraph(1), paragraph(2)], [paragraph(3)]])


def _limits(**kw) -> CompareOptions:
    return CompareOptions(limits=Limits(**kw))


def test_error_hierarchy():
    for cls in (InvalidPdfError, EncryptedPdfError, LimitExceededError):
        assert issubclass(cls, PdfCompareError)
    assert issubclass(EmptyFileError, InvalidPdfError)
    assert issubclass(NotAPdfError, InvalidPdfError)
    assert issubclass(DamagedPdfError, InvalidPdfError)
    assert issubclass(WrongPasswordError, EncryptedPdfError)
    assert issubclass(TimeLimitExceededError, LimitExceededError)


def test_zero_byte_file():
    with pytest.raises(EmptyFileError, match="The new file is empty") as exc:
        compare(GOOD, b"")
    assert exc.value.which == "new"


def test_not_a_pdf():
    with pytest.raises(NotAPdfError, match="The old file is not a PDF"):
        compare(b"GIF89a" + b"\0" * 100, GOOD)


def test_missing_file(tmp_path):
    with pytest.raises(NotAPdfError, match="does not exist"):
        compare(tmp_path / "nope.pdf", GOOD)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(NotAPdfError, match="is a folder"):
        compare(GOOD, tmp_path)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_truncated_file(cut):
    with pytest.raises(DamagedPdfError, match="incomplete|damaged|no readable pages"):
        compare(GOOD, GOOD[: int(len(GOOD) * cut)])


def test_garbage_after_header():
    with pytest.raises(DamagedPdfError):
        compare(b"%PDF-1.7\n" + bytes(range(256)) * 40, GOOD)


def test_broken_xref_is_repaired_and_compares_equal():
    broken = re.sub(rb"startxref\s+\d+", b"startxref\n999999", GOOD)
    assert broken != GOOD
    assert pymupdf.open(stream=broken, filetype="pdf").is_repaired
    report = compare(GOOD, broken)
    assert report.changes == []


def test_mupdf_messages_do_not_reach_stderr(capfd):
    broken = re.sub(rb"startxref\s+\d+", b"startxref\n999999", GOOD)
    compare(GOOD, broken)
    with pytest.raises(DamagedPdfError):
        compare(GOOD, GOOD[: len(GOOD) // 2])
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def _encrypted(user: str = "s3cret") -> bytes:
    doc = pymupdf.open(stream=GOOD, filetype="pdf")
    return doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=user, owner_pw="owner-" + user)


def test_encrypted_without_password():
    with pytest.raises(EncryptedPdfError, match="The new file is password protected") as exc:
        compare(GOOD, _encrypted())
    assert not isinstance(exc.value, WrongPasswordError)


def test_encrypted_wrong_password():
    with pytest.raises(WrongPasswordError, match="not correct"):
        compare(GOOD, _encrypted(), CompareOptions(password="wrong"))


def test_encrypted_with_password_compares():
    assert compare(GOOD, _encrypted(), CompareOptions(new_password="s3cret")).changes == []
    assert compare(_encrypted(), _encrypted(), CompareOptions(password="s3cret")).changes == []


def test_page_limit_with_thousands_of_pages():
    src = pymupdf.open()
    for _ in range(64):
        src.new_page()
    doc = pymupdf.open()
    for _ in range(64):  # 4096 pages, built in about a second
        doc.insert_pdf(src)
    big = doc.tobytes()
    assert doc.page_count == 4096
    with pytest.raises(LimitExceededError, match="4,096 pages; the limit is 1,000"):
        compare(GOOD, big, _limits(max_pages=1000))


def test_file_size_limit(tmp_path):
    path = tmp_path / "big.pdf"
    path.write_bytes(GOOD)
    with pytest.raises(LimitExceededError, match="MB; the limit"):
        compare(path, GOOD, _limits(max_file_bytes=len(GOOD) - 1))
    with pytest.raises(LimitExceededError):
        compare(GOOD, GOOD, _limits(max_file_bytes=100))


def test_giant_page():
    doc = pymupdf.open()
    doc.new_page(width=14400, height=14400)
    giant = doc.tobytes()
    with pytest.raises(LimitExceededError, match="page area limit"):
        compare(giant, giant, _limits(max_page_area=1e8))


def test_giant_scanned_page_renders_within_pixel_budget():
    # a 200 x 200 inch scan would be 900 MPx at 150 dpi: the resolution is lowered instead
    doc = pymupdf.open()
    page = doc.new_page(width=14400, height=14400)
    pix = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 200, 200), False)
    pix.clear_with(255)
    page.insert_image(page.rect, pixmap=pix)
    a = doc.tobytes()
    pix.set_rect(pymupdf.IRect(50, 50, 80, 80), (0,))
    page.insert_image(page.rect, pixmap=pix)
    b = doc.tobytes()
    t = time.perf_counter()
    report = compare(a, b, CompareOptions(ocr="off", limits=Limits(max_render_pixels=4_000_000)))
    assert time.perf_counter() - t < 20
    assert [c.kind for c in report.changes] == ["raster"]


def test_object_count_limit():
    with pytest.raises(LimitExceededError, match="PDF objects"):
        compare(GOOD, GOOD, _limits(max_objects=5))


def test_drawing_count_limit():
    doc = pymupdf.open()
    page = doc.new_page()
    shape = page.new_shape()
    for k in range(3000):
        shape.draw_line((10, 10 + k * 0.2), (500, 10 + k * 0.2))
    shape.finish()
    shape.commit()
    many = doc.tobytes()
    with pytest.raises(LimitExceededError, match="vector drawing items"):
        compare(many, many, _limits(max_drawings_per_page=1000))
    with pytest.raises(LimitExceededError, match="drawing instructions"):
        compare(many, many, _limits(max_content_bytes_per_page=10_000))
    assert compare(many, many).changes == []


def test_word_count_limit():
    with pytest.raises(LimitExceededError, match="words; the limit is 10"):
        compare(GOOD, GOOD, _limits(max_words_per_page=10))


def test_time_limit():
    with pytest.raises(TimeLimitExceededError, match="time limit of 1e-06 seconds"):
        compare(GOOD, GOOD, _limits(timeout_s=1e-6))


def test_moderately_large_document_is_fast():
    pages = [[paragraph(10_000 + p, 40), paragraph(20_000 + p, 40)] for p in range(600)]
    old = text_pdf(pages)
    pages[444] = [pages[444][0].replace(" ", " needle ", 1), pages[444][1]]
    new = text_pdf(pages)
    t = time.perf_counter()
    report = compare(old, new)
    elapsed = time.perf_counter() - t
    assert [(c.op, c.old_page, c.new_page, c.new_text) for c in report.changes] == [
        ("insert", 445, 445, "needle")]
    assert elapsed < 15  # ~1 s on 2 cores; generous for slow CI machines


def test_absurd_coordinates_do_not_crash_or_print(capfd):
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_line((10, 10), (100, 100))
    xref = page.get_contents()[0]
    doc.update_stream(xref, b"q 10 10 m 1e30 20 l S 5 5 m 99999999999999999999 5 l S 20 20 m 30 30 l S Q")
    absurd = doc.tobytes()
    doc.update_stream(xref, b"q 20 20 m 30 30 l S Q")
    sane = doc.tobytes()
    report = compare(absurd, sane)
    assert all(c.kind == "geometry" for c in report.changes)
    assert compare(absurd, absurd).changes == []
    assert capfd.readouterr() == ("", "")
