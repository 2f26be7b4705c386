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

import zlib
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

from .extract import Deadline
from .matching import greedy_pairs
from .model import Box, Change, Document, PageContent, PageMatch
from .options import CompareOptions

__all__ = ["diff_text", "diff_tokens"]

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

    @classmethod
    def build(cls, pages: list[PageContent]) -> _Stream:
        words: list[str] = []
        for p in pages:
            words.extend(p.words)
        if not words:
            return cls([], np.zeros(0, int), np.zeros(0, int), np.zeros((0, 4)))
        return cls(
            words,
            np.concatenate([np.full(len(p.words), p.number) for p in pages]),
            np.concatenate([p.word_lines for p in pages]),
            np.concatenate([p.word_boxes for p in pages]),
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


def _segments(old: Document, new: Document, page_map: list[PageMatch], ignore_case: bool) -> list[_Segment]:
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
            a, b = old.pages[m.old - 1].words, new.pages[m.new - 1].words
            if a == b or (ignore_case and [w.lower() for w in a] == [w.lower() for w in b]):
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
        segs.append(_Segment(_Stream.build(op), _Stream.build(np_), op[0].number, np_[0].number))
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


def _two_level_diff(
    a: list[str], b: list[str], lines_a: list[tuple[int, int]], lines_b: list[tuple[int, int]]
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
    for tag, i1, i2, j1, j2 in diff_tokens(ka, kb):
        if tag == "equal":
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


def diff_text(
    old: Document, new: Document, page_map: list[PageMatch], options: CompareOptions, deadline: Deadline
) -> list[Change]:
    """Text changes (insert/delete/replace/move) between the aligned pages of two documents."""
    segs = _segments(old, new, page_map, options.ignore_case)
    # blocks: (segment index, i1, i2, j1, j2)
    blocks: list[tuple[int, int, int, int, int]] = []
    for si, seg in enumerate(segs):
        deadline.check()
        a, b = seg.old.words, seg.new.words
        if options.ignore_case:
            a, b = [w.lower() for w in a], [w.lower() for w in b]
        for i1, i2, j1, j2 in _two_level_diff(a, b, seg.old.line_spans(), seg.new.line_spans()):
            blocks.append((si, i1, i2, j1, j2))

    # --- moves: pair deleted passages with inserted passages of other blocks; first whole block sides,
    # then the paragraphs of what is left (two reordered paragraphs form one block side of each kind)
    min_w = options.min_move_words
    fold = (lambda t: t.lower()) if options.ignore_case else (lambda t: t)
    # consumed[k] = (old ranges, new ranges) of block k taken by moves
    consumed: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
    moves: list[tuple[int, int, int, int, int, int]] = []  # (old block, a1, a2, new block, b1, b2)

    def pair(dparts: list[tuple[int, int, int]], iparts: list[tuple[int, int, int]], same_ok: bool) -> None:
        dparts = [p for p in dparts if p[2] - p[1] >= min_w]
        iparts = [p for p in iparts if p[2] - p[1] >= min_w]
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
    return [c for c in changes if not ((c.op == "insert" and c.new_page in inserted)
                                       or (c.op == "delete" and c.old_page in deleted))]
