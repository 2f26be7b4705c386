"""Vector drawing comparison."""

from __future__ import annotations

from dataclasses import replace

import pymupdf
from pdfcompare.engine import CompareOptions, compare
from pdfgen import Drawing, resave

BASE = Drawing(
    rects=((400, 100, 450, 150), (500, 300, 560, 340)),
    lines=(((300, 400), (380, 400)),),
    circles=(((650, 200), 20),),
    texts=(((400, 95), "1200"), ((600, 540), "TITLE: PUMP HOUSING"), ((600, 555), "REV A")),
)


def _changes(report):
    return [(c.kind, c.op, c.old_bbox and tuple(round(v) for v in c.old_bbox),
             c.new_bbox and tuple(round(v) for v in c.new_bbox)) for c in report.changes]


def test_resaved_drawing_has_no_changes():
    old = BASE.pdf()
    assert compare(old, resave(old)).changes == []


def test_moved_shape():
    new = replace(BASE, rects=((400, 100, 450, 150), (520, 380, 580, 420)))
    report = compare(BASE.pdf(), new.pdf())
    assert _changes(report) == [("geometry", "move", (500, 300, 560, 340), (520, 380, 580, 420))]


def test_added_and_removed_shapes():
    new = replace(BASE, lines=(((300, 400), (380, 400)), ((100, 450), (200, 470))), circles=())
    report = compare(BASE.pdf(), new.pdf())
    assert sorted(_changes(report), key=str) == sorted([
        ("geometry", "delete", (630, 180, 670, 220), None),
        ("geometry", "insert", None, (100, 450, 200, 470)),
    ], key=str)
    assert report.summary == {"text": 0, "geometry": 2, "raster": 0, "page": 0}


def test_reshaped_shape_is_a_replace():
    new = replace(BASE, rects=((400, 100, 470, 150), (500, 300, 560, 340)))
    assert _changes(compare(BASE.pdf(), new.pdf())) == [
        ("geometry", "replace", (400, 100, 450, 150), (400, 100, 470, 150))]


def test_shift_within_tolerance_is_no_change():
    new = replace(BASE, rects=((400.3, 100.2, 450.3, 150.2), (500, 300, 560, 340)))
    assert compare(BASE.pdf(), new.pdf()).changes == []
    tight = CompareOptions(geometry_tolerance=0.05)
    assert [c.op for c in compare(BASE.pdf(), new.pdf(), tight).changes] == ["move"]


def test_changed_dimension_and_title_block_text_are_text_changes():
    texts = (((400, 95), "1250"), ((600, 540), "TITLE: PUMP HOUSING"), ((600, 555), "REV B"))
    new = replace(BASE, texts=texts)
    report = compare(BASE.pdf(), new.pdf())
    assert [(c.kind, c.op, c.old_text, c.new_text) for c in report.changes] == [
        ("text", "replace", "1200", "1250"), ("text", "replace", "A", "B")]
    assert report.summary["geometry"] == 0


def test_group_of_new_lines_is_one_change():
    hatch = tuple(((100 + k * 3, 450), (100 + k * 3, 480)) for k in range(10))
    new = replace(BASE, lines=BASE.lines + hatch)
    assert _changes(compare(BASE.pdf(), new.pdf())) == [("geometry", "insert", None, (100, 450, 127, 480))]


def test_moved_detail_keeps_one_translation():
    detail = ((200, 300, 240, 330), (210, 310, 230, 320))
    moved = tuple((x0 + 100, y0 + 50, x1 + 100, y1 + 50) for x0, y0, x1, y1 in detail)
    old = replace(BASE, rects=BASE.rects + detail)
    new = replace(BASE, rects=BASE.rects + moved)
    assert _changes(compare(old.pdf(), new.pdf())) == [
        ("geometry", "move", (200, 300, 240, 330), (300, 350, 340, 380))]


def test_curves_and_direction_do_not_matter():
    def pdf(reverse: bool) -> bytes:
        doc = pymupdf.open()
        page = doc.new_page()
        pts = [(100, 100), (150, 50), (200, 150), (250, 100)]
        if reverse:
            pts = pts[::-1]
        page.draw_bezier(*pts)
        page.draw_line((300, 300), (100, 300)) if reverse else page.draw_line((100, 300), (300, 300))
        return doc.tobytes()

    assert compare(pdf(False), pdf(True)).changes == []
