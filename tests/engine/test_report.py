"""Report schema, annotated PDF, PNG preview and progress callback."""

from __future__ import annotations

import json

import pymupdf
import pytest
from pdfcompare.engine import (
    REPORT_JSON_SCHEMA,
    SCHEMA_ID,
    CompareOptions,
    Report,
    compare,
    render_preview,
    validate_report,
    write_annotated_pdf,
)
from pdfgen import Drawing, paragraph, text_pdf

OLD_PAGES = [[paragraph(1), paragraph(2), paragraph(3)], [paragraph(4)], [paragraph(5)]]


def _new_pages():
    pages = [list(p) for p in OLD_PAGES]
    pages[0] = [pages[0][1], pages[0][0].replace("P1 ", "P1 fresh ", 1), pages[0][2]]  # move + insert
    words = pages[1][0].split()
    pages[1][0] = " ".join(words[:3] + words[4:])  # delete one word
    pages.insert(2, [paragraph(77)])  # inserted page
    return pages


@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes]:
    return text_pdf(OLD_PAGES), text_pdf(_new_pages())


@pytest.fixture(scope="module")
def report(pair) -> Report:
    return compare(*pair)


def test_report_matches_schema_exactly(report):
    data = json.loads(report.to_json())
    assert validate_report(data) == []
    assert list(data) == ["schema", "old", "new", "page_map", "changes", "summary"]
    assert data["schema"] == SCHEMA_ID == "pdfcompare.report/1"
    assert data["old"]["pages"] == 3 and data["new"]["pages"] == 4
    assert len(data["old"]["sha256"]) == 64
    for c in data["changes"]:
        assert list(c) == ["kind", "op", "old_page", "new_page", "old_bbox", "new_bbox", "old_text",
                           "new_text"]
    assert data["summary"] == {"text": 3, "geometry": 0, "raster": 0, "page": 1}
    assert sorted((c["kind"], c["op"]) for c in data["changes"]) == [
        ("page", "insert"), ("text", "delete"), ("text", "insert"), ("text", "move")]


def test_report_validates_with_jsonschema_when_available(report):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(REPORT_JSON_SCHEMA)
    jsonschema.validate(report.to_dict(), REPORT_JSON_SCHEMA)


def test_validator_catches_mistakes(report):
    data = report.to_dict()
    data["changes"][0]["kind"] = "font"
    data["page_map"][0]["old"] = 0
    data["extra"] = 1
    errors = validate_report(data)
    assert any("'font' is not one of" in e for e in errors)
    assert any("below 1" in e for e in errors)
    assert any("unexpected key 'extra'" in e for e in errors)
    good = report.to_dict()
    good["summary"]["text"] += 1
    assert validate_report(good) == [f"$.summary: {good['summary']} does not count the changes "
                                     f"{report.summary}"]


def test_report_round_trip(report):
    again = Report.from_dict(json.loads(report.to_json()))
    assert again.to_dict() == report.to_dict()
    with pytest.raises(ValueError, match="unsupported report schema"):
        Report.from_dict({**report.to_dict(), "schema": "pdfcompare.report/2"})


def test_annotated_pdf(pair, report, tmp_path):
    out = tmp_path / "diff.pdf"
    data = write_annotated_pdf(*pair, report, str(out))
    assert out.read_bytes() == data
    doc = pymupdf.open(stream=data, filetype="pdf")
    # legend + old/new interleaved: 3 matched pairs + 1 inserted page
    assert doc.page_count == 1 + 3 * 2 + 1
    assert "Legend" in doc[0].get_text()
    toc = [t[1] for t in doc.get_toc()]
    assert toc[:3] == ["Summary", "Old page 1 (matched)", "New page 1 (matched)"]
    annots = {i: [(a.type[1], a.colors["stroke"], a.info["subject"]) for a in doc[i].annots()]
              for i in range(doc.page_count)}
    red, green, blue = (0.86, 0.1, 0.1), (0.1, 0.62, 0.2), (0.1, 0.35, 0.9)

    def close(c1, c2):
        return all(abs(a - b) < 0.01 for a, b in zip(c1, c2, strict=True))

    old1 = annots[1]
    new1 = annots[2]
    assert old1 and all(close(c, blue) for _, c, s in old1 if s == "text move")
    assert any(s == "text insert" and close(c, green) for _, c, s in new1)
    assert any(s == "text delete" and close(c, red) for _, c, s in annots[3])  # old page 2
    assert not any(s == "text delete" for _, _c, s in annots[4])  # deletions are not drawn on new pages
    assert [(t, s) for t, _, s in annots[5 + 0]] == [("Square", "page insert")]  # new page 3 is inserted
    assert all(t == "Square" for page in annots.values() for t, _, _ in page)


def test_annotated_pdf_for_a_drawing_uses_orange():
    a = Drawing(rects=((100, 100, 150, 150),)).pdf()
    b = Drawing(rects=((300, 300, 350, 350),)).pdf()
    rep = compare(a, b)
    doc = pymupdf.open(stream=write_annotated_pdf(a, b, rep), filetype="pdf")
    colors = [tuple(round(v, 2) for v in an.colors["stroke"]) for p in doc for an in p.annots()]
    assert colors == [(1.0, 0.55, 0.0), (1.0, 0.55, 0.0)]  # old and new location of the moved shape


def test_preview_png_highlights_changes(pair, report):
    png = render_preview(pair[1], report, 1, "new", dpi=50)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pix = pymupdf.Pixmap(png)
    plain = pymupdf.open(stream=pair[1], filetype="pdf")[0].get_pixmap(dpi=50)
    assert (pix.width, pix.height) == (plain.width, plain.height)
    assert pix.samples != plain.samples  # highlights were drawn
    with pytest.raises(ValueError, match="page 9 does not exist"):
        render_preview(pair[1], report, 9)


def test_progress_callback(pair):
    calls = []
    compare(*pair, CompareOptions(), progress=lambda stage, done, total: calls.append((stage, done, total)))
    stages = [c[0] for c in calls]
    assert stages[0] == "extract-old" and stages[-1] == "done"
    assert ("extract-old", 3, 3) in calls and ("extract-new", 4, 4) in calls
    assert ("pages", 3, 3) in calls
    assert all(0 < done <= total for _, done, total in calls)


def test_load_exposes_words_shapes_and_geometry(pair):
    from pdfcompare.engine import Word, load

    doc = load(Drawing(rects=((100, 100, 150, 150),), texts=(((100, 95), "42"),)).pdf())
    page = doc.pages[0]
    assert (doc.page_count, page.number, page.width, page.height, page.rotation) == (1, 1, 842, 595, 0)
    words = list(page.iter_words())
    assert words == [Word("42", words[0].bbox, words[0].line)] and isinstance(words[0].bbox, tuple)
    assert ("re", (100.0, 100.0, 150.0, 150.0)) in {(s.kind, s.coords) for s in page.shapes}
    assert len(doc.sha256) == 64 and not page.image_only


def test_this_suite_schema_checks_every_report():
    import importlib

    # conftest.py wraps the Report constructor used by compare(): every report in every test is validated
    assert importlib.import_module("pdfcompare.engine.compare").Report.__name__ == "checked_report"
