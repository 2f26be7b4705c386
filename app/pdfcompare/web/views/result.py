"""The open comparison: its progress while it runs, then the result — counts, downloads, the page
viewer (old and new side by side, following the page map), the change list and the AI panel.

Every draw starts with ``Storage.get_comparison(user, id)``: an id from the workspace, a link or
anywhere else shows nothing unless the user may see that comparison.
"""

from __future__ import annotations

import json
import time
from pathlib import PurePath
from typing import Any

import streamlit as st

from ...jobs import ANNOTATED_PDF, BuildAnnotatedPdf
from ...storage import NotFoundError
from .. import images, tasks
from ..context import Ctx
from ..reports import ReportView, entry_label, load_report
from ..state import default_of, index_of, preset, touched
from ..text import KIND_LABELS, change_md, change_title, md, when
from . import ai_panel

__all__ = ["show"]

CHANGES_PER_PAGE = 25
CHANGE_CHOICE = "change_choice"
"""Key of the change list (a radio: choosing a change shows its page)."""
LEGEND = (":red[■ removed] · :green[■ added] · :blue[■ moved] · :orange[■ drawing changed] — old version "
          "on the left, new version on the right")
_STALE_AFTER_S = 120.0
_RECORD = "_open_record"
_RECORD_TTL_S = 20.0


def _record(ctx: Ctx, comparison_id: int) -> Any:
    """The comparison as the user may see it. A finished one is kept in the session for a few
    seconds (it no longer changes), so page interactions do not each ask the database."""
    kept = st.session_state.get(_RECORD)
    now = time.monotonic()
    if kept and kept[0] == (ctx.user.id, comparison_id) and now - kept[1] < _RECORD_TTL_S:
        return kept[2]
    record = ctx.storage.get_comparison(ctx.user, comparison_id)
    if record.status in ("done", "failed"):
        st.session_state[_RECORD] = ((ctx.user.id, comparison_id), now, record)
    return record


def show(ctx: Ctx, comparison_id: int) -> bool:
    """Draw comparison ``comparison_id``; False when the user has no such comparison."""
    try:
        record = _record(ctx, comparison_id)
    except NotFoundError as exc:
        st.session_state["comparison_id"] = None
        st.warning(str(exc), icon=":material/search_off:")
        return False
    _heading(record)
    if record.status in ("queued", "running"):
        _progress(ctx, record)
        return True
    if record.status == "failed":
        st.error(record.error or "The comparison failed.", icon=":material/error:")
        return True
    view = load_report(ctx.storage, ctx.user, comparison_id)
    jump = st.session_state.pop("_jump_to_change", None)
    if jump is not None and 0 <= jump < len(view.changes):
        _select(view, jump)
    _summary(record, view)
    _downloads(ctx, record, view)
    task = tasks.get(record.id)
    if task is not None and task.indexing:
        st.caption(f":material/hourglass_top: {task.indexing}…")
    _viewer(ctx, record, view)
    _change_list(view)
    ai_panel.show(ctx, record, view)
    return True


def _heading(record: Any) -> None:
    st.subheader(f"{md(record.old_filename)} → {md(record.new_filename)}", anchor=False)
    details = [f"compared {when(record.finished_at or record.created_at)}"]
    if record.cached:
        details.append("result reused from the shared cache")
    if record.timings and record.timings.get("total"):
        details.append(f"took {record.timings['total']:.1f} s")
    if record.instance:
        details.append(f"on {record.instance}")
    st.caption(" · ".join(details))


# --- a running comparison -----------------------------------------------------------------------


def _progress(ctx: Ctx, record: Any) -> None:
    task = tasks.get(record.id)
    comparison_id = record.id

    def body() -> None:
        if task is not None and not task.done:
            view = task.view()
        else:
            current = ctx.storage.get_comparison(ctx.user, comparison_id)
            if current.status in ("done", "failed"):
                st.rerun()
            if task is not None:  # finished here; the database has not shown it yet (replica lag)
                view = tasks.ProgressView("running", tasks.stage_label("saving"), 0.98)
            else:
                view = tasks.progress_of(current, ctx.cache.get_progress(comparison_id),
                                         ctx.settings.instance)
                if view.state not in ("queued", "running"):  # the database will say so in a moment
                    st.error(view.error or view.label, icon=":material/error:")
                    return
                if _stale(current, view, ctx.settings.compare_timeout_s):
                    st.warning("This comparison stopped without a result (the instance running it went "
                               "away). Please start it again.", icon=":material/warning:")
                    return
        st.progress(view.fraction, text=view.label)
        if view.instance:
            st.caption(f"Running on {view.instance}; you can leave this page and come back.")
        else:
            st.caption("You can leave this page and come back: the comparison keeps running.")
        if task is not None and not task.done:
            st.button("Cancel", key="cancel_compare", icon=":material/cancel:", on_click=task.cancel)

    st.fragment(body, run_every=0.25 if task is not None else 1.0, key="progress")()


def _stale(record: Any, view: tasks.ProgressView, timeout_s: float) -> bool:
    started = record.started_at or record.created_at
    if started is None:
        return False
    age = time.time() - started.timestamp()
    if view.updated_at is not None:
        return time.time() - float(view.updated_at) > timeout_s + _STALE_AFTER_S
    return age > timeout_s + _STALE_AFTER_S


# --- result -------------------------------------------------------------------------------------


def _summary(record: Any, view: ReportView) -> None:
    counts = view.summary
    columns = st.columns(6)
    columns[0].metric("Text changes", counts.get("text", 0))
    columns[1].metric("Page changes", counts.get("page", 0))
    columns[2].metric("Drawing changes", counts.get("geometry", 0))
    columns[3].metric("Image changes", counts.get("raster", 0))
    columns[4].metric("Old pages", view.old_pages)
    columns[5].metric("New pages", view.new_pages)
    if not view.changes:
        st.success("The two versions have no differences.", icon=":material/check_circle:")


def _stem(name: str) -> str:
    return PurePath(name).stem[:60] or "document"


def _downloads(ctx: Ctx, record: Any, view: ReportView) -> None:
    name = f"{_stem(record.old_filename)}_vs_{_stem(record.new_filename)}"
    left, right, _ = st.columns([1, 1, 2])
    with left:
        text = view.json_text
        st.download_button("JSON report", data=lambda: json.dumps(json.loads(text), indent=2),
                           file_name=f"{name}.json", mime="application/json", on_click="ignore",
                           icon=":material/data_object:", key="download_json", width="stretch")
    with right:
        _annotated(ctx, record, name)


def _annotated(ctx: Ctx, record: Any, name: str) -> None:
    key = f"annotated_{record.id}"
    state = st.session_state.get(key)
    storage, user, comparison_id = ctx.storage, ctx.user, record.id
    if state == "ready":
        st.download_button("Annotated PDF",
                           data=lambda: storage.get_artifact(user, comparison_id, ANNOTATED_PDF),
                           file_name=f"{name}_annotated.pdf", mime="application/pdf", on_click="ignore",
                           icon=":material/download:", key="download_pdf", width="stretch")
        return
    if state is None:
        if st.button("Prepare annotated PDF", icon=":material/picture_as_pdf:", key="prepare_pdf",
                     width="stretch", help="Both versions in one PDF, each old page followed by its new "
                     "page, changes marked as PDF annotations."):
            st.session_state[key] = ctx.services.workers.submit(BuildAnnotatedPdf(record.owner, record.id))
            st.rerun()
        return
    if isinstance(state, str):  # an error message
        st.caption(f":material/error: {state}")
        return
    handle = state

    def body() -> None:
        if handle.done:
            st.session_state[key] = "ready" if handle.state == "done" else (
                handle.error_message or "The annotated PDF could not be made.")
            st.rerun()
        progress = handle.progress
        fraction = progress.fraction if progress is not None else 0.0
        st.progress(fraction, text="Preparing the annotated PDF…")

    st.fragment(body, run_every=0.3, key="annotated")()


# --- page viewer ----------------------------------------------------------------------------------


def _step(options: list[int], delta: int) -> None:
    current = st.session_state.get("entry")
    position = options.index(current) if current in options else 0
    preset("entry", options[max(0, min(len(options) - 1, position + delta))])


def _viewer(ctx: Ctx, record: Any, view: ReportView) -> None:
    st.subheader("Pages", anchor=False)
    if not view.entries:
        st.info("Both documents are empty.")
        return
    with_changes = view.entries_with_changes
    only_changed = bool(with_changes) and bool(st.session_state.get("only_changed", True))
    options = with_changes if only_changed else list(range(len(view.entries)))
    current = st.session_state.get("entry")
    if current not in options:
        current = current if isinstance(current, int) else 0
        preset("entry", min(options, key=lambda e: (abs(e - current), e)))
    position = options.index(st.session_state["entry"])
    prev_col, select_col, next_col, toggle_col = st.columns([1.6, 5, 1.6, 2.6], vertical_alignment="bottom")
    prev_col.button("Previous", key="prev_entry", icon=":material/chevron_left:", on_click=_step,
                    args=(options, -1), disabled=position == 0, width="stretch")
    select_col.selectbox("Page", options, key="entry", format_func=lambda e: entry_label(view, e),
                         **index_of("entry", options, options[0]))
    next_col.button("Next", key="next_entry", icon=":material/chevron_right:", on_click=_step,
                    args=(options, 1), disabled=position >= len(options) - 1, width="stretch")
    toggle_col.toggle("Only pages with changes", key="only_changed", disabled=not with_changes,
                      **default_of("only_changed", "value", only_changed))
    entry = st.session_state["entry"]
    selected = st.session_state.get("change")
    if isinstance(selected, int) and selected in view.changes_on(entry):
        change = view.changes[selected]
        st.info(f"**{md(change_title(change))}** — {change_md(change, 400)}", icon=":material/my_location:")
    _images(ctx, record, view, entry)
    st.caption(LEGEND)
    following = options[position + 1] if position + 1 < len(options) else None
    if following is not None:
        nxt = view.entries[following]
        images.prefetch(ctx.services, record.owner, record.id,
                        [(side, page) for side, page in (("old", nxt.old), ("new", nxt.new)) if page])


def _images(ctx: Ctx, record: Any, view: ReportView, entry: int) -> None:
    e = view.entries[entry]
    sides = (("old", e.old, record.old_filename), ("new", e.new, record.new_filename))

    def fetch() -> dict[str, images.PageImage | None]:
        return {side: (images.page_image(ctx.services, record.owner, record.id, side, page)
                       if page is not None else None) for side, page, _ in sides}

    def draw(found: dict[str, images.PageImage | None]) -> None:
        columns = st.columns(2, gap="medium")
        for (side, page, filename), column in zip(sides, columns, strict=True):
            with column:
                image = found[side]
                label = "Old" if side == "old" else "New"
                st.markdown(f"**{label}** · {md(filename)}" + (f" · page {page}" if page else ""))
                if image is None:
                    if side == "old":
                        st.info("This page is new: the old version has no page here.", icon=":material/add:")
                    else:
                        st.info("This page was deleted: the new version has no page here.",
                                icon=":material/remove:")
                elif image.png is not None:
                    st.image(image.png, width="stretch", output_format="PNG",
                             alt=f"{label} version, page {page}, changes highlighted")
                elif image.error:
                    st.warning(image.error, icon=":material/broken_image:")
                else:
                    st.info("Rendering the page…", icon=":material/hourglass_top:")

    found = fetch()
    if not any(image is not None and image.pending for image in found.values()):
        draw(found)
        return

    def poll() -> None:
        current = fetch()
        if not any(image is not None and image.pending for image in current.values()):
            st.rerun()  # all there: draw them in a normal run (this fragment stops polling)
        draw(current)

    st.fragment(poll, run_every=0.3, key="page_images")()


# --- change list ----------------------------------------------------------------------------------


def _select(view: ReportView, idx: int) -> None:
    st.session_state["change"] = idx
    entry = view.entry_of(idx)
    if entry not in view.entries_with_changes:
        preset("only_changed", False)
    preset("entry", entry)


def _first_changes() -> None:
    preset("change_page", 0)


def _change_list(view: ReportView) -> None:
    if not view.changes:
        return
    st.subheader(f"Changes ({len(view.changes)})", anchor=False)
    kinds = view.kinds
    chosen = st.session_state.get("kinds")
    if chosen is not None and (not isinstance(chosen, list) or not set(chosen) <= set(kinds)):
        preset("kinds", list(kinds))
    filter_col, page_col = st.columns([3, 1], vertical_alignment="bottom")
    chosen = filter_col.multiselect("Show", kinds, key="kinds", format_func=lambda k: KIND_LABELS.get(k, k),
                                    placeholder="Choose kinds of change", on_change=_first_changes,
                                    **default_of("kinds", "default", list(kinds)))
    shown = [c for c in view.changes if c.get("kind") in chosen]
    pages = max(1, (len(shown) + CHANGES_PER_PAGE - 1) // CHANGES_PER_PAGE)
    if st.session_state.get("change_page", 0) not in range(pages):
        preset("change_page", 0)
    if pages > 1:
        def span(p: int) -> str:
            return f"{p * CHANGES_PER_PAGE + 1}–{min(len(shown), (p + 1) * CHANGES_PER_PAGE)} of {len(shown)}"

        page_col.selectbox("Changes", range(pages), key="change_page", format_func=span,
                           **index_of("change_page", range(pages), 0))
    if not shown:
        st.caption("No changes of the chosen kinds.")
        return
    start = st.session_state.get("change_page", 0) * CHANGES_PER_PAGE
    options = [c["idx"] for c in shown[start:start + CHANGES_PER_PAGE]]
    selected = st.session_state.get("change")
    if st.session_state.get(CHANGE_CHOICE) != selected:
        if selected in options:
            preset(CHANGE_CHOICE, selected)
        else:
            st.session_state.pop(CHANGE_CHOICE, None)  # nothing of this list is selected
    index = {} if touched(CHANGE_CHOICE) else {
        "index": options.index(selected) if selected in options else None}
    with st.container(border=True, key="changes"):
        st.radio("Changes", options, key=CHANGE_CHOICE, label_visibility="collapsed", on_change=_chosen,
                 args=(view,), format_func=lambda idx: _change_label(view, idx), **index)


def _change_label(view: ReportView, idx: int) -> str:
    if not 0 <= idx < len(view.changes):
        return "—"
    change = view.changes[idx]
    return f"**{change_title(change)}** — {change_md(change)}"


def _chosen(view: ReportView) -> None:
    idx = st.session_state.get(CHANGE_CHOICE)
    if isinstance(idx, int):
        _select(view, idx)
