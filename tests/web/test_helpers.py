"""The UI's pure helpers: Markdown escaping, change descriptions, progress labels, the page map."""

from __future__ import annotations

import json

import pytest
from pdfcompare.web.reports import ReportView, entry_label
from pdfcompare.web.tasks import overall_fraction, stage_label
from pdfcompare.web.text import change_md, change_title, md, snippet_md, summary_line


@pytest.mark.parametrize(("text", "shown"), [
    ("contract_v1.pdf", "contract\\_v1.pdf"),
    ("*draft* [link](x) $5 `code` <b>", "\\*draft\\* \\[link\\](x) \\$5 \\`code\\` \\<b\\>"),
    ("1. Parties", "1\\. Parties"),
    ("# heading", "\\# heading"),
    ("two\nlines", "two lines"),
    (":red[x]", "\\:red\\[x\\]"),
])
def test_md_shows_text_literally(text: str, shown: str) -> None:
    assert md(text) == shown


def test_search_snippets_mark_the_matches_bold() -> None:
    assert snippet_md("the «turbine» bearings «shall»") == "the **turbine** bearings **shall**"


def test_changes_read_as_a_person_would_say_them() -> None:
    replace = {"kind": "text", "op": "replace", "old_page": 2, "new_page": 2, "old_text": "30 days",
               "new_text": "45 days"}
    assert change_title(replace) == "Text changed · p.2"
    assert change_md(replace) == ":red[~~30 days~~] → :green[45 days]"
    moved = {"kind": "text", "op": "move", "old_page": 3, "new_page": 5, "old_text": "Clause 9"}
    assert change_title(moved) == "Text moved · old p.3 → new p.5"
    assert change_title({"kind": "page", "op": "delete", "old_page": 4}) == "Page deleted · old p.4"
    assert change_md({"kind": "geometry", "op": "insert", "new_page": 1}) == "Lines or shapes added"
    assert summary_line({"text": 3, "page": 1, "geometry": 0, "raster": 0}) == "3 text · 1 page"
    assert summary_line({"text": 0}) == "no changes"


def test_a_style_only_change_says_what_changed_in_the_look(tmp_path) -> None:
    import pymupdf
    from pdfcompare.engine import compare

    def clause(path, font: str) -> None:
        doc = pymupdf.open()
        page = doc.new_page()
        page.insert_text((72, 100), "The supplier shall deliver within thirty days.", fontname="helv")
        page.insert_text((72, 130), "Penalties apply to late deliveries.", fontname=font, fontsize=11)
        doc.save(path)

    clause(tmp_path / "old.pdf", "helv")
    clause(tmp_path / "new.pdf", "hebo")  # Helvetica-Bold
    [change] = compare(tmp_path / "old.pdf", tmp_path / "new.pdf").to_dict()["changes"]
    assert change_title(change) == "Style changed · p.1"
    assert change_md(change) == "Penalties apply to late deliveries.: bold: no → yes"
    style = {"changed": ["size", "color"], "old": {"size": 10.0, "color": "#000000"},
             "new": {"size": 12.5, "color": "#ff0000"}}
    sized = {"kind": "text", "op": "replace", "old_page": 1, "new_page": 1, "old_text": "Total",
             "new_text": "Total", "style": style}
    # "#" is escaped for Markdown
    assert change_md(sized) == r"Total: size: 10 pt → 12.5 pt · color: \#000000 → \#ff0000"


def test_progress_names_the_stage_and_moves_forward() -> None:
    assert stage_label("extract-old", 12, 300) == "Reading the old version — page 12 of 300"
    assert stage_label("pages", 5, 10) == "Comparing the pages — page pair 5 of 10"
    assert stage_label("saving") == "Saving the result"
    order = [("loading", 1, 3), ("extract-old", 150, 300), ("extract-new", 10, 300), ("align", 1, 1),
             ("pages", 5, 10), ("saving", 0, 1), ("done", 1, 1)]
    fractions = [overall_fraction(*step) for step in order]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_the_page_navigator_follows_the_page_map() -> None:
    page_map = [(1, 1, "matched"), (None, 2, "inserted"), (2, 3, "matched"), (3, None, "deleted"),
                (4, 4, "moved")]
    report = {"schema": "pdfcompare.report/1", "old": {"sha256": "a", "pages": 4},
              "new": {"sha256": "b", "pages": 4},
              "page_map": [{"old": old, "new": new, "status": status} for old, new, status in page_map],
              "changes": [{"kind": "text", "op": "replace", "old_page": 1, "new_page": 1},
                          {"kind": "page", "op": "insert", "old_page": None, "new_page": 2},
                          {"kind": "page", "op": "delete", "old_page": 3, "new_page": None}],
              "summary": {"text": 1, "page": 2, "geometry": 0, "raster": 0}}
    view = ReportView.from_json(7, json.dumps(report))
    assert [entry_label(view, e) for e in range(5)] == [
        "Page 1 · 1 change", "New page 2 (inserted) · 1 change", "Old page 2 → new page 3",
        "Old page 3 (deleted) · 1 change", "Old page 4 → new page 4 (moved)"]
    assert [view.entry_of(k) for k in range(3)] == [0, 1, 3]
    assert view.entries_with_changes == [0, 1, 3] and view.kinds == ["text", "page"]
