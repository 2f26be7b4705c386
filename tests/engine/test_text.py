"""Word-level text diff and moved text."""

from __future__ import annotations

import pymupdf
from pdfcompare.engine import CompareOptions, compare
from pdfgen import paragraph, resave, text_pdf, write_paragraphs


def _edit(pages, page, para, fn):
    out = [list(p) for p in pages]
    out[page][para] = fn(out[page][para])
    return out


def _word_box(pdf: bytes, page: int, word: str) -> tuple[float, float, float, float]:
    doc = pymupdf.open(stream=pdf, filetype="pdf")
    hits = [w[:4] for w in doc[page - 1].get_text("words") if w[4] == word]
    assert len(hits) == 1, f"{word!r} should occur once on page {page}"
    return hits[0]


def _inside(inner, outer, slack=0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def test_resaved_identical_file_has_no_changes(base_pages):
    old = text_pdf(base_pages)
    report = compare(old, resave(old))
    assert report.changes == []
    assert [m.status for m in report.page_map] == ["matched"] * 4
    assert report.summary == {"text": 0, "geometry": 0, "raster": 0, "page": 0}


def test_inserted_word(base_pages):
    old = text_pdf(base_pages)
    new = text_pdf(_edit(base_pages, 1, 2, lambda p: p.replace("P12 ", "P12 extraordinary ", 1)))
    report = compare(old, new)
    assert [(c.kind, c.op, c.old_page, c.new_page, c.old_text, c.new_text) for c in report.changes] == [
        ("text", "insert", 2, 2, None, "extraordinary")
    ]
    c = report.changes[0]
    assert _inside(_word_box(new, 2, "extraordinary"), c.new_bbox)
    # the old side marks where the word would go: right after "P12"
    p12 = _word_box(old, 2, "P12")
    assert c.old_bbox[0] == c.old_bbox[2] == round(p12[2], 2) or abs(c.old_bbox[0] - p12[2]) < 0.01


def test_deleted_word(base_pages):
    words = base_pages[2][1].split()
    target = words[5]
    old = text_pdf(base_pages)
    new = text_pdf(_edit(base_pages, 2, 1, lambda p: " ".join(words[:5] + words[6:])))
    report = compare(old, new)
    assert [(c.kind, c.op, c.old_page, c.new_page, c.old_text, c.new_text) for c in report.changes] == [
        ("text", "delete", 3, 3, target, None)
    ]
    assert report.changes[0].old_bbox is not None


def test_replaced_word(base_pages):
    words = base_pages[0][0].split()
    old_word = words[7]
    words[7] = "REPLACEMENT"
    old = text_pdf(base_pages)
    new = text_pdf(_edit(base_pages, 0, 0, lambda p: " ".join(words)))
    report = compare(old, new)
    assert [(c.kind, c.op, c.old_page, c.new_page, c.old_text, c.new_text) for c in report.changes] == [
        ("text", "replace", 1, 1, old_word, "REPLACEMENT")
    ]
    assert _inside(_word_box(new, 1, "REPLACEMENT"), report.changes[0].new_bbox)


def test_paragraph_moved_within_page_is_a_move(base_pages):
    pages = [list(p) for p in base_pages]
    pages[1] = [pages[1][0], pages[1][2], pages[1][3], pages[1][1]]
    old, new = text_pdf(base_pages), text_pdf(pages)
    report = compare(old, new)
    assert len(report.changes) == 1
    c = report.changes[0]
    assert (c.kind, c.op, c.old_page, c.new_page) == ("text", "move", 2, 2)
    assert c.old_text == c.new_text == base_pages[1][1]
    assert c.new_bbox[1] > c.old_bbox[1]  # moved down the page
    assert _inside(_word_box(new, 2, "P11"), c.new_bbox)
    assert _inside(_word_box(old, 2, "P11"), c.old_bbox)


def test_two_swapped_paragraphs_are_not_zero_changes(base_pages):
    pages = [list(p) for p in base_pages]
    pages[0][1], pages[0][2] = pages[0][2], pages[0][1]
    report = compare(text_pdf(base_pages), text_pdf(pages))
    assert report.summary["text"] == 1
    c = report.changes[0]
    assert c.op == "move"
    assert c.old_text in (base_pages[0][1], base_pages[0][2])


def test_sentence_moved_to_another_page(base_pages):
    sentence = "This sentence travels from the first page to the last page."
    old_pages = _edit(base_pages, 0, 1, lambda p: p + " " + sentence)
    new_pages = _edit(base_pages, 3, 2, lambda p: p + " " + sentence)
    report = compare(text_pdf(old_pages), text_pdf(new_pages))
    assert [(c.kind, c.op, c.old_page, c.new_page, c.old_text) for c in report.changes] == [
        ("text", "move", 1, 4, sentence)
    ]


def test_short_moves_stay_insert_and_delete(base_pages):
    # two words are below min_move_words: not a move
    old_pages = _edit(base_pages, 0, 1, lambda p: p + " Zeta Omega")
    new_pages = _edit(base_pages, 0, 3, lambda p: p + " Zeta Omega")
    report = compare(text_pdf(old_pages), text_pdf(new_pages))
    assert sorted((c.op, c.old_text or c.new_text) for c in report.changes) == [
        ("delete", "Zeta Omega"), ("insert", "Zeta Omega")]


def test_text_reflowing_over_a_page_break_is_one_insert():
    a, b, c, d, e = (paragraph(k) for k in range(500, 505))
    x = paragraph(999)
    old = text_pdf([[a, b, c], [d, e]])
    new = text_pdf([[a, x, b], [c, d, e]])
    report = compare(old, new)
    assert [(ch.op, ch.old_page, ch.new_page, ch.new_text) for ch in report.changes] == [
        ("insert", 1, 1, x)]


def test_change_crossing_pages_is_split_per_page():
    a, b = paragraph(600), paragraph(601)
    old = text_pdf([[a], [b]])
    tail = " ".join(f"tailword{k}" for k in range(5))
    head = " ".join(f"headword{k}" for k in range(5))
    new = text_pdf([[a + " " + tail], [head + " " + b]])
    report = compare(old, new)
    inserts = [(c.op, c.new_page, c.new_text) for c in report.changes]
    assert inserts == [("insert", 1, tail), ("insert", 2, head)]


def test_ignore_case_option(base_pages):
    words = base_pages[0][0].split()
    upper = " ".join([*words[:2], *(w.upper() for w in words[2:4]), *words[4:]])
    old, new = text_pdf(base_pages), text_pdf(_edit(base_pages, 0, 0, lambda p: upper))
    assert [(c.op, c.old_text, c.new_text) for c in compare(old, new).changes] == [
        ("replace", " ".join(words[2:4]), " ".join(w.upper() for w in words[2:4]))]
    assert compare(old, new, CompareOptions(ignore_case=True)).changes == []


def test_rotated_page_boxes_are_unrotated_coordinates(base_pages):
    old = text_pdf(base_pages[:1], rotation=90)
    new = text_pdf(_edit(base_pages[:1], 0, 0, lambda p: p.replace("P0 ", "P0 rotated ", 1)), rotation=90)
    report = compare(old, new)
    assert [(c.op, c.new_text) for c in report.changes] == [("insert", "rotated")]
    box = report.changes[0].new_bbox
    # unrotated portrait page (595 x 842): text starts at x=72 near the top
    assert 72 <= box[0] < 200 and 50 < box[1] < 90


def test_multiline_change_has_one_rect_per_line():
    doc_old = pymupdf.open()
    write_paragraphs(doc_old.new_page(), [paragraph(1)])
    doc_new = pymupdf.open()
    long_insert = " ".join(f"added{k}" for k in range(20))
    write_paragraphs(doc_new.new_page(), [paragraph(1) + " " + long_insert])
    report = compare(doc_old.tobytes(), doc_new.tobytes())
    assert len(report.changes) == 1
    c = report.changes[0]
    assert c.new_text == long_insert
    # paragraph(1) has 30 words on lines of 11: the 20 added words fill the last 2 slots of line 3,
    # all of line 4 and 7 slots of line 5
    assert len(c.new_rects) == 3
    assert [round(r[1]) for r in c.new_rects] == sorted({round(r[1]) for r in c.new_rects})
    assert c.new_rects[1][0] == 72.0


def test_moved_and_edited_paragraph_reports_move_plus_the_edit(base_pages):
    pages = [list(p) for p in base_pages]
    words = pages[2][0].split()
    edited_word = words[10]
    words[10] = "MODIFIED"
    pages[2] = [pages[2][1], pages[2][2], " ".join(words), pages[2][3]]
    report = compare(text_pdf(base_pages), text_pdf(pages))
    ops = sorted((c.op, c.old_text if c.op != "move" else "", c.new_text if c.op != "move" else "")
                 for c in report.changes)
    assert ops == [("move", "", ""), ("replace", edited_word, "MODIFIED")]
    move = next(c for c in report.changes if c.op == "move")
    assert move.old_text.startswith("P20 ") and move.new_page == 3


def test_reordered_paragraphs_are_only_moves(base_pages):
    pages = [list(p) for p in base_pages]
    a, b, c, d = pages[1]
    pages[1] = [c, b, a, d]
    report = compare(text_pdf(base_pages), text_pdf(pages))
    assert report.changes and all(ch.op == "move" for ch in report.changes)
    moved = {ch.old_text for ch in report.changes}
    assert len(moved) == len(report.changes) == 2 and moved <= {a, b, c}
    for ch in report.changes:
        assert ch.old_text == ch.new_text


def test_edit_and_move_on_the_same_page(base_pages):
    pages = [list(p) for p in base_pages]
    pages[3][0] = pages[3][0].replace("P30 ", "P30 newly ", 1)
    pages[3] = [pages[3][0], pages[3][2], pages[3][3], pages[3][1]]
    report = compare(text_pdf(base_pages), text_pdf(pages))
    assert sorted((c.op, c.new_text if c.op == "insert" else c.old_text[:4]) for c in report.changes) == [
        ("insert", "newly"), ("move", "P31 ")]


def _apply(ops, a, b):
    out = []
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        out.extend(b[j1:j2])
    return out


def test_diff_tokens_bounded_memory_path_is_exact(monkeypatch):
    import random

    from pdfcompare.engine import textdiff

    rnd = random.Random(5)
    a = [f"w{rnd.randrange(400)}" for _ in range(4000)]
    b = list(a)
    b[1000:1005] = ["X", "Y"]
    del b[3000]
    full = textdiff.diff_tokens(a, b)
    monkeypatch.setattr(textdiff, "_MAX_CELLS", 50_000)  # force the chunked path
    chunked = textdiff.diff_tokens(a, b)
    assert _apply(full, a, b) == _apply(chunked, a, b) == b
    # the chunked diff stays local: only chunks around the two edits differ
    changed = sum(i2 - i1 for tag, i1, i2, _, _ in chunked if tag != "equal")
    assert 6 <= changed < 400
    assert sum(i2 - i1 for tag, i1, i2, _, _ in full if tag != "equal") == 6
