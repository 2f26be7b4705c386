"""Raster diff for image-only (scanned) pages.

Both pages are rendered in grey at ``dpi`` in unrotated page orientation, the new page is aligned to the
old one by phase correlation (scans shift by a few pixels), and pixels whose blurred ink differs by more
than ``raster_threshold`` are grouped into regions with ``scipy.ndimage.label`` after a small dilation.
Regions with fewer than ``min_region_px`` changed pixels are speckle noise and ignored.
"""

from __future__ import annotations

import numpy as np
import pymupdf

from .model import Change, PageContent
from .options import CompareOptions

__all__ = ["render_gray", "diff_raster", "diff_images", "estimate_shift"]


def render_gray(page: pymupdf.Page, zoom: float) -> np.ndarray:
    """Render a page in grey, unrotated orientation, at ``zoom`` pixels per point; returns ink (0 = white)."""
    pix = page.get_pixmap(matrix=page.derotation_matrix * pymupdf.Matrix(zoom, zoom),
                          colorspace=pymupdf.csGRAY, alpha=False)
    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)[:, : pix.width]
    return 255 - img.astype(np.int16)


def estimate_shift(a: np.ndarray, b: np.ndarray, max_frac: float = 0.05) -> tuple[int, int]:
    """Integer shift ``(dy, dx)`` that moves ``b`` onto ``a`` (phase correlation), 0 if implausible."""
    h, w = a.shape
    step = 2 if h * w > 1_000_000 else 1
    aa = a[::step, ::step].astype(np.float32)
    bb = b[::step, ::step].astype(np.float32)
    if not aa.any() or not bb.any():
        return 0, 0
    from scipy import fft  # float32 transforms, faster than numpy.fft

    fa = fft.rfft2(aa)
    fb = fft.rfft2(bb)
    r = fa * np.conj(fb)
    r /= np.maximum(np.abs(r), 1e-9)
    corr = fft.irfft2(r, s=aa.shape)
    py, px = np.unravel_index(int(np.argmax(corr)), corr.shape)
    hh, ww = aa.shape
    if py > hh // 2:
        py -= hh
    if px > ww // 2:
        px -= ww
    dy, dx = int(py) * step, int(px) * step
    if abs(dy) > max_frac * h or abs(dx) > max_frac * w:
        return 0, 0
    return dy, dx


def _shifted(b: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(b)
    h, w = b.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = b[ys, xs]
    return out


def diff_raster(old: pymupdf.Page, new: pymupdf.Page, options: CompareOptions) -> list[Change]:
    """Changed regions between two rendered pages, as ``raster`` changes with boxes on both pages."""
    from scipy import ndimage  # imported on first use: it costs ~0.3 s of start-up for text-only runs

    zoom = options.dpi / 72.0
    for p in (old, new):
        area = p.rect.width * p.rect.height
        if area * zoom * zoom > options.limits.max_render_pixels:
            zoom = (options.limits.max_render_pixels / area) ** 0.5
    a = render_gray(old, zoom)
    b = render_gray(new, zoom)
    h, w = max(a.shape[0], b.shape[0]), max(a.shape[1], b.shape[1])
    if a.shape != (h, w):
        a = np.pad(a, ((0, h - a.shape[0]), (0, w - a.shape[1])))
    if b.shape != (h, w):
        b = np.pad(b, ((0, h - b.shape[0]), (0, w - b.shape[1])))
    dy, dx = estimate_shift(a, b)
    if dy or dx:
        b = _shifted(b, dy, dx)
    # blur(a) - blur(b) == blur(a - b): one filter pass instead of two
    diff = ndimage.uniform_filter((a - b).astype(np.float32), size=3)
    mask = np.abs(diff) > options.raster_threshold
    if not mask.any():
        return []
    # scale noise parameters with resolution (defaults are for 150 dpi)
    scale = (zoom * 72.0 / 150.0) ** 2
    min_px = max(1, int(options.min_region_px * scale))
    grow = max(1, round(4 * zoom * 72.0 / 150.0))
    merged = ndimage.maximum_filter(mask.view(np.uint8), size=2 * grow + 1).astype(bool)
    labels, n = ndimage.label(merged)
    counts = np.bincount(labels[mask], minlength=n + 1)[1:]
    changes: list[Change] = []
    ink = options.raster_threshold
    for k, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None or counts[k] < min_px:
            continue
        region = mask[sl] & (labels[sl] == k + 1)
        ys, xs = np.nonzero(region)
        y0, y1 = sl[0].start + ys.min(), sl[0].start + ys.max() + 1
        x0, x1 = sl[1].start + xs.min(), sl[1].start + xs.max() + 1
        old_ink = int((a[y0:y1, x0:x1] > ink).sum())
        new_ink = int((b[y0:y1, x0:x1] > ink).sum())
        if old_ink < min_px // 2 + 1:
            op = "insert"
        elif new_ink < min_px // 2 + 1:
            op = "delete"
        else:
            op = "replace"
        ob = (x0 / zoom, y0 / zoom, x1 / zoom, y1 / zoom)
        nb = ((x0 - dx) / zoom, (y0 - dy) / zoom, (x1 - dx) / zoom, (y1 - dy) / zoom)
        # the region is given on both pages: where ink appeared, vanished or changed
        changes.append(Change("raster", op, old.number + 1, new.number + 1, ob, nb))
    changes = _merge_overlapping(changes)
    changes.sort(key=lambda c: (c.old_bbox[1], c.old_bbox[0]))
    return changes


def _merge_overlapping(changes: list[Change]) -> list[Change]:
    """Merge regions whose boxes overlap (one change per changed area)."""
    merged = True
    while merged and len(changes) > 1:
        merged = False
        for x in range(len(changes)):
            for y in range(x + 1, len(changes)):
                a, b = changes[x].old_bbox, changes[y].old_bbox
                if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                    na, nb = changes[x].new_bbox, changes[y].new_bbox
                    ops = {changes[x].op, changes[y].op}
                    op = ops.pop() if len(ops) == 1 else "replace"
                    changes[x] = Change("raster", op, changes[x].old_page, changes[x].new_page,
                                        _u(a, b), _u(na, nb))
                    del changes[y]
                    merged = True
                    break
            if merged:
                break
    return changes


def _u(a: tuple, b: tuple) -> tuple:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def diff_images(old: PageContent, new: PageContent, tolerance: float = 1.0) -> list[Change]:
    """Changed embedded images on pages that also have text (a logo, a figure, a photo).

    Images are matched by content digest and position; the same image at another position is a move, an
    image replaced in place (overlapping boxes, other digest) a replace, the rest inserts and deletes.
    """
    def key(box: tuple, digest: bytes) -> tuple:
        return digest, tuple(round(v / tolerance) for v in box)

    pool: dict[tuple, list[int]] = {}
    for j, (box, dg) in enumerate(zip(new.images, new.image_digests, strict=True)):
        pool.setdefault(key(box, dg), []).append(j)
    rem_old = []
    for i, (box, dg) in enumerate(zip(old.images, old.image_digests, strict=True)):
        hit = pool.get(key(box, dg))
        if hit:
            hit.pop()
        else:
            rem_old.append(i)
    rem_new = sorted(j for js in pool.values() for j in js)
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
