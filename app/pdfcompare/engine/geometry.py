"""Vector geometry diff of one page pair.

Shapes are the primitives of the page's paths (segments, rectangles, quads, curves), canonicalised at
extraction.  Matching runs in three passes, each only on what the previous one left:

1. exact: multiset match on coordinates quantised to the tolerance (a dict, linear time);
2. near: a Shapely ``STRtree`` over the boxes of unmatched new shapes finds, for each unmatched old shape,
   candidates of the same kind whose every coordinate is within the tolerance;
3. moved: unmatched old and new shapes with the same translated form are paired, preferring the
   translation most shapes share (a moved detail keeps its internal layout).

What is left is clustered spatially (STRtree + union-find); a removed cluster overlapping an added one is a
``replace``, the others are ``delete``/``insert``.  Moved shapes are grouped by translation and proximity.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from .matching import greedy_pairs
from .model import Box, Change, PageContent, Shape
from .options import CompareOptions

__all__ = ["diff_geometry"]

_MAX_PAIRS_PER_KEY = 4000


def quantized_keys(shapes: list[Shape], tol: float, relative: bool = False) -> list[bytes]:
    """One hashable key per shape: its kind and coordinates rounded to multiples of ``tol``.

    With ``relative`` the coordinates are taken relative to the first point (same form, any position).
    Vectorised with numpy: this runs over every primitive of a drawing.
    """
    keys: list[bytes] = [b""] * len(shapes)
    groups: dict[str, list[int]] = defaultdict(list)
    for k, s in enumerate(shapes):
        groups[s.kind].append(k)
    for kind, idx in groups.items():
        arr = np.array([shapes[k].coords for k in idx], dtype=np.float64)
        if relative:
            arr[:, 0::2] -= arr[:, :1]
            arr[:, 1::2] -= arr[:, 1:2]
        q = np.rint(arr / tol).astype(np.int64)
        q[q == 0] = 0  # no negative zero
        raw = q.tobytes()
        step = q.shape[1] * 8
        prefix = kind.encode() + b":"
        for n, k in enumerate(idx):
            keys[k] = prefix + raw[n * step : (n + 1) * step]
    return keys


def _boxes(shapes: list[Shape], idx: list[int], pad: float = 0.0) -> np.ndarray:
    import shapely

    arr = np.array([shapes[i].bbox for i in idx], dtype=np.float64).reshape(-1, 4)
    return shapely.box(arr[:, 0] - pad, arr[:, 1] - pad, arr[:, 2] + pad, arr[:, 3] + pad)


def _union(boxes: list[Box]) -> Box:
    a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return (float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 2].max()), float(a[:, 3].max()))


def _near(a: Box, b: Box, gap: float) -> bool:
    return b[0] <= a[2] + gap and a[0] <= b[2] + gap and b[1] <= a[3] + gap and a[1] <= b[3] + gap


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _cluster(boxes: list[Box], gap: float) -> list[list[int]]:
    """Group boxes that lie within ``gap`` of each other (transitively)."""
    n = len(boxes)
    if n == 0:
        return []
    if n == 1:
        return [[0]]
    import shapely

    a = np.asarray(boxes, dtype=np.float64)
    geoms = shapely.box(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
    tree = shapely.STRtree(geoms)
    padded = shapely.box(a[:, 0] - gap, a[:, 1] - gap, a[:, 2] + gap, a[:, 3] + gap)
    src, dst = tree.query(padded, predicate="intersects")
    parent = list(range(n))
    for x, y in zip(src.tolist(), dst.tolist(), strict=True):
        if x != y:
            rx, ry = _find(parent, x), _find(parent, y)
            if rx != ry:
                parent[rx] = ry
    groups: dict[int, list[int]] = defaultdict(list)
    for k in range(n):
        groups[_find(parent, k)].append(k)
    return sorted(groups.values(), key=lambda g: min(g))


def diff_geometry(old: PageContent, new: PageContent, options: CompareOptions) -> list[Change]:
    """Geometry changes between two matched pages."""
    tol = options.geometry_tolerance
    os_, ns = old.shapes, new.shapes
    if not os_ and not ns:
        return []
    # 1. exact (quantised) multiset match
    buckets: dict[bytes, list[int]] = defaultdict(list)
    for j, key in enumerate(quantized_keys(ns, tol)):
        buckets[key].append(j)
    rem_old: list[int] = []
    for i, key in enumerate(quantized_keys(os_, tol)):
        b = buckets.get(key)
        if b:
            b.pop()
        else:
            rem_old.append(i)
    rem_new = sorted(j for b in buckets.values() for j in b)
    if not rem_old and not rem_new:
        return []

    # 2. near match within tolerance via STRtree
    if rem_old and rem_new:
        import shapely  # imported on first use (start-up time of text-only runs)

        tree = shapely.STRtree(_boxes(ns, rem_new))
        src, dst = tree.query(_boxes(os_, rem_old, pad=tol), predicate="intersects")
        used_new: set[int] = set()
        matched_old: set[int] = set()
        lim = tol * 1.0001
        for x, y in zip(src.tolist(), dst.tolist(), strict=True):
            i, j = rem_old[x], rem_new[y]
            if i in matched_old or j in used_new:
                continue
            a, b = os_[i], ns[j]
            if a.kind != b.kind or len(a.coords) != len(b.coords):
                continue
            if max(abs(p - q) for p, q in zip(a.coords, b.coords, strict=True)) <= lim:
                matched_old.add(i)
                used_new.add(j)
        rem_old = [i for i in rem_old if i not in matched_old]
        rem_new = [j for j in rem_new if j not in used_new]

    # 3. moved shapes: same translated form, most popular translation first
    moved: list[tuple[int, int, tuple[int, int]]] = []
    if rem_old and rem_new:
        by_key: dict[bytes, list[int]] = defaultdict(list)
        for j, key in zip(rem_new, quantized_keys([ns[j] for j in rem_new], tol, True), strict=True):
            by_key[key].append(j)
        cands: list[tuple[int, int, tuple[int, int]]] = []
        for i, key in zip(rem_old, quantized_keys([os_[i] for i in rem_old], tol, True), strict=True):
            js = by_key.get(key)
            if not js:
                continue
            for j in js[:_MAX_PAIRS_PER_KEY]:
                off = (round((ns[j].coords[0] - os_[i].coords[0]) / (2 * tol)),
                       round((ns[j].coords[1] - os_[i].coords[1]) / (2 * tol)))
                if off != (0, 0):
                    cands.append((i, j, off))
        votes = Counter(c[2] for c in cands)
        cands.sort(key=lambda c: (-votes[c[2]], abs(c[2][0]) + abs(c[2][1]), c[0], c[1]))
        moved = list(greedy_pairs(cands))
        uo = {i for i, _, _ in moved}
        un = {j for _, j, _ in moved}
        rem_old = [i for i in rem_old if i not in uo]
        rem_new = [j for j in rem_new if j not in un]

    gap = options.geometry_group_distance
    changes: list[Change] = []
    po, pn = old.number, new.number
    # moves grouped by translation and proximity
    by_off: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    for i, j, off in moved:
        by_off[off].append((i, j))
    # the whole page drawn a fraction of a point off (another writer, a re-render) is no move: the
    # translation shared by at least half of the page's shapes, within the text position tolerance
    nudge = options.text_position_tolerance
    page_shift = {off for off, items in by_off.items()
                  if len(items) >= 0.5 * len(os_) and max(map(abs, off)) * 2 * tol <= nudge}
    for off in sorted(by_off):
        items = by_off[off]
        if off in page_shift:
            continue
        for grp in _cluster([os_[i].bbox for i, _ in items], gap):
            changes.append(Change("geometry", "move", po, pn,
                                  _union([os_[items[k][0]].bbox for k in grp]),
                                  _union([ns[items[k][1]].bbox for k in grp])))
    # removed / added clusters, overlapping ones become replacements
    old_boxes = [os_[i].bbox for i in rem_old]
    new_boxes = [ns[j].bbox for j in rem_new]
    old_groups = [_union([old_boxes[k] for k in g]) for g in _cluster(old_boxes, gap)]
    new_groups = [_union([new_boxes[k] for k in g]) for g in _cluster(new_boxes, gap)]
    used: set[int] = set()
    for ob in old_groups:
        hits = [y for y, nb in enumerate(new_groups) if y not in used and _near(ob, nb, gap)]
        if hits:
            used.update(hits)
            changes.append(Change("geometry", "replace", po, pn, ob, _union([new_groups[y] for y in hits])))
        else:
            changes.append(Change("geometry", "delete", po, pn, ob, None))
    for y, nb in enumerate(new_groups):
        if y not in used:
            changes.append(Change("geometry", "insert", po, pn, None, nb))
    return changes
