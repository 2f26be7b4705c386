"""Region: "this region of this sheet across revisions". Pick a change of a comparison (its box) or
type a page and a box, and every change of the user's comparisons in that region is listed, newest
first (``Storage.changes_in_region``, a spatial query on the stored change boxes), each with a
button that opens it in the viewer."""

from __future__ import annotations

import functools
import io
from typing import Any

import streamlit as st

from ...storage import NotFoundError
from .. import images, navigation
from ..context import Ctx
from ..state import index_of, preset
from ..text import KIND_LABELS, OP_LABELS, change_md, change_title, md, when
from ..workspace import open_comparison

__all__ = ["render"]

RESULTS = "_region_results"
MODES = {"change": "A change of a comparison", "box": "A page and a box"}
SHOWN = 100
PREVIEW_WIDTH = 520


def render(ctx: Ctx) -> None:
    st.title("Region across revisions")
    st.caption("Which changes ever touched this part of the sheet? Choose a region and see every change of "
               "your comparisons inside it, newest first.")
    mode = st.radio("Region from", list(MODES), key="region_mode", format_func=MODES.get, horizontal=True)
    region = _from_change(ctx) if mode == "change" else _from_box()
    filter_col, side_col = st.columns([3, 2])
    filename = filter_col.text_input("Only documents named (optional)", key="region_filename",
                                     placeholder="e.g. sheet-A1.pdf").strip()
    side = side_col.radio("Boxes of", ["any", "new", "old"], key="region_side", horizontal=True,
                          format_func={"any": "either version", "new": "new versions",
                                       "old": "old versions"}.get)
    if region is not None and st.button("Find changes in this region", type="primary", key="region_find",
                                        icon=":material/search:"):
        page, box = region
        hits = ctx.storage.changes_in_region(ctx.user, page, box, filename=filename or None, side=side)
        st.session_state[RESULTS] = {"page": page, "box": box, "hits": hits}
    _results(st.session_state.get(RESULTS))


def _from_change(ctx: Ctx) -> tuple[int, tuple[float, float, float, float]] | None:
    own = ctx.user
    records = [r for r in ctx.storage.list_comparisons(own, limit=100)
               if r.status == "done" and r.owner == own.id]
    if not records:
        st.info("No finished comparisons yet: type a page and a box instead.", icon=":material/info:")
        return None
    ids = [r.id for r in records]
    by_id = {r.id: r for r in records}
    current = st.session_state.get("comparison_id")
    if st.session_state.get("region_comparison") not in ids:
        preset("region_comparison", current if current in ids else ids[0])
    chosen = st.selectbox("Comparison", ids, key="region_comparison",
                          **index_of("region_comparison", ids, ids[0]),
                          format_func=lambda i: _comparison_option(by_id.get(i)))
    try:
        changes = [c for c in ctx.storage.get_changes(own, chosen) if c.new_box or c.old_box]
    except NotFoundError as exc:
        st.warning(str(exc))
        return None
    if not changes:
        st.info("This comparison has no changes with a place on a page.", icon=":material/info:")
        return None
    by_idx = {c.idx: c for c in changes}
    if st.session_state.get("region_change") not in by_idx:
        selected = st.session_state.get("change")
        preset("region_change", selected if selected in by_idx else changes[0].idx)
    idx = st.selectbox("Change", list(by_idx), key="region_change",
                       **index_of("region_change", list(by_idx), changes[0].idx),
                       format_func=lambda i: _change_option(by_idx[i]) if i in by_idx else "—")
    change = by_idx[idx]
    margin = st.slider("Margin around the change (points)", 0, 200, 20, 5, key="region_margin")
    if change.new_box is not None:
        side, page, box = "new", change.new_page, change.new_box
    else:
        side, page, box = "old", change.old_page, change.old_box
    assert page is not None and box is not None
    x0, y0, x1, y1 = box
    region = (max(0.0, x0 - margin), max(0.0, y0 - margin), x1 + margin, y1 + margin)
    st.caption(f"Region: page {page}, x {region[0]:.0f}–{region[2]:.0f} pt, "
               f"y {region[1]:.0f}–{region[3]:.0f} pt (from the top left corner)")
    with st.expander(f"The region on page {page} of the {side} version", expanded=True):
        _preview(ctx, by_id[chosen], side, page, region)
    return page, region


def _preview(ctx: Ctx, record: Any, side: str, page: int, region: tuple[float, float, float, float]) -> None:
    """The page (its highlights included) with the region outlined in blue."""
    def draw() -> bool:
        image = images.page_image(ctx.services, record.owner, record.id, side, page)
        if image.png is not None:
            st.image(_outlined(image.png, region), width=PREVIEW_WIDTH, output_format="PNG")
        elif image.error:
            st.caption(image.error)
        else:
            st.caption("Rendering the page…")
        return image.pending

    if not images.page_image(ctx.services, record.owner, record.id, side, page).pending:
        draw()
        return

    def poll() -> None:
        if not draw():
            st.rerun()

    st.fragment(poll, run_every=0.5, key="region_preview")()


@functools.lru_cache(maxsize=16)
def _outlined(png: bytes, region: tuple[float, float, float, float]) -> bytes:
    """``png`` (a page at :data:`images.DPI`) with ``region`` (points) outlined; image work only."""
    from PIL import Image, ImageDraw

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    scale = images.DPI / 72.0
    box = [round(v * scale) for v in region]
    ImageDraw.Draw(picture, "RGBA").rectangle(box, outline=(25, 90, 230, 255), width=5,
                                              fill=(25, 90, 230, 36))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()


def _comparison_option(record: Any) -> str:
    if record is None:
        return "—"
    return f"{record.old_filename} → {record.new_filename} ({when(record.created_at)})"


def _change_option(change: Any) -> str:
    data = {"kind": change.kind, "op": change.op, "old_page": change.old_page, "new_page": change.new_page,
            "old_text": change.old_text, "new_text": change.new_text}
    text = (change.new_text or change.old_text or "").strip()
    text = " ".join(text.split())
    return f"#{change.idx + 1} {change_title(data)}" + (f" — {text[:60]}" if text else "")


def _from_box() -> tuple[int, tuple[float, float, float, float]] | None:
    st.caption("Points from the top left corner of the page (72 points = 1 inch; A4 is 595 × 842).")
    cols = st.columns(5)
    page = cols[0].number_input("Page", min_value=1, value=1, step=1, key="region_page")
    x0 = cols[1].number_input("Left (x0)", min_value=0.0, value=0.0, step=10.0, key="region_x0")
    y0 = cols[2].number_input("Top (y0)", min_value=0.0, value=0.0, step=10.0, key="region_y0")
    x1 = cols[3].number_input("Right (x1)", min_value=0.0, value=595.0, step=10.0, key="region_x1")
    y1 = cols[4].number_input("Bottom (y1)", min_value=0.0, value=842.0, step=10.0, key="region_y1")
    if x1 <= x0 or y1 <= y0:
        st.warning("The box needs right > left and bottom > top.", icon=":material/warning:")
        return None
    return int(page), (float(x0), float(y0), float(x1), float(y1))


def _open(comparison_id: int, idx: int) -> None:
    open_comparison(comparison_id, change=idx)
    st.session_state["_jump_to_change"] = idx


def _results(found: dict[str, Any] | None) -> None:
    if not found:
        return
    hits = found["hits"]
    x0, y0, x1, y1 = found["box"]
    st.subheader(f"{len(hits)} change{'s' if len(hits) != 1 else ''} in this region", anchor=False)
    st.caption(f"Page {found['page']}, x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f} pt")
    if not hits:
        st.info("None of your comparisons changed anything in this region.", icon=":material/check:")
        return
    for hit in hits[:SHOWN]:
        with st.container(border=True):
            text_col, button_col = st.columns([7, 1.3], vertical_alignment="center")
            data = {"kind": hit.kind, "op": hit.op, "old_text": hit.old_text, "new_text": hit.new_text,
                    "old_page": hit.page if hit.side == "old" else None,
                    "new_page": hit.page if hit.side == "new" else None}
            with text_col:
                st.markdown(f"**{md(hit.old_filename)}** → **{md(hit.new_filename)}** · "
                            f"{KIND_LABELS.get(hit.kind, hit.kind)} {OP_LABELS.get(hit.op, hit.op)} "
                            f"on the {hit.side} version, page {hit.page}")
                st.markdown(change_md(data))
                st.caption(f"compared {when(hit.comparison_created_at)}")
            if button_col.button("Open", key=f"region_open_{hit.comparison_id}_{hit.idx}",
                                 icon=":material/open_in_new:", width="stretch"):
                _open(hit.comparison_id, hit.idx)
                navigation.go("compare")
    if len(hits) > SHOWN:
        st.caption(f"The first {SHOWN} of {len(hits)} are shown; a smaller region finds fewer.")
