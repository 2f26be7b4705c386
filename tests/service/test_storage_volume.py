"""Volumes: a 300-page document's pages, comparisons with thousands of changes and the region query
over them, through PgBouncer. Bulk writes are one statement each, so their time grows with the data,
not with round trips; the bounds are loose (shared 2-core CI), the figures are printed (-s) and
recorded in docs/app-storage.md."""

from __future__ import annotations

import random
import time

import pytest
from pdfcompare.engine.model import Change
from pdfcompare.storage import Database, PageText, Storage

PAGES = 300
WORDS_PER_PAGE = 400
CHANGES_PER_COMPARISON = 5000
COMPARISONS = 4


@pytest.fixture(scope="module")
def storage(service_settings):
    db = Database(service_settings)
    yield Storage(db)
    db.close()


def timed(figures: dict[str, float], name: str, action):
    started = time.perf_counter()
    result = action()
    figures[name] = time.perf_counter() - started
    return result


def page(number: int, rng: random.Random) -> PageText:
    vocabulary = ["bearing", "housing", "torque", "bolt", "weld", "tolerance", "revision", "steel",
                  "surface", "finish", "M8x1.25", "AB-1234", "drawing", "section", "detail", "scale"]
    words, lines = [], []
    for line in range(WORDS_PER_PAGE // 10):
        texts = [rng.choice(vocabulary) for _ in range(10)]
        lines.append(" ".join(texts))
        words += [[t, 72 + 40 * i, 60 + 14 * line, 108 + 40 * i, 72 + 14 * line] for i, t in enumerate(texts)]
    return PageText(number, 595.0, 842.0, "\n".join(lines), words)


def changes(rng: random.Random) -> list[Change]:
    out = []
    for i in range(CHANGES_PER_COMPARISON):
        x, y = rng.uniform(0, 550), rng.uniform(0, 800)
        box = (round(x, 2), round(y, 2), round(x + 40, 2), round(y + 12, 2))
        out.append(Change("text", "replace", 1 + i % 20, 1 + i % 20, box, box, f"old {i}", f"new {i}"))
    return out


def test_volumes(storage, make_user):
    rng = random.Random(7)
    user = make_user("volume")
    figures: dict[str, float] = {}
    pages = [page(n, rng) for n in range(1, PAGES + 1)]
    doc = storage.add_document(user, "long.pdf", b"%PDF" + rng.randbytes(2_000_000))
    timed(figures, f"save_pages: {PAGES} pages x {WORDS_PER_PAGE} words", lambda: storage.save_pages(
        user, doc.id, pages))
    hits = timed(figures, f"search over {PAGES} pages", lambda: storage.search(user, "bearing torque"))
    assert len(hits) == 20 and all("«" in h.snippet for h in hits)
    content = timed(figures, "get_document_content: 2 MB", lambda: storage.get_document_content(user, doc.id))
    assert len(content) == 2_000_004

    other = storage.add_document(user, "long-b.pdf", b"%PDF other")
    change_list = changes(rng)
    report = '{"schema": "pdfcompare.report/1"}'
    ids = []
    for n in range(COMPARISONS):
        comparison = storage.create_comparison(user, doc.id, other.id, {"n": n}, "0.1.0")
        timed(figures, f"finish_comparison: {CHANGES_PER_COMPARISON} changes",
              lambda c=comparison: storage.finish_comparison(user, c.id, report, change_list))
        ids.append(comparison.id)
    stored = timed(figures, f"get_changes: {CHANGES_PER_COMPARISON} changes",
                   lambda: storage.get_changes(user, ids[-1]))
    assert len(stored) == CHANGES_PER_COMPARISON
    total = CHANGES_PER_COMPARISON * COMPARISONS
    region = (400.0, 700.0, 590.0, 830.0)
    hits = timed(figures, f"changes_in_region over {total} changes", lambda: storage.changes_in_region(
        user, 3, region))
    expected = sum(1 for c in change_list if c.new_page == 3 and c.new_bbox[0] <= 590 and c.new_bbox[2] >= 400
                   and c.new_bbox[1] <= 830 and c.new_bbox[3] >= 700) * COMPARISONS
    assert len(hits) == min(expected, 500) and expected > 0
    assert hits[0].comparison_id == ids[-1]  # newest first

    for name, seconds in figures.items():
        print(f"{name}: {seconds * 1000:.0f} ms")
    assert figures[f"save_pages: {PAGES} pages x {WORDS_PER_PAGE} words"] < 10
    assert figures[f"finish_comparison: {CHANGES_PER_COMPARISON} changes"] < 10
    assert figures[f"changes_in_region over {total} changes"] < 2
