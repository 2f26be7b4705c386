"""Identical content gives zero changes, whatever writer produced the file (issue 12, class 1)."""

from __future__ import annotations

import shutil
import subprocess

import pymupdf
import pytest
from pdfcompare.engine import CompareOptions, compare
from pdfgen import paragraph, report_pdf, rerender, resave, text_pdf


def _pymupdf_variants(data: bytes) -> dict[str, bytes]:
    doc = pymupdf.open(stream=data, filetype="pdf")
    out = {
        "garbage4-deflate-clean": doc.tobytes(garbage=4, deflate=True, clean=True),
        "objstms": doc.tobytes(garbage=3, deflate=True, use_objstms=1),
        "expand": doc.tobytes(garbage=1, expand=255),
        "ascii": doc.tobytes(garbage=2, ascii=True),
    }
    doc.close()
    return out


@pytest.mark.parametrize("variant", ["garbage4-deflate-clean", "objstms", "expand", "ascii"])
def test_pymupdf_resaves_of_a_report_have_no_changes(variant):
    old = report_pdf(3)
    assert compare(old, _pymupdf_variants(old)[variant]).changes == []


def test_another_writer_order_and_fraction_of_a_point_give_no_changes():
    """Columns, table rows and header written in the opposite order, everything 0.3 pt off."""
    old = report_pdf(4)
    new = report_pdf(4, other_writer=True)
    report = compare(old, new)
    assert report.changes == []
    assert [(m.old, m.new, m.status) for m in report.page_map] == [(k, k, "matched") for k in range(1, 5)]


@pytest.mark.parametrize("offset", [(0.0, 0.0), (0.4, -0.3), (-0.9, 0.8)])
def test_rerendered_through_a_form_xobject_has_no_changes(offset):
    old = report_pdf(3)
    assert compare(old, rerender(old, offset)).changes == []
    assert compare(rerender(old, offset), old).changes == []


def test_multi_column_text_rewritten_in_another_order_has_no_changes():
    paras = [paragraph(k, 40) for k in range(4)]

    def two_columns(reverse: bool, dx: float) -> bytes:
        doc = pymupdf.open()
        page = doc.new_page()
        boxes = [(pymupdf.Rect(50 + dx, 60, 290 + dx, 760), paras[:2]),
                 (pymupdf.Rect(310 + dx, 60, 550 + dx, 760), paras[2:])]
        for rect, text in (reversed(boxes) if reverse else boxes):
            page.insert_textbox(rect, "\n\n".join(text), fontsize=9)
        return doc.tobytes()

    assert compare(two_columns(False, 0.0), two_columns(True, 0.4)).changes == []


@pytest.mark.skipif(shutil.which("pdftocairo") is None, reason="poppler-utils (pdftocairo) not installed")
def test_rerendered_by_another_library_has_no_changes(tmp_path):
    """Cairo re-renders every page and embeds a metric-compatible font for the base-14 Helvetica."""
    src = tmp_path / "report.pdf"
    dst = tmp_path / "cairo.pdf"
    src.write_bytes(report_pdf(3))
    subprocess.run(["pdftocairo", "-pdf", str(src), str(dst)], check=True, capture_output=True)
    assert compare(src, dst).changes == []


def test_real_edit_in_a_rewritten_table_is_the_only_change():
    old = report_pdf(3)
    new = report_pdf(3, other_writer=True, cells={(2, 1): "12345.67"})
    report = compare(old, new)
    assert [(c.kind, c.op, c.old_page, c.new_page, c.new_text) for c in report.changes] == [
        ("text", "replace", 1, 1, "12345.67")]
    c = report.changes[0]
    # the cell at column 1, row 2 of the table: x 180, baseline 278
    assert 179 < c.old_bbox[0] < 181 and 268 < c.old_bbox[1] < 272 and c.old_bbox[3] < 282
    assert 179 < c.new_bbox[0] < 182 and 268 < c.new_bbox[1] < 273 and c.new_bbox[3] < 282


def test_identical_move_in_place_is_no_move_but_a_real_move_still_is():
    base = [[paragraph(k, 25) for k in range(4)]]
    swapped = [[base[0][2], base[0][1], base[0][0], base[0][3]]]
    report = compare(text_pdf(base), text_pdf(swapped))
    # paragraphs 1 and 3 swapped places (same length): both are moves; paragraph 2 stayed where it was
    assert sorted(c.op for c in report.changes) == ["move", "move"]
    assert {c.old_text for c in report.changes} == {base[0][0], base[0][2]}


def test_resave_helper_still_has_no_changes():
    old = text_pdf([[paragraph(3), paragraph(4)]])
    assert compare(old, resave(old), CompareOptions(ocr="off")).changes == []
