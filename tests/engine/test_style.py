"""Style-only changes: the same words in another font, weight, slant, size or colour (issue 12,
class 5).  Reported as ``kind: "text"``, ``op: "replace"`` with equal texts and a ``style`` object."""

from __future__ import annotations

import json

from pdfcompare.engine import compare, validate_report
from pdfgen import report_pdf, rerender, styled_pdf

CLAUSES = ["1. The supplier shall deliver the goods within thirty days.",
           "2. The customer shall pay every invoice within fourteen days.",
           "3. Either party may terminate this agreement by written notice.",
           "4. This agreement is governed by the law of England."]
PLAIN = {"font": "helv", "size": 10, "color": (0, 0, 0)}


def _doc(**changes: dict) -> bytes:
    return styled_pdf([(text, {**PLAIN, **changes.get(f"c{k}", {})}) for k, text in enumerate(CLAUSES)])


def _styles(report):
    return [(c.kind, c.op, c.old_text, c.new_text, c.style["changed"]) for c in report.changes]


def test_clause_turning_bold_is_one_style_change():
    report = compare(_doc(), _doc(c2={"font": "hebo"}))
    assert _styles(report) == [("text", "replace", CLAUSES[2], CLAUSES[2], ["bold"])]
    c = report.changes[0]
    assert c.style["old"] == {"font": "Helvetica", "size": 10.0, "bold": False, "italic": False,
                              "color": "#000000"}
    assert c.style["new"]["bold"] is True
    assert 71 < c.old_bbox[0] < 73 and 108 < c.old_bbox[1] < 112 and c.old_bbox[3] < 125  # 3rd line, y 120
    data = json.loads(report.to_json())
    assert validate_report(data) == []
    assert data["changes"][0]["style"]["changed"] == ["bold"]


def test_size_colour_slant_and_font_changes():
    report = compare(_doc(), _doc(c0={"size": 12}, c1={"color": (0.8, 0, 0)}, c2={"font": "heit"},
                                  c3={"font": "tiro"}))
    assert _styles(report) == [
        ("text", "replace", CLAUSES[0], CLAUSES[0], ["size"]),
        ("text", "replace", CLAUSES[1], CLAUSES[1], ["color"]),
        ("text", "replace", CLAUSES[2], CLAUSES[2], ["italic"]),
        ("text", "replace", CLAUSES[3], CLAUSES[3], ["font"]),
    ]
    assert report.changes[1].style["new"]["color"] == "#cc0000"


def test_part_of_a_clause_in_bold_next_to_a_text_edit():
    old = styled_pdf([(CLAUSES[0], PLAIN), ("The total price is", PLAIN)])
    bold = {**PLAIN, "font": "hebo"}
    new = styled_pdf([(CLAUSES[0].replace("thirty", "forty"), PLAIN), ("The total price is", bold)])
    report = compare(old, new)
    assert sorted((c.op, c.old_text, c.new_text, (c.style or {}).get("changed")) for c in report.changes) == [
        ("replace", "The total price is", "The total price is", ["bold"]),
        ("replace", "thirty", "forty", None)]


def test_no_style_change_without_one():
    assert compare(_doc(), _doc()).changes == []
    old = report_pdf(2)
    assert compare(old, rerender(old, (0.3, 0.2))).changes == []
    assert compare(old, report_pdf(2, other_writer=True)).changes == []


def test_styles_can_be_switched_off():
    from pdfcompare.engine import CompareOptions

    assert compare(_doc(), _doc(c2={"font": "hebo"}), CompareOptions(styles=False)).changes == []
