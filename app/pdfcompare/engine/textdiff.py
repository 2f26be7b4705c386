"""Word-level text diff over the aligned document, with moved-text detection.

The word streams of aligned page pairs are concatenated in new-document order (so text that reflows across
a page break is not a change) and diffed with ``rapidfuzz.distance.Indel.opcodes`` (bit-parallel LCS):
first over text lines, then word by word inside changed line runs that are similar enough to be edits.
Identical and moved pages split the stream into independent segments, which keeps the quadratic part
small; a diff too large for memory is first aligned over content-defined chunks.  Deleted and inserted
passages of at least ``min_move_words`` words whose texts are near-identical are then paired into moves,
as whole blocks first and paragraph by paragraph for the rest.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

from .align import _lis_fast
from .extract import Deadline
from .matching import greedy_pairs
from .model import Box, Change, Document, PageContent, PageMatch
from .options import CompareOptions

__all__ = ["diff_text", "diff_tokens"]

_DIGITS = re.compile(r"\d+")
_MAX_CELLS = 150_000_000  # ~20 MB of LCS bit matrix per diff call
_CHUNK_MASK = 15  # content-defined chunks of ~16 words for very long segments


def _chunks(tokens: list[str]) -> list[tuple[int, int]]:
    out = []
    start = 0
    for k, t in enumerate(tokens):
        if (zlib.crc32(t.encode("utf-8", "surrogatepass")) & _CHUNK_MASK) == 0 or k - start >= 64:
            out.append((start, k + 1))
            start = k + 1
    if start < len(tokens):
        out.append((start, len(tokens)))
    return out


def _span(chunks: list[tuple[int, int]], c1: int, c2: int, n: int) -> tuple[int, int]:
    if c2 > c1:
        return chunks[c1][0], chunks[c2 - 1][1]
    pos = chunks[c1][0] if c1 < len(chunks) else n
    return pos, pos


def diff_tokens(a: list[str], b: list[str], depth: int = 0) -> list[tuple[str, int, int, int, int]]:
    """Opcodes ``(tag, i1, i2, j1, j2)`` turning token list ``a`` into ``b`` (tags as in difflib).

    Memory stays bounded for any input size: long inputs are first aligned over content-defined chunks.
    """
    if not a and not b:
        return []
    from rapidfuzz.distance import Indel  # imported on first use: identical documents never need it

    if not a:
        return [("insert", 0, 0, 0, len(b))]
    if not b:
        return [("delete", 0, len(a), 0, 0)]
    # strip common prefix/suffix cheaply
    p = 0
    lim = min(len(a), len(b))
    while p < lim and a[p] == b[p]:
        p += 1
    s = 0
    while s < lim - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    ops: list[tuple[str, int, int, int, int]] = []
    if p:
        ops.append(("equal", 0, p, 0, p))
    am, bm = a[p : len(a) - s], b[p : len(b) - s]
    if am or bm:
        if len(am) * len(bm) <= _MAX_CELLS or depth > 0:
            if len(am) * len(bm) > _MAX_CELLS:  # still too big after chunking: one coarse replace
                inner = [("replace", 0, len(am), 0, len(bm))]
            else:
                inner = [(o.tag, o.src_start, o.src_end, o.dest_start, o.dest_end)
                         for o in Indel.opcodes(am, bm)]
        else:
            ca, cb = _chunks(am), _chunks(bm)
            ka = ["\x1f".join(am[x:y]) for x, y in ca]
            kb = ["\x1f".join(bm[x:y]) for x, y in cb]
            inner = []
            for tag, i1, i2, j1, j2 in diff_tokens(ka, kb, depth + 1):
                ta1, ta2 = _span(ca, i1, i2, len(am))
                tb1, tb2 = _span(cb, j1, j2, len(bm))
                if tag == "equal":
                    inner.append(("equal", ta1, ta2, tb1, tb2))
                else:
                    for t2, x1, x2, y1, y2 in diff_tokens(am[ta1:ta2], bm[tb1:tb2], depth + 1):
                        inner.append((t2, x1 + ta1, x2 + ta1, y1 + tb1, y2 + tb1))
        ops.extend((t, i1 + p, i2 + p, j1 + p, j2 + p) for t, i1, i2, j1, j2 in inner)
    if s:
        ops.append(("equal", len(a) - s, len(a), len(b) - s, len(b)))
    return ops


def _cleanup(ops: list[tuple[str, int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Merge edits separated by tiny equal runs (a stray 'the' matched inside a rewritten sentence).

    Returns the edit blocks ``(i1, i2, j1, j2)``.
    """
    blocks: list[list[int]] = []
    gap: tuple[int, int, int, int] | None = None  # last equal run after a block
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            gap = (i1, i2, j1, j2)
            continue
        if blocks and gap is not None:
            k = gap[1] - gap[0]
            last = blocks[-1]
            left = max(last[1] - last[0], last[3] - last[2])
            right = max(i2 - i1, j2 - j1)
            if k <= 2 and min(left, right) >= 2 * k + 1:
                last[1], last[3] = i2, j2
                gap = None
                continue
        if blocks and gap is None and blocks[-1][1] == i1 and blocks[-1][3] == j1:
            blocks[-1][1], blocks[-1][3] = i2, j2
        else:
            blocks.append([i1, i2, j1, j2])
        gap = None
    return [(b[0], b[1], b[2], b[3]) for b in blocks]


@dataclass(slots=True)
class _Stream:
    words: list[str]
    pages: np.ndarray  # page number per token
    lines: np.ndarray
    boxes: np.ndarray
    ocr: dict[int, bool]
    """Page number -> the page's words come from OCR."""
    frames: dict[int, tuple]
    """Page number -> transform of its points into the old page's frame (registered scans)."""
    starts: dict[int, int]
    """Page number -> stream index of the page's first word."""

    @classmethod
    def build(cls, pages: list[PageContent]) -> _Stream:
        words: list[str] = []
        for p in pages:
            words.extend(p.words)
        ocr = {p.number: p.ocr for p in pages}
        frames = {p.number: p.to_old_frame for p in pages if p.to_old_frame is not None}
        starts: dict[int, int] = {}
        pos = 0
        for p in pages:
            starts[p.number] = pos
            pos += len(p.words)
        if not words:
            return cls([], np.zeros(0, int), np.zeros(0, int), np.zeros((0, 4)), ocr, frames, starts)
        return cls(
            words,
            np.concatenate([np.full(len(p.words), p.number) for p in pages]),
            np.concatenate([p.word_lines for p in pages]),
            np.concatenate([p.word_boxes for p in pages]),
            ocr,
            frames,
            starts,
        )

    def text(self, i1: int, i2: int) -> str:
        return " ".join(self.words[i1:i2])

    def page_chunks(self, i1: int, i2: int) -> list[tuple[int, int, int]]:
        """Split ``[i1, i2)`` into runs on one page: ``(page, start, end)``."""
        if i2 <= i1:
            return []
        pg = self.pages[i1:i2]
        cuts = np.flatnonzero(np.diff(pg)) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), i2 - i1]
        return [(int(pg[s]), i1 + s, i1 + e) for s, e in zip(starts, ends, strict=True)]

    def line_spans(self) -> list[tuple[int, int]]:
        """Word index ranges of the text lines, in stream order."""
        n = len(self.words)
        if n == 0:
            return []
        key = self.pages.astype(np.int64) * 10_000_000 + self.lines
        cuts = (np.flatnonzero(np.diff(key)) + 1).tolist()
        return list(zip([0, *cuts], [*cuts, n], strict=True))

    def paragraphs(self, i1: int, i2: int) -> list[tuple[int, int]]:
        """Split ``[i1, i2)`` at paragraph (MuPDF text block) and page boundaries."""
        if i2 <= i1:
            return []
        key = self.pages[i1:i2].astype(np.int64) * 100_000 + self.lines[i1:i2] // 10000
        cuts = (np.flatnonzero(np.diff(key)) + 1).tolist()
        return [(i1 + x, i1 + y) for x, y in zip([0, *cuts], [*cuts, i2 - i1], strict=True)]

    def bbox(self, i1: int, i2: int) -> Box:
        b = self.boxes[i1:i2]
        return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))

    def line_rects(self, i1: int, i2: int) -> tuple[Box, ...]:
        rects: list[Box] = []
        cur = None
        for k in range(i1, i2):
            ln = int(self.lines[k])
            x0, y0, x1, y1 = (float(v) for v in self.boxes[k])
            if cur is not None and cur[0] == ln:
                r = cur[1]
                cur = (ln, (min(r[0], x0), min(r[1], y0), max(r[2], x1), max(r[3], y1)))
                rects[-1] = cur[1]
            else:
                cur = (ln, (x0, y0, x1, y1))
                rects.append(cur[1])
        return tuple(rects)

    def anchor(self, pos: int) -> tuple[int, Box] | None:
        """A thin box marking the position before token ``pos`` (for the other side of an insert/delete)."""
        if not self.words:
            return None
        if pos > 0:
            x0, y0, x1, y1 = (float(v) for v in self.boxes[pos - 1])
            return int(self.pages[pos - 1]), (x1, y0, x1, y1)
        x0, y0, x1, y1 = (float(v) for v in self.boxes[0])
        return int(self.pages[0]), (x0, y0, x0, y1)


@dataclass(slots=True)
class _Segment:
    old: _Stream
    new: _Stream
    old_default: int  # page used when a side has no words
    new_default: int
    new_to_old: dict[int, int]
    """New page -> its aligned old page, for the pages of the segment."""


def _segments(old: Document, new: Document, page_map: list[PageMatch], ignore_case: bool,
              tol: float) -> list[_Segment]:
    """Runs of consecutive aligned pages whose text is diffed as one stream.

    Inserted and deleted pages stay inside a run (text that reflows onto an added last page is not a
    change); identical pages and moved pages end a run.  Runs without any aligned pair are skipped: the
    page-level change already reports them.
    """
    groups: list[list[PageMatch]] = []
    cur: list[PageMatch] = []
    last_old = last_new = None

    def close() -> None:
        nonlocal cur, last_old, last_new
        if any(m.old is not None and m.new is not None for m in cur):
            groups.append(cur)
        cur, last_old, last_new = [], None, None

    for m in page_map:
        if m.status == "moved":
            close()
            groups.append([m])
            continue
        if m.old is not None and m.new is not None:
            op, np_ = old.pages[m.old - 1], new.pages[m.new - 1]
            a, b = op.words, np_.words
            if (a == b or (ignore_case and [w.lower() for w in a] == [w.lower() for w in b])
                    or same_words_in_place(op, np_, tol, ignore_case)):
                close()
                continue
        if (m.old is not None and last_old is not None and m.old != last_old + 1) or (
                m.new is not None and last_new is not None and m.new != last_new + 1):
            close()
        cur.append(m)
        last_old = m.old if m.old is not None else last_old
        last_new = m.new if m.new is not None else last_new
    close()
    segs = []
    for g in groups:
        op = [old.pages[m.old - 1] for m in g if m.old is not None]
        np_ = [new.pages[m.new - 1] for m in g if m.new is not None]
        pairs = {m.new: m.old for m in g if m.old is not None and m.new is not None}
        segs.append(_Segment(_Stream.build(op), _Stream.build(np_), op[0].number, np_[0].number, pairs))
    return segs


def _emit_move(changes: list[Change], so: _Stream, a1: int, a2: int, sn: _Stream, b1: int, b2: int) -> None:
    oc = so.page_chunks(a1, a2)
    nc = sn.page_chunks(b1, b2)
    for k in range(max(len(oc), len(nc))):
        po, x1, x2 = oc[min(k, len(oc) - 1)]
        pn, y1, y2 = nc[min(k, len(nc) - 1)]
        changes.append(Change("text", "move", po, pn, so.bbox(x1, x2), sn.bbox(y1, y2), so.text(x1, x2),
                              sn.text(y1, y2), so.line_rects(x1, x2), sn.line_rects(y1, y2)))


def _emit(changes: list[Change], so: _Stream, i1: int, i2: int, sn: _Stream, j1: int, j2: int,
          old_default: int, new_default: int) -> None:
    """Changes for old words ``[i1, i2)`` becoming new words ``[j1, j2)``, one per page run."""
    oc = so.page_chunks(i1, i2)
    nc = sn.page_chunks(j1, j2)
    for x in range(max(len(oc), len(nc))):
        if x < len(oc) and x < len(nc):
            po, a1, a2 = oc[x]
            pn, b1, b2 = nc[x]
            changes.append(Change("text", "replace", po, pn, so.bbox(a1, a2), sn.bbox(b1, b2),
                                  so.text(a1, a2), sn.text(b1, b2), so.line_rects(a1, a2),
                                  sn.line_rects(b1, b2)))
        elif x < len(oc):
            po, a1, a2 = oc[x]
            anc = sn.anchor(j1)
            pn, nb = anc if anc else (new_default, None)
            changes.append(Change("text", "delete", po, pn, so.bbox(a1, a2), nb, so.text(a1, a2), None,
                                  so.line_rects(a1, a2), ()))
        else:
            pn, b1, b2 = nc[x]
            anc = so.anchor(i1)
            po, ob = anc if anc else (old_default, None)
            changes.append(Change("text", "insert", po, pn, ob, sn.bbox(b1, b2), None, sn.text(b1, b2),
                                  (), sn.line_rects(b1, b2)))


_REFINE_SIMILARITY = 0.6


def _anchored_line_diff(
    ka: list[str], kb: list[str], anchors: list[tuple[int, int]]
) -> list[tuple[str, int, int, int, int]]:
    """Line opcodes with ``anchors`` (pairs of line indices, increasing on both sides) forced to pair up
    (``equal`` when their texts are, else ``pair``: the same line with other numbers) and the gaps between
    them diffed separately."""
    if not anchors:
        return diff_tokens(ka, kb)
    ops: list[tuple[str, int, int, int, int]] = []
    pi = pj = 0
    for ai, aj in [*anchors, (len(ka), len(kb))]:
        for tag, i1, i2, j1, j2 in diff_tokens(ka[pi:ai], kb[pj:aj]):
            ops.append((tag, i1 + pi, i2 + pi, j1 + pj, j2 + pj))
        if ai < len(ka):
            ops.append(("equal" if ka[ai] == kb[aj] else "pair", ai, ai + 1, aj, aj + 1))
        pi, pj = ai + 1, aj + 1
    return ops


def _in_place_lines(seg: _Segment, lines_a: list[tuple[int, int]], lines_b: list[tuple[int, int]],
                    tol: float, fold) -> list[tuple[int, int]]:
    """Pairs of text lines at the same place of corresponding pages whose texts are equal up to their
    numbers, as an order-preserving chain (the longest one): such a line is the same line (unchanged, or
    with another number), whatever the reading order says."""
    so, sn = seg.old, seg.new
    if not lines_a or not lines_b:
        return []
    by_key: dict[tuple[int, str], list[int]] = {}
    for k, (x, y) in enumerate(lines_a):
        by_key.setdefault((int(so.pages[x]), _DIGITS.sub("#", fold(so.text(x, y)))), []).append(k)
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    for k, (x, y) in enumerate(lines_b):
        opage = seg.new_to_old.get(int(sn.pages[x]))
        cands = by_key.get((opage, _DIGITS.sub("#", fold(sn.text(x, y))))) if opage is not None else None
        if not cands:
            continue
        nb = _in_old_frame(sn.bbox(x, y), sn.frames.get(int(sn.pages[x])))
        ocr = bool(sn.ocr.get(int(sn.pages[x])) or so.ocr.get(opage))
        for c in cands:
            if c in used:
                continue
            ob = np.asarray(so.bbox(*lines_a[c]))
            if float(np.abs(ob - nb).max()) <= _position_tolerance(ob, nb, ocr, tol):
                used.add(c)
                pairs.append((c, k))
                break
    pairs.sort()
    return _lis_fast(pairs)


def _two_level_diff(
    a: list[str], b: list[str], lines_a: list[tuple[int, int]], lines_b: list[tuple[int, int]],
    anchors: list[tuple[int, int]] | None = None,
) -> list[tuple[int, int, int, int]]:
    """Edit blocks ``(i1, i2, j1, j2)`` over word indices: lines first, then words inside changed lines.

    Changed line runs are refined word by word only when old and new are similar (an edited passage);
    dissimilar runs stay whole blocks, so a passage that moved is not shredded into coincidental matches
    of common words and can be paired as a move.
    """
    ka = ["\x1f".join(a[x:y]) for x, y in lines_a]
    kb = ["\x1f".join(b[x:y]) for x, y in lines_b]
    blocks: list[tuple[int, int, int, int]] = []
    runs: list[list[int]] = []  # adjacent delete/insert/replace line ops form one run
    prev_equal = True
    for tag, i1, i2, j1, j2 in _anchored_line_diff(ka, kb, anchors or []):
        if tag == "equal":
            prev_equal = True
            continue
        if tag == "pair":  # a line that stayed in place with other numbers: a run of its own
            runs.append([i1, i2, j1, j2])
            prev_equal = True
            continue
        if runs and not prev_equal:
            runs[-1][1], runs[-1][3] = i2, j2
        else:
            runs.append([i1, i2, j1, j2])
        prev_equal = False
    for i1, i2, j1, j2 in runs:
        wa1 = lines_a[i1][0] if i1 < len(lines_a) else len(a)
        wa2 = lines_a[i2 - 1][1] if i2 > i1 else wa1
        wb1 = lines_b[j1][0] if j1 < len(lines_b) else len(b)
        wb2 = lines_b[j2 - 1][1] if j2 > j1 else wb1
        if wa2 > wa1 and wb2 > wb1:
            ta, tb = a[wa1:wa2], b[wb1:wb2]
            short = min(len(ta), len(tb))
            if short <= 5 or len(ta) * len(tb) > _MAX_CELLS:
                refine = True
            else:  # share of the shorter side found in the longer one, in order
                from rapidfuzz.distance import Indel

                lcs = (len(ta) + len(tb) - Indel.distance(ta, tb)) / 2
                refine = lcs >= _REFINE_SIMILARITY * short
            if refine:
                for x1, x2, y1, y2 in _cleanup(diff_tokens(ta, tb)):
                    blocks.append((wa1 + x1, wa1 + x2, wb1 + y1, wb1 + y2))
                continue
        blocks.append((wa1, wa2, wb1, wb2))
    return blocks


def _residual(start: int, end: int, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Parts of ``[start, end)`` not covered by the ``taken`` ranges."""
    out = []
    pos = start
    for x, y in sorted(taken):
        if x > pos:
            out.append((pos, x))
        pos = max(pos, y)
    if pos < end:
        out.append((pos, end))
    return out


def fold_fn(options: CompareOptions):
    """The word normalisation of a comparison (lower case with ``ignore_case``)."""
    return (lambda t: t.lower()) if options.ignore_case else (lambda t: t)


def _in_old_frame(box, frame: tuple | None) -> np.ndarray:
    """``box`` of a new page expressed in its old counterpart's coordinates (registered scans)."""
    if frame is None:
        return np.asarray(box, dtype=np.float64)
    from .raster import map_box

    return np.asarray(map_box(frame, tuple(float(v) for v in box)), dtype=np.float64)


def _position_tolerance(box_a: np.ndarray, box_b: np.ndarray, ocr: bool, tol: float) -> float:
    if not ocr:
        return tol
    # OCR boxes of the same word jitter with the scan: allow half a line height
    return max(tol, 0.5 * max(box_a[3] - box_a[1], box_b[3] - box_b[1]))


def _cancel_in_place(
    segs: list[_Segment], blocks: list[tuple[int, int, int, int, int]], options: CompareOptions, fold,
    matched: list[tuple[int, int, int]] | None = None,
) -> list[tuple[int, int, int, int, int]]:
    """Remove from the edit blocks every deleted word that reappears as an inserted word with the same
    text at the same place (within ``text_position_tolerance``) of the corresponding page.

    Another PDF writer may emit the same page's text in another order (table cells row by row or column
    by column, columns swapped, content streams reordered): the reading-order diff then sees deletions
    and insertions of words that never left their place.  Reading order alone is never a change.
    """
    tol = options.text_position_tolerance
    # candidates per (segment, old page, text): deleted old word indices
    deleted: dict[tuple[int, int, str], list[int]] = {}
    for si, i1, i2, _j1, _j2 in blocks:
        so = segs[si].old
        for i in range(i1, i2):
            deleted.setdefault((si, int(so.pages[i]), fold(so.words[i])), []).append(i)
    if not deleted:
        return blocks
    gone_old: set[tuple[int, int]] = set()
    gone_new: set[tuple[int, int]] = set()
    for si, _i1, _i2, j1, j2 in blocks:
        seg = segs[si]
        sn, so = seg.new, seg.old
        for j in range(j1, j2):
            npage = int(sn.pages[j])
            opage = seg.new_to_old.get(npage)
            cands = deleted.get((si, opage, fold(sn.words[j]))) if opage is not None else None
            if not cands:
                continue
            bj = _in_old_frame(sn.boxes[j], sn.frames.get(npage))
            best, best_d = None, None
            for i in cands:
                if (si, i) in gone_old:
                    continue
                bi = so.boxes[i]
                lim = _position_tolerance(bi, bj, bool(so.ocr.get(opage) or sn.ocr.get(npage)), tol)
                d = float(np.abs(bi - bj).max())
                if d <= lim and (best_d is None or d < best_d):
                    best, best_d = i, d
            if best is not None:
                gone_old.add((si, best))
                gone_new.add((si, j))
                if matched is not None:
                    matched.append((si, best, j))
    if not gone_old:
        return blocks
    out: list[tuple[int, int, int, int, int]] = []
    for si, i1, i2, j1, j2 in blocks:
        old_runs = _runs([i for i in range(i1, i2) if (si, i) not in gone_old])
        new_runs = _runs([j for j in range(j1, j2) if (si, j) not in gone_new])
        if len(old_runs) == len(new_runs):
            out.extend((si, a1, a2, b1, b2) for (a1, a2), (b1, b2) in zip(old_runs, new_runs, strict=True))
        else:
            out.extend((si, a1, a2, j1, j1) for a1, a2 in old_runs)
            out.extend((si, i1, i1, b1, b2) for b1, b2 in new_runs)
    return _pair_in_place(segs, out)


def _pair_in_place(segs: list[_Segment], blocks: list[tuple[int, int, int, int, int]]
                   ) -> list[tuple[int, int, int, int, int]]:
    """Join a deleted and an inserted run that occupy the same place of corresponding pages into one
    replacement (reading order had put the old and the new wording of a table cell apart)."""
    dels = [k for k, b in enumerate(blocks) if b[2] > b[1] and b[4] == b[3]]
    ins = [k for k, b in enumerate(blocks) if b[4] > b[3] and b[2] == b[1]]
    if not dels or not ins:
        return blocks
    joined: dict[int, tuple[int, int, int, int, int]] = {}
    drop: set[int] = set()
    for kd in dels:
        si, i1, i2, _, _ = blocks[kd]
        seg = segs[si]
        po = int(seg.old.pages[i1])
        if int(seg.old.pages[i2 - 1]) != po:
            continue
        ob = np.asarray(seg.old.bbox(i1, i2))
        for ki in ins:
            sj, _, _, j1, j2 = blocks[ki]
            if ki in drop or sj != si:
                continue
            pn = int(seg.new.pages[j1])
            if int(seg.new.pages[j2 - 1]) != pn or seg.new_to_old.get(pn) != po:
                continue
            nb = _in_old_frame(seg.new.bbox(j1, j2), seg.new.frames.get(pn))
            ix = min(ob[2], nb[2]) - max(ob[0], nb[0])
            iy = min(ob[3], nb[3]) - max(ob[1], nb[1])
            if ix > 0 and iy > 0.5 * min(ob[3] - ob[1], nb[3] - nb[1]):
                joined[kd] = (si, i1, i2, j1, j2)
                drop.add(ki)
                break
    return [joined.get(k, b) for k, b in enumerate(blocks) if k not in drop]


def same_words_in_place(old: PageContent, new: PageContent, tol: float, ignore_case: bool = False) -> bool:
    """True when both pages hold the same words at the same places (within ``tol`` points; half a line
    height for OCR words), in whatever order they are written."""
    if len(old.words) != len(new.words) or not old.words:
        return False
    return len(pairs_in_place(old, new, tol, ignore_case, stop_early=True)) == len(new.words)


def pairs_in_place(old: PageContent, new: PageContent, tol: float, ignore_case: bool = False,
                   stop_early: bool = False) -> list[tuple[int, int]]:
    """Pairs ``(old word, new word)`` of equal words at the same place of two pages (registered scans
    through ``new.to_old_frame``); with ``stop_early`` the search ends at the first new word without one."""
    fold = str.lower if ignore_case else str
    by_text: dict[str, list[int]] = {}
    for i, w in enumerate(old.words):
        by_text.setdefault(fold(w), []).append(i)
    ocr = old.ocr or new.ocr
    used: set[int] = set()
    ob = old.word_boxes
    nb = new.word_boxes if new.to_old_frame is None else np.array(
        [_in_old_frame(b, new.to_old_frame) for b in new.word_boxes]).reshape(-1, 4)
    out: list[tuple[int, int]] = []
    for j, w in enumerate(new.words):
        hit = None
        for i in by_text.get(fold(w), ()):
            if i not in used and float(np.abs(ob[i] - nb[j]).max()) <= _position_tolerance(ob[i], nb[j], ocr,
                                                                                               tol):
                hit = i
                break
        if hit is None:
            if stop_early:
                return out
            continue
        used.add(hit)
        out.append((hit, j))
    return out


def _runs(idx: list[int]) -> list[tuple[int, int]]:
    """Contiguous ranges ``[start, end)`` of sorted indices."""
    runs: list[tuple[int, int]] = []
    for k in idx:
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1)
        else:
            runs.append((k, k + 1))
    return runs


def _add_pair(seg: _Segment, i: int, j: int, out: dict[tuple[int, int], list[tuple[int, int]]]) -> None:
    po, pn = int(seg.old.pages[i]), int(seg.new.pages[j])
    bucket = out.get((po, pn))
    if bucket is not None:
        bucket.append((i - seg.old.starts[po], j - seg.new.starts[pn]))


def _collect_equal(segs: list[_Segment], blocks: list[tuple[int, int, int, int, int]],
                   out: dict[tuple[int, int], list[tuple[int, int]]]) -> None:
    """Add to ``out[(old page, new page)]`` (only for the keys present) the word index pairs (within
    their pages) that the diff found equal: everything between the edit blocks."""
    by_seg: dict[int, list[tuple[int, int, int, int]]] = {}
    for si, i1, i2, j1, j2 in blocks:
        by_seg.setdefault(si, []).append((i1, i2, j1, j2))
    for si, seg in enumerate(segs):
        i = j = 0
        for i1, i2, j1, j2 in [*sorted(by_seg.get(si, [])), (len(seg.old.words), 0, len(seg.new.words), 0)]:
            for k in range(min(i1 - i, j1 - j)):
                _add_pair(seg, i + k, j + k, out)
            i, j = max(i, i2), max(j, j2)


def diff_text(
    old: Document, new: Document, page_map: list[PageMatch], options: CompareOptions, deadline: Deadline,
    equal_pairs: dict[tuple[int, int], list[tuple[int, int]]] | None = None,
) -> list[Change]:
    """Text changes (insert/delete/replace/move) between the aligned pages of two documents.

    ``equal_pairs``, when given, maps page pairs ``(old page, new page)`` to a list that receives the
    word index pairs (within the pages) the diff found equal."""
    segs = _segments(old, new, page_map, options.ignore_case, options.text_position_tolerance)
    # blocks: (segment index, i1, i2, j1, j2)
    blocks: list[tuple[int, int, int, int, int]] = []
    for si, seg in enumerate(segs):
        deadline.check()
        a, b = seg.old.words, seg.new.words
        if options.ignore_case:
            a, b = [w.lower() for w in a], [w.lower() for w in b]
        lines_a, lines_b = seg.old.line_spans(), seg.new.line_spans()
        anchors = _in_place_lines(seg, lines_a, lines_b, options.text_position_tolerance, fold_fn(options))
        for i1, i2, j1, j2 in _two_level_diff(a, b, lines_a, lines_b, anchors):
            blocks.append((si, i1, i2, j1, j2))

    if equal_pairs is not None:  # words the diff found equal, for the style comparison
        _collect_equal(segs, blocks, equal_pairs)
    # --- words found at the same place on both pages are no change, whatever their reading order
    matched: list[tuple[int, int, int]] = []
    blocks = _cancel_in_place(segs, blocks, options, fold_fn(options), matched)
    if equal_pairs is not None:
        for si, i, j in matched:
            _add_pair(segs[si], i, j, equal_pairs)

    # --- moves: pair deleted passages with inserted passages of other blocks; first whole block sides,
    # then the paragraphs of what is left (two reordered paragraphs form one block side of each kind)
    min_w = options.min_move_words
    fold = fold_fn(options)
    # consumed[k] = (old ranges, new ranges) of block k taken by moves
    consumed: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    moves: list[tuple[int, int, int, int, int, int]] = []  # (old block, a1, a2, new block, b1, b2)

    from rapidfuzz import fuzz, process

    gone_pages = {m.old for m in page_map if m.status == "deleted"}
    new_pages = {m.new for m in page_map if m.status == "inserted"}

    def pair(dparts: list[tuple[int, int, int]], iparts: list[tuple[int, int, int]], same_ok: bool) -> None:
        # words of a deleted or inserted page are reported by the page change: never one side of a move
        dparts = [p for p in dparts if p[2] - p[1] >= min_w
                  and int(segs[blocks[p[0]][0]].old.pages[p[1]]) not in gone_pages]
        iparts = [p for p in iparts if p[2] - p[1] >= min_w
                  and int(segs[blocks[p[0]][0]].new.pages[p[1]]) not in new_pages]
        if not dparts or not iparts:
            return
        dt = [fold(segs[blocks[k][0]].old.text(x, y)) for k, x, y in dparts]
        it = [fold(segs[blocks[k][0]].new.text(x, y)) for k, x, y in iparts]
        sim = process.cdist(dt, it, scorer=fuzz.ratio, score_cutoff=options.move_similarity, workers=1,
                            dtype=np.float32)
        cand = [(float(sim[x, y]), x, y) for x, y in zip(*np.nonzero(sim), strict=True)
                if same_ok or dparts[x][0] != iparts[y][0]]
        cand.sort(key=lambda t: (-t[0], t[1], t[2]))
        for x, y, _ in greedy_pairs((x, y, sim) for sim, x, y in cand):
            (kd, a1, a2), (ki, b1, b2) = dparts[x], iparts[y]
            moves.append((kd, a1, a2, ki, b1, b2))
            consumed.setdefault(kd, ([], []))[0].append((a1, a2))
            consumed.setdefault(ki, ([], []))[1].append((b1, b2))

    pair([(k, b[1], b[2]) for k, b in enumerate(blocks)], [(k, b[3], b[4]) for k, b in enumerate(blocks)],
         same_ok=False)
    rest_d = [(k, x, y) for k, b in enumerate(blocks) if k not in consumed or not consumed[k][0]
              for x, y in segs[b[0]].old.paragraphs(b[1], b[2])]
    rest_i = [(k, x, y) for k, b in enumerate(blocks) if k not in consumed or not consumed[k][1]
              for x, y in segs[b[0]].new.paragraphs(b[3], b[4])]
    if len(rest_d) + len(rest_i) > 2:
        pair(rest_d, rest_i, same_ok=True)

    changes: list[Change] = []
    for kd, a1, a2, ki, b1, b2 in moves:
        sd, si_ = segs[blocks[kd][0]], segs[blocks[ki][0]]
        so, sn = sd.old, si_.new
        ta, tb = [fold(w) for w in so.words[a1:a2]], [fold(w) for w in sn.words[b1:b2]]
        inner = diff_tokens(ta, tb)
        equal = [op for op in inner if op[0] == "equal"]
        first, last = equal[0], equal[-1]
        _emit_move(changes, so, a1 + first[1], a1 + last[2], sn, b1 + first[3], b1 + last[4])
        # words added, dropped or edited around and inside the moved passage
        for x1, x2, y1, y2 in _cleanup(inner):
            _emit(changes, so, a1 + x1, a1 + x2, sn, b1 + y1, b1 + y2, sd.old_default, si_.new_default)
    for k, (si, i1, i2, j1, j2) in enumerate(blocks):
        seg = segs[si]
        if k not in consumed:
            _emit(changes, seg.old, i1, i2, seg.new, j1, j2, seg.old_default, seg.new_default)
            continue
        old_runs = _residual(i1, i2, consumed[k][0])
        new_runs = _residual(j1, j2, consumed[k][1])
        if len(old_runs) == 1 and len(new_runs) == 1:
            (x1, x2), (y1, y2) = old_runs[0], new_runs[0]
            _emit(changes, seg.old, x1, x2, seg.new, y1, y2, seg.old_default, seg.new_default)
            continue
        for x1, x2 in old_runs:
            _emit(changes, seg.old, x1, x2, seg.new, j1, j1, seg.old_default, seg.new_default)
        for y1, y2 in new_runs:
            _emit(changes, seg.old, i1, i1, seg.new, y1, y2, seg.old_default, seg.new_default)
    # words on inserted or deleted pages are reported by the page change itself
    inserted = {m.new for m in page_map if m.status == "inserted"}
    deleted = {m.old for m in page_map if m.status == "deleted"}
    pairs = {(m.old, m.new) for m in page_map if m.old is not None and m.new is not None}
    tol = options.text_position_tolerance

    def in_place(c: Change) -> bool:  # identical text that did not leave its place: no move
        if not (c.op == "move" and (c.old_page, c.new_page) in pairs and c.old_text is not None
                and fold(c.old_text) == fold(c.new_text or "")):
            return False
        nb = _in_old_frame(c.new_bbox, new.pages[c.new_page - 1].to_old_frame)
        ob = np.asarray(c.old_bbox)
        lim = _position_tolerance(ob, nb, new.pages[c.new_page - 1].ocr, tol)
        return float(np.abs(ob - nb).max()) <= lim

    return [c for c in changes if not ((c.op == "insert" and c.new_page in inserted)
                                       or (c.op == "delete" and c.old_page in deleted) or in_place(c))]
