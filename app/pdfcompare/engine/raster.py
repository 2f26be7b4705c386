"""Raster diff for image-only (scanned) pages, with registration; picture comparison on text pages.

Scans: both pages are rendered once, in grey, at ``dpi`` in unrotated page orientation.  The new page is
*registered* onto the old one before anything is compared: a coarse phase correlation finds the overall
shift, then phase correlation of up to 8 x 8 tiles (those with structure in both directions) gives local
displacements, and a similarity transform (rotation, scale, translation) is fitted to them - every pair
of tiles proposes one, the one most tiles agree with wins and is refined by least squares on them; tiles
over a changed part disagree and drop out.  The new page is warped into the old page's frame (OpenCV,
one pass) and the two are compared with a one-pixel tolerance: new ink counts as added only where the
old page has no ink nearby, and vice versa, so anti-aliasing and resampling are no change.  Changed
pixels are grouped on a grid of 4 x 4 pixel cells (dilation, connected components); a group needs some
pixels changed beyond the tolerance and ``min_region_px`` differing pixels in all, else it is speckle.
Each group is one change with its box on the old page and, through the fitted transform, on the new
page.

Rotations up to 3 degrees and shifts up to 10 % of the page are registered; beyond that the pages are
compared as they lie (after the coarse shift) and ``report.warnings`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pymupdf

from .model import Box, Change, PageContent
from .options import CompareOptions

__all__ = ["Registration", "RasterResult", "render_ink", "register", "diff_raster", "diff_images",
           "estimate_shift"]

_MAX_ANGLE = 3.0  # degrees; larger fitted rotations are not believed
_MAX_SCALE = 0.03
_CELL = 4  # grouping grid at 150 dpi (pixels)


def _cv2():
    import cv2  # imported on first use: only scans need it

    return cv2


def render_ink(page: pymupdf.Page, zoom: float) -> np.ndarray:
    """Render a page in grey, unrotated orientation, at ``zoom`` pixels per point; returns ink as uint8
    (0 = white paper, 255 = black)."""
    pix = page.get_pixmap(matrix=page.derotation_matrix * pymupdf.Matrix(zoom, zoom),
                          colorspace=pymupdf.csGRAY, alpha=False)
    # read the pixmap's memory in place (``samples`` would copy it first: 17 MB for an A1 scan); the
    # view is gone before the pixmap is
    img = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.stride)[:, : pix.width]
    ink = np.subtract(255, img, dtype=np.uint8)
    del img
    return ink


def estimate_shift(a: np.ndarray, b: np.ndarray, max_frac: float = 0.05) -> tuple[int, int]:
    """Integer shift ``(dy, dx)`` that moves ``b`` onto ``a`` (phase correlation), 0 if implausible."""
    cv2 = _cv2()
    h, w = a.shape
    if not a.any() or not b.any():
        return 0, 0
    (dx, dy), _ = cv2.phaseCorrelate(b.astype(np.float32), a.astype(np.float32))
    dy, dx = int(round(dy)), int(round(dx))
    if abs(dy) > max_frac * h or abs(dx) > max_frac * w:
        return 0, 0
    return dy, dx


@dataclass(frozen=True, slots=True)
class Registration:
    """Similarity transform from old page pixels ``(x, y)`` to new page pixels (``matrix`` is 2 x 3)."""

    matrix: tuple[float, float, float, float, float, float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    inliers: int = 0
    """Tiles whose displacement agrees with the transform (0: translation from the whole page only)."""
    plausible: bool = True

    @property
    def angle(self) -> float:
        """Rotation in degrees (positive: the new page is turned clockwise on screen)."""
        a, b = self.matrix[0], self.matrix[3]
        return math.degrees(math.atan2(b, a))

    @property
    def scale(self) -> float:
        return math.hypot(self.matrix[0], self.matrix[3])

    @property
    def shift(self) -> tuple[float, float]:
        """Translation ``(dx, dy)`` in pixels."""
        return self.matrix[2], self.matrix[5]

    def is_translation(self) -> bool:
        return abs(self.angle) < 0.005 and abs(self.scale - 1.0) < 1e-4

    def in_points(self, zoom: float) -> tuple[float, float, float, float, float, float]:
        """The same transform between page coordinates in points."""
        a, b, c, d, e, f = self.matrix
        return (a, b, c / zoom, d, e, f / zoom)


def map_box(m: tuple[float, ...], box: Box) -> Box:
    """The bounding box of ``box`` transformed by the 2 x 3 affine ``m``."""
    x0, y0, x1, y1 = box
    xs, ys = [], []
    for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
        xs.append(m[0] * x + m[1] * y + m[2])
        ys.append(m[3] * x + m[4] * y + m[5])
    return (min(xs), min(ys), max(xs), max(ys))


def invert(m: tuple[float, ...]) -> tuple[float, float, float, float, float, float]:
    """Inverse of a 2 x 3 affine transform."""
    a, b, c, d, e, f = m
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return (ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f))


def _fit_similarity(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Least-squares similarity ``q ~ [[a, -b], [b, a]] p + t`` as a 2 x 3 matrix."""
    n = len(p)
    m = np.zeros((2 * n, 4))
    m[0::2] = np.column_stack([p[:, 0], -p[:, 1], np.ones(n), np.zeros(n)])
    m[1::2] = np.column_stack([p[:, 1], p[:, 0], np.zeros(n), np.ones(n)])
    a, b, tx, ty = np.linalg.lstsq(m, q.reshape(-1), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def _residuals(mat: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.linalg.norm(p @ mat[:, :2].T + mat[:, 2] - q, axis=1)


def _robust_similarity(p: np.ndarray, q: np.ndarray, w: np.ndarray, tol: float) -> tuple[np.ndarray, int]:
    """Similarity fitted to the largest consistent subset of tile correspondences (RANSAC over every
    pair of tiles, vectorised; tiles over changed parts disagree and drop out), refined by least squares.
    Returns the matrix and the number of inliers."""
    n = len(p)
    i, j = np.triu_indices(n, 1)
    dp = p[j] - p[i]
    dq = q[j] - q[i]
    den = (dp ** 2).sum(axis=1)
    ok = den > 1e-6
    i, j, dp, dq, den = i[ok], j[ok], dp[ok], dq[ok], den[ok]
    if not len(i):
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 0
    a = (dp[:, 0] * dq[:, 0] + dp[:, 1] * dq[:, 1]) / den
    b = (dp[:, 0] * dq[:, 1] - dp[:, 1] * dq[:, 0]) / den
    tx = q[i, 0] - (a * p[i, 0] - b * p[i, 1])
    ty = q[i, 1] - (b * p[i, 0] + a * p[i, 1])
    # residuals of every tile under every candidate: (candidates, tiles)
    px = a[:, None] * p[None, :, 0] - b[:, None] * p[None, :, 1] + tx[:, None]
    py = b[:, None] * p[None, :, 0] + a[:, None] * p[None, :, 1] + ty[:, None]
    res = np.hypot(px - q[None, :, 0], py - q[None, :, 1])
    score = ((res <= tol) * w[None, :]).sum(axis=1)
    best = int(np.argmax(score))
    keep = res[best] <= tol
    if keep.sum() < 3:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), 0
    mat = _fit_similarity(p[keep], q[keep])
    keep = _residuals(mat, p, q) <= tol
    if keep.sum() >= 3:
        mat = _fit_similarity(p[keep], q[keep])
    return mat, int(keep.sum())


def _pick_tiles(img: np.ndarray, t: int, most: int = 64) -> list[tuple[int, int]]:
    """Up to ``most`` tiles of ``t`` x ``t`` pixels (origins) where the page has structure in both
    directions, spread over the page: candidates on a grid of half-tile steps, the best of each cell."""
    hh, ww = img.shape
    step = t // 2
    ys = np.arange(0, hh - t + 1, step)
    xs = np.arange(0, ww - t + 1, step)
    # contrast per candidate from block sums of the image and its square (integral images of every
    # fourth pixel: plenty to rank tiles)
    cv2 = _cv2()
    sub = np.ascontiguousarray(img[::4, ::4])
    ii, sq = cv2.integral2(sub, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    q = t // 4

    def box_sum(table: np.ndarray) -> np.ndarray:
        y0, x0 = ys[:, None] // 4, xs[None, :] // 4
        y1, x1 = np.minimum(y0 + q, table.shape[0] - 1), np.minimum(x0 + q, table.shape[1] - 1)
        return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]

    n = float(q * q)
    mean = box_sum(ii) / n
    std = np.sqrt(np.maximum(box_sum(sq) / n - mean * mean, 0.0))
    # structure in both directions: a tile holding only horizontal (or only vertical) lines fixes its
    # shift across the lines but not along them, and would mislead the fit
    gx = np.zeros_like(sub)
    gy = np.zeros_like(sub)
    gx[:, 1:] = np.abs(np.diff(sub, axis=1))
    gy[1:, :] = np.abs(np.diff(sub, axis=0))
    ex = box_sum(cv2.integral(gx, sdepth=cv2.CV_64F))
    ey = box_sum(cv2.integral(gy, sdepth=cv2.CV_64F))
    std = np.where(np.minimum(ex, ey) >= 0.2 * np.maximum(ex, ey), std, 0.0)
    # the best tile of each cell of an 8 x 8 grid over the page: tiles spread to the page's edges make
    # the fitted rotation and scale hold there too
    side = int(most ** 0.5)
    cell_r = np.minimum((ys * side) // max(hh, 1), side - 1)
    cell_c = np.minimum((xs * side) // max(ww, 1), side - 1)
    chosen: list[tuple[int, int]] = []
    for gr in range(side):
        rows = np.flatnonzero(cell_r == gr)
        for gc in range(side):
            cols = np.flatnonzero(cell_c == gc)
            if not len(rows) or not len(cols):
                continue
            block = std[np.ix_(rows, cols)]
            k = int(np.argmax(block))
            if block.flat[k] <= 6.0:
                continue
            r, c = divmod(k, len(cols))
            chosen.append((int(xs[cols[c]]), int(ys[rows[r]])))
    return chosen


def register(a: np.ndarray, b: np.ndarray) -> Registration:
    """Register ink image ``b`` (new page) onto ``a`` (old page): the similarity transform old -> new."""
    cv2 = _cv2()
    h, w = a.shape
    if not a.any() or not b.any():
        return Registration()
    # tiles are compared at half resolution (full resolution for small pages)
    ds = 2 if max(h, w) > 2000 else 1
    if ds > 1:
        size = (w // ds, h // ds)  # exactly half: linear interpolation averages 2 x 2 pixels
        aa = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
        bb = cv2.resize(b, size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    else:
        aa, bb = a.astype(np.float32), b.astype(np.float32)
    hh, ww = aa.shape
    # 1. coarse shift of the whole page at ~600 px
    f = max(1, round(max(hh, ww) / 600))
    small = (max(1, ww // f), max(1, hh // f))
    a8 = cv2.resize(aa, small, interpolation=cv2.INTER_AREA)
    b8 = cv2.resize(bb, small, interpolation=cv2.INTER_AREA)
    (gdx, gdy), _ = cv2.phaseCorrelate(a8, b8)
    gdx, gdy = gdx * w / small[0], gdy * h / small[1]
    if abs(gdx) > 0.1 * w or abs(gdy) > 0.1 * h:
        gdx = gdy = 0.0
    fallback = Registration((1.0, 0.0, gdx, 0.0, 1.0, gdy), 0, True)
    t = 128 if min(hh, ww) >= 512 else 64
    if min(hh, ww) < 2 * t:
        return fallback
    win = cv2.createHanningWindow((t, t), cv2.CV_32F)
    tiles = _pick_tiles(aa, t)
    model = np.array([[1.0, 0.0, gdx], [0.0, 1.0, gdy]])
    inliers = 0
    for limit in (0.4 * t, 0.15 * t):  # the second pass starts from the first fit
        pts, dst, wts = [], [], []
        for x, y in tiles:
            cx, cy = (x + t / 2) * ds, (y + t / 2) * ds
            px = model[0, 0] * cx + model[0, 1] * cy + model[0, 2]
            py = model[1, 0] * cx + model[1, 1] * cy + model[1, 2]
            ox, oy = round((px - cx) / ds), round((py - cy) / ds)
            x2, y2 = x + ox, y + oy
            if x2 < 0 or y2 < 0 or x2 + t > ww or y2 + t > hh:
                continue
            (dx, dy), resp = cv2.phaseCorrelate(aa[y:y + t, x:x + t], bb[y2:y2 + t, x2:x2 + t], win)
            if resp < 0.15 or abs(dx) > limit or abs(dy) > limit:
                continue
            pts.append((cx, cy))
            dst.append((cx + (ox + dx) * ds, cy + (oy + dy) * ds))
            wts.append(resp)
        if len(pts) < 3:
            break
        mat, n_in = _robust_similarity(np.array(pts), np.array(dst), np.array(wts), 1.5 * ds)
        if n_in < 3:
            break
        model, inliers = mat, n_in
    if not inliers:  # structure enough for tiles, yet no consistent transform: beyond what we register
        return fallback if len(tiles) < 3 else Registration(fallback.matrix, 0, False)
    reg = Registration(tuple(float(v) for v in model.reshape(-1)), inliers, True)
    if abs(reg.angle) > _MAX_ANGLE or abs(reg.scale - 1.0) > _MAX_SCALE:
        return Registration(fallback.matrix, 0, False)
    return reg


def warp_to_old(b: np.ndarray, reg: Registration, shape: tuple[int, int]) -> np.ndarray:
    """The new page's ink image resampled in the old page's pixel frame."""
    h, w = shape
    if reg.is_translation():
        dx, dy = round(reg.shift[0]), round(reg.shift[1])
        out = np.zeros((h, w), np.uint8)
        # out[y, x] = b[y + dy, x + dx]
        ys0, ys1 = max(0, -dy), min(h, b.shape[0] - dy)
        xs0, xs1 = max(0, -dx), min(w, b.shape[1] - dx)
        if ys1 > ys0 and xs1 > xs0:
            out[ys0:ys1, xs0:xs1] = b[ys0 + dy:ys1 + dy, xs0 + dx:xs1 + dx]
        return out
    cv2 = _cv2()
    m = np.array(reg.matrix, dtype=np.float64).reshape(2, 3)
    return cv2.warpAffine(b, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@dataclass(slots=True)
class RasterResult:
    """Changed regions of a scanned page pair and how the new page lies on the old one."""

    changes: list[Change] = field(default_factory=list)
    text_like: list[bool] = field(default_factory=list)
    """Per change: the region looks like printed text on either page (looked at only when OCR may read
    it, ``ocr="auto"``; False otherwise)."""
    registration: Registration = field(default_factory=Registration)
    zoom: float = 1.0
    warning: str | None = None

    @property
    def transform(self) -> tuple[float, float, float, float, float, float]:
        """Old page points -> new page points."""
        return self.registration.in_points(self.zoom)


def _zoom(old: pymupdf.Page, new: pymupdf.Page, options: CompareOptions) -> float:
    zoom = options.dpi / 72.0
    for p in (old, new):
        area = p.rect.width * p.rect.height
        if area * zoom * zoom > options.limits.max_render_pixels:
            zoom = (options.limits.max_render_pixels / area) ** 0.5
    return zoom


def diff_raster(old: pymupdf.Page, new: pymupdf.Page, options: CompareOptions) -> RasterResult:
    """Changed regions between two scanned pages, as ``raster`` changes with boxes on both pages."""
    cv2 = _cv2()
    zoom = _zoom(old, new, options)
    a = render_ink(old, zoom)
    b = render_ink(new, zoom)
    reg = register(a, b) if b.shape[0] > 8 and b.shape[1] > 8 else Registration()
    result = RasterResult(registration=reg, zoom=zoom)
    if not reg.plausible:
        result.warning = (f"Old page {old.number + 1} / new page {new.number + 1}: the new scan lies too "
                          "askew to be registered (more than 3 degrees); compared as it lies.")
    bw = warp_to_old(b, reg, a.shape)
    b_shape = b.shape
    del b
    res = zoom * 72.0 / 150.0  # noise parameters are given for 150 dpi
    lo = options.raster_threshold
    hi = min(254, 2 * lo)
    r = max(1, round(res))
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    # "no ink nearby" = the darkest pixel around (a grey dilation: the maximum) is light; one pass
    # fewer than dilating a thresholded copy, same pixels
    added = (bw > hi) & (cv2.dilate(a, kernel) <= lo)
    removed = (a > hi) & (cv2.dilate(bw, kernel) <= lo)
    if not reg.is_translation() or reg.shift != (0.0, 0.0):
        # only where both scans saw the sheet: a corner the new scan cut off is no change
        seen = _seen_by_new(reg, a.shape, b_shape, margin=r + 1)
        added &= seen
        removed &= seen
    changed = added | removed
    if not changed.any():
        return result
    plain = cv2.absdiff(a, bw) > lo  # every differing pixel, no tolerance: the size of a change
    # group on a grid of cells: changed pixels closer than ~4 px (150 dpi) form one region
    cell = max(1, round(_CELL * res))
    h, w = changed.shape
    gh, gw = -(-h // cell), -(-w // cell)
    counts = _cell_counts(changed, cell, gh, gw)
    sizes = _cell_counts(plain, cell, gh, gw)
    occupied = (counts > 0).astype(np.uint8)
    # grouping reaches ~6 pt sideways and ~2 pt up and down (150 dpi): the rest of a text line that
    # shifted after an edited word is one region even where a few glyphs happen to coincide
    grown = cv2.dilate(occupied, np.ones((3, 7), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    totals = np.bincount(labels.ravel(), weights=counts.ravel(), minlength=n)
    size = np.bincount(labels.ravel(), weights=sizes.ravel(), minlength=n)
    min_px = max(1, int(options.min_region_px * res * res))
    min_core = max(3, min_px // 8)
    m_pts = result.transform
    read_text = options.text and options.ocr == "auto"
    changes: list[Change] = []
    text_like: list[bool] = []
    for k in range(1, n):
        # a region needs some pixels changed beyond the one-pixel tolerance (misregistration and
        # resampling never do that) and enough differing pixels in all (a speck of dust has few)
        if totals[k] < min_core or size[k] < min_px:
            continue
        x, y, cw, ch = stats[k, :4]
        sy, sx = slice(y * cell, min(h, (y + ch) * cell)), slice(x * cell, min(w, (x + cw) * cell))
        sub = changed[sy, sx] & (labels[y:y + ch, x:x + cw] == k).repeat(cell, 0).repeat(cell, 1)[
            : sy.stop - sy.start, : sx.stop - sx.start]
        rows, cols = np.flatnonzero(sub.any(axis=1)), np.flatnonzero(sub.any(axis=0))
        if not len(rows):
            continue
        y0, y1 = sy.start + rows[0], sy.start + rows[-1] + 1
        x0, x1 = sx.start + cols[0], sx.start + cols[-1] + 1
        n_add = int(added[y0:y1, x0:x1].sum())
        n_rem = int(removed[y0:y1, x0:x1].sum())
        floor = min_px // 2 + 1
        op = "insert" if n_rem < floor else "delete" if n_add < floor else "replace"
        ob = (float(x0) / zoom, float(y0) / zoom, float(x1) / zoom, float(y1) / zoom)
        changes.append(Change("raster", op, old.number + 1, new.number + 1, ob, map_box(m_pts, ob)))
        # only OCR (``auto``) reads the text-like flags: no need to look at the shapes otherwise
        text_like.append(read_text and _text_like(a, bw, (y0, y1, x0, x1), lo, zoom))
    merged = _merge_overlapping(list(zip(changes, text_like, strict=True)))
    merged.sort(key=lambda ct: (ct[0].old_bbox[1], ct[0].old_bbox[0]))
    result.changes = [c for c, _ in merged]
    result.text_like = [t for _, t in merged]
    return result


def _cell_counts(mask: np.ndarray, cell: int, gh: int, gw: int) -> np.ndarray:
    """Number of set pixels of ``mask`` per ``cell`` x ``cell`` block (grid ``gh`` x ``gw``)."""
    cv2 = _cv2()
    h, w = mask.shape
    m = mask.view(np.uint8)
    hc, wc = h // cell, w // cell  # whole cells; the partial last row and column of cells are summed apart
    out = np.zeros((gh, gw), np.int32)
    if hc and wc:
        full = m[: hc * cell, : wc * cell]
        if cell * cell <= 255:  # area averaging of 0 / cell^2 values is the exact count
            out[:hc, :wc] = cv2.resize(full * np.uint8(cell * cell), (wc, hc), interpolation=cv2.INTER_AREA)
        else:
            out[:hc, :wc] = full.reshape(hc, cell, wc, cell).sum(axis=(1, 3), dtype=np.int32)
    if wc < gw and hc:
        out[:hc, wc:] = _padded_counts(m[: hc * cell, wc * cell :], cell)
    if hc < gh:
        out[hc:, :] = _padded_counts(m[hc * cell :, :], cell)
    return out


def _padded_counts(strip: np.ndarray, cell: int) -> np.ndarray:
    """Set pixels per cell of a thin strip (the page's last, partial cells), padded with zeros."""
    h, w = strip.shape
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.zeros((gh * cell, gw * cell), np.int32)
    padded[:h, :w] = strip
    return padded.reshape(gh, cell, gw, cell).sum(axis=(1, 3))


def _seen_by_new(reg: Registration, shape: tuple[int, int], new_shape: tuple[int, int],
                 margin: int) -> np.ndarray:
    """Pixels of the old page's frame that fall inside the new scan (``margin`` pixels in)."""
    cv2 = _cv2()
    m = np.array(reg.matrix).reshape(2, 3)
    inv = np.array(invert(reg.matrix)).reshape(2, 3)
    hn, wn = new_shape
    corners = np.array([[margin, margin], [wn - 1 - margin, margin], [wn - 1 - margin, hn - 1 - margin],
                        [margin, hn - 1 - margin]], dtype=np.float64)
    poly = corners @ inv[:, :2].T + inv[:, 2]
    out = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(out, np.round(poly).astype(np.int32), 1)
    del m
    return out.view(bool)


def _text_like(a: np.ndarray, bw: np.ndarray, box: tuple[int, int, int, int], lo: int, zoom: float) -> bool:
    """Whether a changed region looks like printed text on either page (then OCR may read it)."""
    from .ocr import is_text_like

    y0, y1, x0, x1 = box
    m = max(2, round(2 * zoom))  # a little margin: the changed pixels may be part of the glyphs only
    sl = (slice(max(0, y0 - m), y1 + m), slice(max(0, x0 - m), x1 + m))
    return is_text_like(a[sl] > lo, zoom) or is_text_like(bw[sl] > lo, zoom)


def _merge_overlapping(items: list[tuple[Change, bool]]) -> list[tuple[Change, bool]]:
    """Merge regions whose boxes overlap (one change per changed area); the text-like flags are or-ed."""
    merged = True
    while merged and len(items) > 1:
        merged = False
        for x in range(len(items)):
            for y in range(x + 1, len(items)):
                (cx, tx), (cy, ty) = items[x], items[y]
                a, b = cx.old_bbox, cy.old_bbox
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    ops = {cx.op, cy.op}
                    op = ops.pop() if len(ops) == 1 else "replace"
                    items[x] = (Change("raster", op, cx.old_page, cx.new_page, _u(a, b),
                                       _u(cx.new_bbox, cy.new_bbox)), tx or ty)
                    del items[y]
                    merged = True
                    break
            if merged:
                break
    return items


def _u(a: tuple, b: tuple) -> tuple:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _near_box(a: Box, b: Box, tol: float) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tol


def _same_picture(old_page: pymupdf.Page, new_page: pymupdf.Page, a: Box, b: Box) -> bool:
    """Whether two placed pictures look the same at their placed size (rendered at 96 dpi, grey).

    A re-encoded picture (another compression, JPEG quality, colour space) differs by a few grey levels
    spread over the picture; an edited one differs strongly somewhere.
    """
    cv2 = _cv2()
    zoom = 96 / 72.0
    imgs = []
    for page, box in ((old_page, a), (new_page, b)):
        rect = pymupdf.Rect(box) & page.rect
        if rect.is_empty:
            return False
        pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=rect, colorspace=pymupdf.csGRAY,
                              alpha=False)
        imgs.append(np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.stride)[:, : pix.width])
    x, y = imgs
    if x.size == 0 or y.size == 0:
        return False
    if x.shape != y.shape:
        y = cv2.resize(y, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_AREA)
    # compare lightly blurred pictures: re-encoding noise is fine-grained, edits are not
    x = cv2.GaussianBlur(x, (3, 3), 0).astype(np.int16)
    y = cv2.GaussianBlur(y, (3, 3), 0).astype(np.int16)
    d = np.abs(x - y)
    return float(d.mean()) < 4.0 and float(np.percentile(d, 99.5)) < 48


def diff_images(old: PageContent, new: PageContent, old_page: pymupdf.Page | None = None,
                new_page: pymupdf.Page | None = None, tolerance: float = 1.5) -> list[Change]:
    """Changed embedded images on pages that also have text (a logo, a figure, a photo).

    Images are matched by content digest at the same place (within ``tolerance`` points); the same
    digest elsewhere is a move.  Pictures left over at the same place are compared by their pixels at the
    placed size (when the pages are given): a re-encoded identical picture is no change, an edited one a
    replace.  Another picture in an overlapping place is a replace, the rest inserts and deletes.
    """
    rem_old = list(range(len(old.images)))
    rem_new = list(range(len(new.images)))
    for i in list(rem_old):  # same picture, same place
        for j in rem_new:
            if (old.image_digests[i] == new.image_digests[j]
                    and _near_box(old.images[i], new.images[j], tolerance)):
                rem_old.remove(i)
                rem_new.remove(j)
                break
    if old_page is not None and new_page is not None:  # same place, other bytes: look at the pixels
        for i in list(rem_old):
            for j in rem_new:
                if (_near_box(old.images[i], new.images[j], tolerance)
                        and _same_picture(old_page, new_page, old.images[i], new.images[j])):
                    rem_old.remove(i)
                    rem_new.remove(j)
                    break
    changes: list[Change] = []
    po, pn = old.number, new.number
    for i in list(rem_old):  # same picture elsewhere: moved
        for j in rem_new:
            if old.image_digests[i] == new.image_digests[j]:
                changes.append(Change("raster", "move", po, pn, old.images[i], new.images[j]))
                rem_old.remove(i)
                rem_new.remove(j)
                break
    for i in list(rem_old):  # another picture in the same place: replaced
        a = old.images[i]
        for j in rem_new:
            b = new.images[j]
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                changes.append(Change("raster", "replace", po, pn, a, b))
                rem_old.remove(i)
                rem_new.remove(j)
                break
    changes.extend(Change("raster", "delete", po, pn, old.images[i], None) for i in rem_old)
    changes.extend(Change("raster", "insert", po, pn, None, new.images[j]) for j in rem_new)
    return changes
