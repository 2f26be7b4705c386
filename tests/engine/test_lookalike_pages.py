"""Look-alike pages that share a template (issue 12, class 2)."""

from __future__ import annotations

import pytest
from pdfcompare.engine import compare
from pdfgen import form_pdf


def _map(report):
    return [(m.old, m.new, m.status) for m in report.page_map]


@pytest.mark.parametrize("numbered", [True, False])
def test_insert_and_delete_among_template_pages(numbered):
    seeds = list(range(200, 214))  # 14 pages
    new_seeds = seeds[:3] + seeds[4:]  # old page 4 deleted
    new_seeds.insert(8, 999)  # a new page at new position 9
    report = compare(form_pdf(seeds, numbered), form_pdf(new_seeds, numbered))
    expected = [(k, k, "matched") for k in range(1, 4)] + [(4, None, "deleted")]
    expected += [(k, k - 1, "matched") for k in range(5, 10)] + [(None, 9, "inserted")]
    expected += [(k, k, "matched") for k in range(10, 15)]
    assert _map(report) == expected
    assert sorted((c.op, c.old_page, c.new_page) for c in report.changes if c.kind == "page") == [
        ("delete", 4, None), ("insert", None, 9)]
    if numbered:  # the renumbered footers of old pages 5-9 are the only text changes
        assert [(c.op, c.old_page, c.new_page, c.old_text, c.new_text) for c in report.changes
                if c.kind == "text"] == [("replace", k, k - 1, str(k), str(k - 1)) for k in range(5, 10)]
    else:
        assert report.summary["text"] == 0


def test_kept_template_pages_with_edits_keep_their_counterparts():
    seeds = list(range(300, 312))
    new_seeds = [*seeds[:5], *seeds[6:]]  # old page 6 deleted
    new_seeds.insert(2, 4242)  # new page 3
    report = compare(form_pdf(seeds, numbered=True), form_pdf(new_seeds, numbered=True))
    kept = [(m.old, m.new) for m in report.page_map if m.status == "matched"]
    assert kept == [(1, 1), (2, 2), (3, 4), (4, 5), (5, 6), (7, 7), (8, 8), (9, 9), (10, 10), (11, 11),
                    (12, 12)]
    assert sorted(m.status for m in report.page_map if m.status != "matched") == ["deleted", "inserted"]
