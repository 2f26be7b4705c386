"""Whole-document page alignment."""

from __future__ import annotations

import pytest
from pdfcompare.engine import compare
from pdfgen import paragraph, text_pdf


def _map(report):
    return [(m.old, m.new, m.status) for m in report.page_map]


def _pages(n: int, offset: int = 0) -> list[list[str]]:
    return [[paragraph(1000 + (offset + p) * 10 + k, 20) for k in range(3)] for p in range(n)]


def test_inserted_page_and_following_pages_keep_their_counterparts():
    base = _pages(6)
    new = [list(p) for p in base]
    new.insert(2, [paragraph(77), paragraph(78)])
    new[5][1] = new[5][1].replace(" ", " planted ", 1)  # edit on old page 5 (new page 6)
    report = compare(text_pdf(base), text_pdf(new))
    assert _map(report) == [(1, 1, "matched"), (2, 2, "matched"), (None, 3, "inserted"), (3, 4, "matched"),
                            (4, 5, "matched"), (5, 6, "matched"), (6, 7, "matched")]
    assert [(c.kind, c.op, c.old_page, c.new_page, c.new_text) for c in report.changes] == [
        ("page", "insert", None, 3, None),
        ("text", "insert", 5, 6, "planted"),
    ]
    assert report.changes[0].new_bbox == (0.0, 0.0, 595.0, 842.0)


def test_deleted_page():
    base = _pages(5)
    new = [list(p) for p in base]
    del new[1]
    report = compare(text_pdf(base), text_pdf(new))
    assert _map(report) == [(1, 1, "matched"), (2, None, "deleted"), (3, 2, "matched"), (4, 3, "matched"),
                            (5, 4, "matched")]
    assert [(c.kind, c.op, c.old_page, c.new_page) for c in report.changes] == [("page", "delete", 2, None)]
    assert report.summary == {"text": 0, "geometry": 0, "raster": 0, "page": 1}


def test_reordered_pages_are_moved_not_changed():
    base = _pages(5)
    new = [base[0], base[3], base[2], base[1], base[4]]  # pages 2 and 4 swapped
    report = compare(text_pdf(base), text_pdf(new))
    assert _map(report) == [(1, 1, "matched"), (4, 2, "moved"), (3, 3, "matched"), (2, 4, "moved"),
                            (5, 5, "matched")]
    assert sorted((c.kind, c.op, c.old_page, c.new_page) for c in report.changes) == [
        ("page", "move", 2, 4), ("page", "move", 4, 2)]


def test_page_moved_to_the_end():
    base = _pages(5)
    new = [base[1], base[2], base[3], base[4], base[0]]
    report = compare(text_pdf(base), text_pdf(new))
    assert [(c.kind, c.op, c.old_page, c.new_page) for c in report.changes] == [("page", "move", 1, 5)]


def test_moved_and_edited_page_is_still_compared():
    base = _pages(5)
    edited = list(base[0])
    edited[2] = edited[2].replace(" ", " amended ", 1)
    new = [base[1], base[2], base[3], base[4], edited]
    report = compare(text_pdf(base), text_pdf(new))
    assert (1, 5, "moved") in _map(report)
    assert [(c.kind, c.op, c.old_page, c.new_page, c.new_text) for c in report.changes] == [
        ("page", "move", 1, 5, None), ("text", "insert", 1, 5, "amended")]


def test_insert_and_delete_at_once():
    base = _pages(6)
    new = [base[0], base[1], [paragraph(5555)], base[2], base[4], base[5]]
    report = compare(text_pdf(base), text_pdf(new))
    assert _map(report) == [(1, 1, "matched"), (2, 2, "matched"), (None, 3, "inserted"), (3, 4, "matched"),
                            (4, None, "deleted"), (5, 5, "matched"), (6, 6, "matched")]
    assert sorted((c.op, c.old_page, c.new_page) for c in report.changes if c.kind == "page") == [
        ("delete", 4, None), ("insert", None, 3)]
    assert report.summary["text"] == 0


def test_blank_pages_align():
    base = _pages(3)
    new = [base[0], [], base[1], base[2]]
    report = compare(text_pdf(base), text_pdf(new))
    assert _map(report) == [(1, 1, "matched"), (None, 2, "inserted"), (2, 3, "matched"), (3, 4, "matched")]


def test_reflow_through_the_whole_document_is_one_insert():
    # a paragraph inserted on page 1 pushes one paragraph onto every following page: no page stays
    # identical, the aligner must still pair pages by position and the text diff must see one insert
    paras = [paragraph(3000 + k, 25) for k in range(3 * 70)]
    new_paras = [*paras[:1], paragraph(9999, 25), *paras[1:]]
    old = text_pdf([paras[k : k + 3] for k in range(0, len(paras), 3)])
    new = text_pdf([new_paras[k : k + 3] for k in range(0, len(new_paras), 3)])
    report = compare(old, new)
    assert [m.status for m in report.page_map][:70] == ["matched"] * 70
    assert report.page_map[70] == report.page_map[-1] and report.page_map[-1].status == "inserted"
    assert [(c.kind, c.op, c.new_page, c.new_text) for c in report.changes] == [
        ("text", "insert", 1, paragraph(9999, 25)), ("page", "insert", 71, None)]


def test_page_map_is_in_new_order_with_moves_edits_and_deletions():
    base = _pages(6)
    edited = list(base[1])
    edited[0] = edited[0].replace(" ", " revised ", 1)
    new = [base[0], base[3], edited, base[2], base[5]]  # 4 moved up, 2 edited, 5 deleted
    report = compare(text_pdf(base), text_pdf(new))
    assert _map(report) == [(1, 1, "matched"), (4, 2, "moved"), (2, 3, "matched"), (3, 4, "matched"),
                            (5, None, "deleted"), (6, 5, "matched")]
    assert [(c.kind, c.op, c.old_page, c.new_page) for c in report.changes] == [
        ("page", "move", 4, 2), ("text", "insert", 2, 3), ("page", "delete", 5, None)]


def test_two_worker_processes_give_the_same_report():
    from pdfcompare.engine import CompareOptions, LimitExceededError, Limits

    base = _pages(40)
    new = [list(p) for p in base]
    new.insert(7, [paragraph(4242)])
    new[30][1] = new[30][1].replace(" ", " parallel ", 1)
    old_pdf, new_pdf = text_pdf(base), text_pdf(new)
    one = compare(old_pdf, new_pdf, CompareOptions(workers=1))
    two = compare(old_pdf, new_pdf, CompareOptions(workers=2))
    assert two.to_dict() == one.to_dict()
    assert [(c.kind, c.op) for c in two.changes] == [("page", "insert"), ("text", "insert")]
    # an error in the child process arrives as the same typed error, naming the file
    with pytest.raises(LimitExceededError, match="of the new file has") as exc:
        small = text_pdf([[paragraph(k, 10)] for k in range(40)])  # 10 words per page, under the limit
        compare(small, new_pdf, CompareOptions(workers=2, limits=Limits(max_words_per_page=45)))
    assert exc.value.which == "new"
