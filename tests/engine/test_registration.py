"""Scanned drawings whose new scan lies askew and shifted: registration first, then the diff (issue 12,
class 3).  Every planted change must come back as exactly one raster change whose box covers it on both
pages, in page coordinates, and an unchanged rescan must give none."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from pdfcompare.engine import CompareOptions, compare
from pdfcompare.engine.raster import register
from pdfgen import Sheet, scan_pdf

DPI = 150
NO_OCR = CompareOptions(ocr="off")
BASE = Sheet()
# planted changes (box of the change on the old/new sheet, points): a part added, a dimension changed,
# the revision letter in the title block changed
ADDED_PART = (640, 120, 740, 200)
CHANGED = replace(BASE, extra_parts=(ADDED_PART,), dims=(((130, 95), "160"), ((330, 95), "125"),
                                                         ((130, 355), "180")), revision="B")
PLANTED = [ADDED_PART, (336, 88, 347, 96), (622, 549, 632, 561)]  # the part, "00" -> "25", "A" -> "B"


def _new_position(box, angle: float, shift: tuple[float, float], size=(842, 595)):
    """Where a box of the sheet lands on the scan made by ``scan_pdf(angle=..., shift=...)`` (points)."""
    z = DPI / 72
    cx, cy = (size[0] * z - 1) / 2, (size[1] * z - 1) / 2
    t = math.radians(angle)
    pts = []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        px, py = x * z - cx, y * z - cy
        # pdfgen._warp samples (y, x) input = R (out - c - shift) + c, so out = R^T (in - c) + c + shift
        ox = math.cos(t) * px - math.sin(t) * py + cx + shift[0]
        oy = math.sin(t) * px + math.cos(t) * py + cy + shift[1]
        pts.append((ox / z, oy / z))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))


def _covers(found, planted, slack: float = 4.0) -> bool:
    """``found`` contains the planted box (within ``slack``) and is not much larger than it."""
    inside = (found[0] <= planted[0] + slack and found[1] <= planted[1] + slack
              and found[2] >= planted[2] - slack and found[3] >= planted[3] - slack)
    tight = (planted[0] - found[0] < 25 and planted[1] - found[1] < 25 and found[2] - planted[2] < 25
             and found[3] - planted[3] < 25)
    return inside and tight


CASES = [(0.0, (0, 0)), (0.3, (6, -4)), (-0.7, (12, 9)), (1.5, (-20, 15)), (-2.0, (20, -20)), (2.0, (0, 20))]


@pytest.mark.parametrize(("angle", "shift"), CASES)
def test_unchanged_rescan_askew_has_no_changes(angle, shift):
    old = scan_pdf(BASE.pdf(), dpi=DPI, noise=80, seed=1)
    new = scan_pdf(BASE.pdf(), dpi=DPI, noise=80, seed=2, angle=angle, shift=shift)
    report = compare(old, new, NO_OCR)
    assert report.changes == [] and report.warnings == []


@pytest.mark.parametrize(("angle", "shift"), CASES)
def test_each_planted_change_is_one_region_with_its_box_on_both_pages(angle, shift):
    old = scan_pdf(BASE.pdf(), dpi=DPI, noise=80, seed=1)
    new = scan_pdf(CHANGED.pdf(), dpi=DPI, noise=80, seed=3, angle=angle, shift=shift)
    report = compare(old, new, NO_OCR)
    assert [(c.kind, c.old_page, c.new_page) for c in report.changes] == [("raster", 1, 1)] * 3
    for planted in PLANTED:
        hits = [c for c in report.changes if _covers(c.old_bbox, planted)]
        assert len(hits) == 1, (planted, [c.old_bbox for c in report.changes])
        assert _covers(hits[0].new_bbox, _new_position(planted, angle, shift), slack=5.0), (
            planted, hits[0].new_bbox, _new_position(planted, angle, shift))
    added = next(c for c in report.changes if _covers(c.old_bbox, ADDED_PART))
    assert added.op == "insert"


def test_registration_recovers_angle_and_shift():
    import pymupdf
    from pdfcompare.engine.raster import render_ink

    old = pymupdf.open(stream=scan_pdf(BASE.pdf(), dpi=DPI), filetype="pdf")[0]
    new = pymupdf.open(stream=scan_pdf(BASE.pdf(), dpi=DPI, angle=1.2, shift=(15, -10)), filetype="pdf")[0]
    z = DPI / 72
    reg = register(render_ink(old, z), render_ink(new, z))
    assert abs(reg.angle - 1.2) < 0.05
    assert abs(reg.scale - 1) < 0.002
    # the centre of the sheet moves by the shift only
    m = np.array(reg.matrix).reshape(2, 3)
    c = np.array([842 * z / 2, 595 * z / 2])
    moved = m[:, :2] @ c + m[:, 2] - c
    assert np.allclose(moved, (15, -10), atol=1.5)


def test_beyond_three_degrees_is_compared_as_it_lies_with_a_warning():
    old = scan_pdf(BASE.pdf(), dpi=DPI)
    new = scan_pdf(BASE.pdf(), dpi=DPI, angle=5.0)
    report = compare(old, new, NO_OCR)
    assert report.changes  # the sheet really lies differently
    assert len(report.warnings) == 1 and "askew" in report.warnings[0]
