"""Style-only changes: the same words in another font, weight, slant, size or colour.

Only page pairs whose stored content streams differ (``PageContent.style_key``) are looked at.  For them
the text spans are read (``TextPage.extractDICT``) and every word gets the style of the span under its
centre.  Words the text diff found equal (same word, same place in the reading order) are compared:
a word whose font family, weight (bold), slant (italic), size (more than ``style_size_tolerance``) or
colour changed is a style change; neighbouring words with the same change form one change
(``kind: "text"``, ``op: "replace"``, ``old_text == new_text``, plus a ``style`` object).  Font names are
compared without their subset prefix (``ABCDEF+``), so a file re-saved with re-subset fonts has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pymupdf

from .model import Box, Change, PageContent
from .options import CompareOptions

__all__ = ["Style", "word_styles", "diff_styles"]

_SUBSET = re.compile(r"^[A-Z]{6}\+")
_SUFFIX = re.compile(r"[-, ]?(bold|italic|oblique|regular|roman|book|medium|semibold|demibold|black|heavy"
                     r"|mt|ps|it|bd|bdit)+$", re.IGNORECASE)
_BOLD = re.compile(r"bold|black|heavy|semibold|demibold", re.IGNORECASE)
_ITALIC = re.compile(r"italic|oblique", re.IGNORECASE)
# One family name for MuPDF's short names of the base-14 fonts and for their metric-compatible
# substitutes, which PDF writers and converters swap freely (a re-render through Cairo or Ghostscript
# embeds Liberation or Nimbus fonts for a non-embedded Helvetica): not a style change.
_FAMILY = {
    **dict.fromkeys(("helv", "hebo", "heit", "hebi", "helvetica", "arial", "arialmt", "liberationsans",
                     "nimbussans", "nimbussansl", "nimbussansnarrow", "freesans", "arimo"), "Helvetica"),
    **dict.fromkeys(("tiro", "tibo", "tiit", "tibi", "times", "timesnewroman", "timesnewromanps",
                     "liberationserif", "nimbusroman", "nimbusromno9l", "nimbusromanno9l", "freeserif",
                     "tinos"), "Times"),
    **dict.fromkeys(("cour", "cobo", "coit", "cobi", "courier", "couriernew", "couriernewps",
                     "liberationmono", "nimbusmono", "nimbusmonol", "nimbusmonops", "freemono", "cousine"),
                    "Courier"),
}


@dataclass(frozen=True, slots=True)
class Style:
    """The look of a word."""

    font: str
    """Font family (subset prefix and weight/slant suffixes removed)."""
    size: float
    bold: bool
    italic: bool
    color: int
    """sRGB as 0xRRGGBB."""

    def as_dict(self) -> dict:
        return {"font": self.font, "size": round(self.size, 2), "bold": self.bold, "italic": self.italic,
                "color": f"#{self.color:06x}"}


def _style_of(span: dict) -> Style:
    name = _SUBSET.sub("", span.get("font", ""))
    flags = int(span.get("flags", 0))
    family = _SUFFIX.sub("", name) or name
    family = _FAMILY.get(re.sub(r"[-_ ]", "", family.lower()), family)
    return Style(family, float(span.get("size", 0.0)), bool(flags & 16) or bool(_BOLD.search(name)),
                 bool(flags & 2) or bool(_ITALIC.search(name)), int(span.get("color", 0)) & 0xFFFFFF)


def word_styles(page: pymupdf.Page, content: PageContent) -> list[Style | None]:
    """The style of every word of ``content`` (the span under the word's centre), None where unknown."""
    if not content.words:
        return []
    tp = page.get_textpage(flags=pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP)
    spans = [sp for b in tp.extractDICT()["blocks"] for ln in b.get("lines", ()) for sp in ln["spans"]
             if sp.get("text", "").strip()]
    if not spans:
        return [None] * len(content.words)
    sb = np.array([sp["bbox"] for sp in spans], dtype=np.float64)  # the same coordinates as the words
    styles = [_style_of(sp) for sp in spans]
    wb = content.word_boxes
    cx = (wb[:, 0] + wb[:, 2]) / 2
    cy = (wb[:, 1] + wb[:, 3]) / 2
    inside = ((sb[None, :, 0] <= cx[:, None]) & (cx[:, None] <= sb[None, :, 2])
              & (sb[None, :, 1] <= cy[:, None]) & (cy[:, None] <= sb[None, :, 3]))
    out: list[Style | None] = []
    for k in range(len(content.words)):
        hits = np.flatnonzero(inside[k])
        out.append(styles[int(hits[0])] if len(hits) else None)
    return out


def _changed(a: Style, b: Style, options: CompareOptions) -> list[str]:
    out = []
    if a.font.lower() != b.font.lower():
        out.append("font")
    if abs(a.size - b.size) > options.style_size_tolerance:
        out.append("size")
    if a.bold != b.bold:
        out.append("bold")
    if a.italic != b.italic:
        out.append("italic")
    ca = ((a.color >> 16) & 255, (a.color >> 8) & 255, a.color & 255)
    cb = ((b.color >> 16) & 255, (b.color >> 8) & 255, b.color & 255)
    if max(abs(x - y) for x, y in zip(ca, cb, strict=True)) > 24:  # colour-space round trips
        out.append("color")
    return out


def _union(boxes: list) -> Box:
    a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max()))


def diff_styles(
    old: PageContent, new: PageContent, old_page: pymupdf.Page, new_page: pymupdf.Page,
    pairs: list[tuple[int, int]], options: CompareOptions,
) -> list[Change]:
    """Style changes between equal words ``pairs`` (old word index, new word index) of two pages."""
    if not pairs:
        return []
    so, sn = word_styles(old_page, old), word_styles(new_page, new)
    runs: list[tuple[list[int], list[int], Style, Style, list[str]]] = []
    last: tuple[int, int] | None = None
    for i, j in pairs:
        a, b = so[i], sn[j]
        if a is None or b is None:
            last = None
            continue
        what = _changed(a, b, options)
        if not what:
            last = None
            continue
        run = runs[-1] if runs else None
        if (run is not None and last == (i - 1, j - 1) and run[2] == a and run[3] == b
                and old.word_lines[i] // 10000 == old.word_lines[i - 1] // 10000):
            run[0].append(i)
            run[1].append(j)
        else:
            runs.append(([i], [j], a, b, what))
        last = (i, j)
    changes = []
    for ii, jj, a, b, what in runs:
        old_text = " ".join(old.words[i] for i in ii)
        new_text = " ".join(new.words[j] for j in jj)
        changes.append(Change(
            "text", "replace", old.number, new.number, _union([old.word_boxes[i] for i in ii]),
            _union([new.word_boxes[j] for j in jj]), old_text, new_text,
            style={"changed": what, "old": a.as_dict(), "new": b.as_dict()}))
    return changes
