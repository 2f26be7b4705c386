"""Whole-document page alignment: finds inserted, deleted and reordered pages.

1. Pages with identical content that occur once in each document are anchors; the longest
   order-preserving chain of anchors (LIS) fixes the backbone, anchors out of that order are moved pages.
2. The gaps between anchors are aligned with an order-preserving dynamic programme over a page
   similarity matrix (text via ``rapidfuzz.process.cdist``, vector shapes via Jaccard, scans via
   thumbnail correlation).
3. Pages left unmatched are paired across gaps when similar enough: those are moved (and edited) pages.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable

import numpy as np

from .geometry import quantized_keys
from .matching import greedy_pairs
from .model import PageContent, PageMatch

__all__ = ["align_pages", "similarity_matrix"]

_MAX_TEXT = 4000
_MAX_DP_CELLS = 250_000
_MAX_WEIGHTED_LIS = 4000
_FULL_MATRIX_CELLS = 2500
_BAND = 8


def _visual_order(p: PageContent) -> np.ndarray:
    """Word indices top to bottom (3 pt bands), left to right: the same for any writer's order."""
    b = p.word_boxes
    return np.lexsort((b[:, 0], np.round((b[:, 1] + b[:, 3]) / 6.0)))


def _text(p: PageContent) -> str:
    """The page's words in visual order (page similarity does not depend on the order a writer put them
    in)."""
    if not p.words:
        return ""
    words = p.words
    return " ".join([words[k] for k in _visual_order(p).tolist()])[:_MAX_TEXT]


_NO_DIGITS = str.maketrans("", "", "0123456789")


def own_texts(old: list[PageContent], new: list[PageContent]) -> OwnTexts:
    """Page texts (visual order) without the lines of the documents' template.

    Pages that share a template (the same header, labels and footer on every page) look alike as a
    whole; what tells them apart is their own text.  A line (digits ignored, so "Page 3 of 9" is the
    same line on every page) that occurs on at least 3 pages and on a quarter of all pages of the two
    documents is template.  Pages that have nothing but template keep their whole text.
    """
    pages = [*old, *new]
    spans: dict[int, list[tuple[int, int, str]]] = {}
    counts: Counter[str] = Counter()
    for p in pages:
        if not p.words:
            spans[id(p)] = []
            continue
        cuts = (np.flatnonzero(np.diff(p.word_lines)) + 1).tolist()
        words = p.words
        lines = [(x, y, " ".join(words[x:y]).translate(_NO_DIGITS))
                 for x, y in zip([0, *cuts], [*cuts, len(words)], strict=True)]
        spans[id(p)] = lines
        counts.update({key for _, _, key in lines})
    floor = max(3, len(pages) // 4)
    template = {k for k, c in counts.items() if c >= floor}
    return OwnTexts(spans, template)


class OwnTexts:
    """The own text of each page (see :func:`own_texts`), computed when first asked for: alignment
    needs it only for the pages left between anchors."""

    def __init__(self, spans: dict[int, list[tuple[int, int, str]]], template: set[str]) -> None:
        self.spans = spans
        self.template = template
        self.cache: dict[int, str] = {}

    def text_of(self, p: PageContent) -> str:
        """The page's words in visual order, without its template lines."""
        if id(p) in self.cache:
            return self.cache[id(p)]
        cut = [(x, y) for x, y, key in self.spans.get(id(p), ()) if key in self.template]
        keep = np.ones(len(p.words), dtype=bool)
        for x, y in cut:
            keep[x:y] = False
        if not cut or not keep.any():
            text = _text(p)
        else:
            words = p.words
            text = " ".join([words[k] for k in _visual_order(p).tolist() if keep[k]])[:_MAX_TEXT]
        self.cache[id(p)] = text
        return text


def _shape_set(p: PageContent) -> frozenset:
    return frozenset(quantized_keys(p.shapes, 2.0))


def _amount_weight(old_counts: list[int], new_counts: list[int], full: int = 10) -> np.ndarray:
    """Weight of a similarity component by how much content it covers (a lone shape weighs little)."""
    o = np.minimum(np.asarray(old_counts, dtype=float), full) / full
    n = np.minimum(np.asarray(new_counts, dtype=float), full) / full
    return np.maximum(o[:, None], n[None, :])


def similarity_matrix(old: list[PageContent], new: list[PageContent],
                      texts: OwnTexts | None = None) -> np.ndarray:
    """Similarity in [0, 1] of every old page (rows) with every new page (columns).

    ``texts`` (:func:`own_texts`) gives the page texts without the documents' template."""
    text_of = texts.text_of if texts is not None else _text
    n, m = len(old), len(new)
    if n == 0 or m == 0:
        return np.zeros((n, m))
    total = np.zeros((n, m))
    weight = np.zeros((n, m))
    # text
    ot = np.array([bool(p.words) for p in old])
    nt = np.array([bool(p.words) for p in new])
    if ot.any() or nt.any():
        tm = np.zeros((n, m))
        oi, ni = np.flatnonzero(ot), np.flatnonzero(nt)
        if len(oi) and len(ni):
            from rapidfuzz import fuzz, process

            sub = process.cdist([text_of(old[i]) for i in oi], [text_of(new[j]) for j in ni],
                                scorer=fuzz.ratio, workers=1, dtype=np.float32)
            tm[np.ix_(oi, ni)] = sub / 100.0
        w = _amount_weight([len(p.words) for p in old], [len(p.words) for p in new])
        total += tm * w
        weight += w
    # shapes
    os_ = np.array([bool(p.shapes) for p in old])
    ns_ = np.array([bool(p.shapes) for p in new])
    if os_.any() or ns_.any():
        sm = np.zeros((n, m))
        osets = {i: _shape_set(old[i]) for i in np.flatnonzero(os_)}
        nsets = {j: _shape_set(new[j]) for j in np.flatnonzero(ns_)}
        for i, a in osets.items():
            for j, b in nsets.items():
                inter = len(a & b)
                sm[i, j] = inter / (len(a) + len(b) - inter)
        w = _amount_weight([len(p.shapes) for p in old], [len(p.shapes) for p in new])
        total += sm * w
        weight += w
    # scans
    oth = np.array([p.thumbnail is not None for p in old])
    nth = np.array([p.thumbnail is not None for p in new])
    if oth.any() or nth.any():
        cm = np.zeros((n, m))

        def norm(t: np.ndarray) -> np.ndarray:
            v = t.ravel() - t.mean()
            s = np.linalg.norm(v)
            return v / s if s > 1e-6 else v

        oi, ni = np.flatnonzero(oth), np.flatnonzero(nth)
        if len(oi) and len(ni):
            a = np.stack([norm(old[i].thumbnail) for i in oi])
            b = np.stack([norm(new[j].thumbnail) for j in ni])
            corr = np.clip(a @ b.T, 0.0, 1.0)
            # two blank scans correlate as 0 but are the same page
            blank_a = ~a.any(axis=1)
            blank_b = ~b.any(axis=1)
            corr[np.ix_(blank_a, blank_b)] = 1.0
            cm[np.ix_(oi, ni)] = corr
        w = (oth[:, None] | nth[None, :]).astype(float)
        total += cm * w
        weight += w
    empty = weight == 0
    sim = np.where(empty, 1.0, total / np.maximum(weight, 1e-9))
    return sim


def _gap_similarity(old: list[PageContent], new: list[PageContent],
                    texts: OwnTexts | None = None) -> np.ndarray:
    """Similarity matrix of a gap; for large gaps only a band around the diagonal is computed.

    A large gap appears when text reflows through a whole document (a paragraph inserted early shifts
    every following page): then each page corresponds to a page near the same relative position, and
    computing all n x m similarities would be quadratic in the page count.
    """
    n, m = len(old), len(new)
    if n * m <= _FULL_MATRIX_CELLS:
        return similarity_matrix(old, new, texts)
    sim = np.zeros((n, m))
    band = _BAND + abs(n - m)
    if n * (2 * band + 1) > 4 * _MAX_DP_CELLS:  # enormous: the diagonal only
        band = 0
    for i in range(n):
        c = round(i * (m - 1) / max(n - 1, 1))
        lo, hi = max(0, c - band), min(m, c + band + 1)
        sim[i, lo:hi] = similarity_matrix([old[i]], new[lo:hi], texts)[0]
    return sim


def _lis(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest chain of pairs increasing in both coordinates (pairs sorted by the first).

    Among chains of equal length the one whose pages moved least (smallest sum of ``|i - j|``) wins, so
    that swapping two pages reports those two as moved, not a page that stayed in place.
    """
    fast = _lis_fast(pairs)
    if len(fast) == len(pairs) or len(pairs) > _MAX_WEIGHTED_LIS:
        return fast
    n = len(pairs)
    js = np.array([j for _, j in pairs])
    disp = np.array([abs(i - j) for i, j in pairs], dtype=np.int64)
    big = 1 << 40
    score = np.zeros(n, dtype=np.int64)
    prev = np.full(n, -1)
    for k in range(n):
        best, arg = big - disp[k], -1
        if k:
            ok = js[:k] < js[k]
            if ok.any():
                cand = np.where(ok, score[:k], -1)
                a = int(np.argmax(cand))
                if cand[a] >= 0 and cand[a] + big - disp[k] > best:
                    best, arg = int(cand[a] + big - disp[k]), a
        score[k] = best
        prev[k] = arg
    k = int(np.argmax(score))
    out = []
    while k >= 0:
        out.append(pairs[k])
        k = int(prev[k])
    return out[::-1]


def _lis_fast(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    tails: list[int] = []
    tails_idx: list[int] = []
    prev = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        pos = bisect.bisect_left(tails, j)
        if pos == len(tails):
            tails.append(j)
            tails_idx.append(k)
        else:
            tails[pos] = j
            tails_idx[pos] = k
        prev[k] = tails_idx[pos - 1] if pos > 0 else -1
    out = []
    k = tails_idx[-1] if tails_idx else -1
    while k >= 0:
        out.append(pairs[k])
        k = prev[k]
    return out[::-1]


def _align_gap(sim: np.ndarray, threshold: float) -> list[tuple[int | None, int | None, float]]:
    """Order-preserving alignment of a gap; returns (old, new, sim) with None for unmatched."""
    n, m = sim.shape
    if n == 0 or m == 0:
        return [(i, None, 0.0) for i in range(n)] + [(None, j, 0.0) for j in range(m)]
    if n * m > _MAX_DP_CELLS:  # huge gap: pair by position, cheap and bounded
        out: list[tuple[int | None, int | None, float]] = []
        for k in range(max(n, m)):
            if k < n and k < m and sim[k, k] >= threshold:
                out.append((k, k, float(sim[k, k])))
            else:
                if k < n:
                    out.append((k, None, 0.0))
                if k < m:
                    out.append((None, k, 0.0))
        return out
    gain = np.where(sim >= threshold, sim - threshold + 1e-3, -1.0)
    score = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):
        row_prev = score[i - 1]
        row = score[i]
        g = gain[i - 1]
        for j in range(1, m + 1):
            best = row_prev[j] if row_prev[j] >= row[j - 1] else row[j - 1]
            if g[j - 1] > 0:
                d = row_prev[j - 1] + g[j - 1]
                if d > best:
                    best = d
            row[j] = best
    out = []
    i, j = n, m
    while i > 0 and j > 0:
        if gain[i - 1, j - 1] > 0 and score[i, j] == score[i - 1, j - 1] + gain[i - 1, j - 1]:
            out.append((i - 1, j - 1, float(sim[i - 1, j - 1])))
            i -= 1
            j -= 1
        elif score[i, j] == score[i - 1, j]:
            out.append((i - 1, None, 0.0))
            i -= 1
        else:
            out.append((None, j - 1, 0.0))
            j -= 1
    while i > 0:
        out.append((i - 1, None, 0.0))
        i -= 1
    while j > 0:
        out.append((None, j - 1, 0.0))
        j -= 1
    return out[::-1]


def align_pages(old: list[PageContent], new: list[PageContent], threshold: float = 0.5,
                thumbnails: Callable[[list[PageContent]], None] | None = None) -> list[PageMatch]:
    """Align the pages of two documents.

    Returns the page map in new-document order, deleted old pages placed after their predecessor.
    Statuses: ``matched`` (in order), ``moved`` (matched out of order), ``inserted``, ``deleted``.
    """
    oc = Counter(p.content_hash for p in old)
    nc = Counter(p.content_hash for p in new)
    new_pos = {p.content_hash: j for j, p in enumerate(new) if nc[p.content_hash] == 1}
    pairs = [(i, new_pos[p.content_hash]) for i, p in enumerate(old)
             if oc[p.content_hash] == 1 and p.content_hash in new_pos]
    anchors = _lis(pairs)
    anchor_set = set(anchors)
    moved: dict[int, tuple[int, float]] = {j: (i, 1.0) for i, j in pairs if (i, j) not in anchor_set}
    moved_old = {i for i, _ in moved.values()}
    own: list[OwnTexts | None] = []

    def texts() -> OwnTexts | None:  # computed once, only when a gap needs similarities
        if not own:
            own.append(own_texts(old, new) if len(old) + len(new) >= 6 else None)
        return own[0]

    seq: list[tuple[int | None, int | None, float]] = []
    leftovers_old: list[int] = []
    leftovers_new: list[int] = []
    prev_i, prev_j = -1, -1
    for ai, aj in [*anchors, (len(old), len(new))]:
        gi = [i for i in range(prev_i + 1, ai) if i not in moved_old]
        gj = [j for j in range(prev_j + 1, aj) if j not in moved]
        if len(gi) == 1 and len(gj) == 1 and old[gi[0]].image_only and new[gj[0]].image_only:
            # one scan replaced by one scan at the same place of the document: the same page
            seq.append((gi[0], gj[0], 1.0))
        elif gi or gj:
            if thumbnails is not None:
                thumbnails([old[i] for i in gi] + [new[j] for j in gj])
            sim = _gap_similarity([old[i] for i in gi], [new[j] for j in gj], texts())
            res = _align_gap(sim, threshold)
            if (len(gi) == len(gj) and all(a is None or b is None for a, b, _ in res)
                    and all(old[i].image_only for i in gi) and all(new[j].image_only for j in gj)):
                # scans whose thumbnails say little (nearly blank pages): pair them by position
                res = [(k, k, float(sim[k, k])) for k in range(len(gi))]
            for a, b, s in res:
                oi = gi[a] if a is not None else None
                nj = gj[b] if b is not None else None
                seq.append((oi, nj, s))
                if nj is None and oi is not None:
                    leftovers_old.append(oi)
                elif oi is None and nj is not None:
                    leftovers_new.append(nj)
        for j in range(prev_j + 1, aj):  # placeholders for exactly-moved pages
            if j in moved:
                seq.append((None, j, -1.0))
        if ai < len(old):
            seq.append((ai, aj, 1.0))
        prev_i, prev_j = ai, aj

    # moved-and-edited pages: similar leftovers from different gaps
    if leftovers_old and leftovers_new:
        if thumbnails is not None:
            thumbnails([old[i] for i in leftovers_old] + [new[j] for j in leftovers_new])
        sim = similarity_matrix([old[i] for i in leftovers_old], [new[j] for j in leftovers_new], texts())
        cand = sorted(((float(sim[a, b]), a, b) for a in range(len(leftovers_old))
                       for b in range(len(leftovers_new)) if sim[a, b] >= threshold), reverse=True)
        for a, b, s in greedy_pairs((a, b, s) for s, a, b in cand):
            moved[leftovers_new[b]] = (leftovers_old[a], s)
            moved_old.add(leftovers_old[a])

    # keep new-document order: sort entries by the new page, deleted pages after their old predecessor
    result: list[PageMatch] = []
    for oi, nj, s in seq:
        if nj is not None and nj in moved:
            mi, ms = moved[nj]
            result.append(PageMatch(mi + 1, nj + 1, "moved", ms))
        elif oi is not None and nj is not None:
            result.append(PageMatch(oi + 1, nj + 1, "matched", s))
        elif oi is not None:
            if oi not in moved_old:
                result.append(PageMatch(oi + 1, None, "deleted", 0.0))
        elif nj is not None:
            result.append(PageMatch(None, nj + 1, "inserted", 0.0))
    return _in_new_order(result)


def _in_new_order(entries: list[PageMatch]) -> list[PageMatch]:
    """Entries sorted by new page; a deleted page goes right after the nearest preceding old page that
    kept its place (not a moved one)."""
    placed = sorted((e for e in entries if e.new is not None), key=lambda e: e.new)
    by_old = {e.old: (k, e) for k, e in enumerate(placed) if e.old is not None}
    deleted = {e.old: e for e in entries if e.new is None}
    keyed = [((k, 0, 0), e) for k, e in enumerate(placed)]
    anchor = -1
    for p in range(1, max([*by_old, *deleted], default=0) + 1):
        if p in deleted:
            keyed.append(((anchor, 1, p), deleted[p]))
        elif p in by_old and by_old[p][1].status != "moved":
            anchor = by_old[p][0]
    keyed.sort(key=lambda t: t[0])
    return [e for _, e in keyed]
