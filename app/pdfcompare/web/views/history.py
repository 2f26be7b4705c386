"""History: the user's comparisons, newest first; open one in the viewer, or delete it.
Admins can switch to everyone's comparisons."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ...storage import NotFoundError
from .. import navigation
from ..context import Ctx
from ..text import md, summary_line, when
from ..workspace import open_comparison

__all__ = ["render", "admin_toggle"]

PAGE_SIZE = 25
STATUS_ICONS = {"done": ":green[:material/check_circle:]", "failed": ":red[:material/error:]",
                "running": ":blue[:material/progress_activity:]", "queued": ":gray[:material/schedule:]"}


def admin_toggle(ctx: Ctx) -> None:
    """The "all users" switch an admin sees on History and Documents."""
    if ctx.user.is_admin:
        st.toggle("All users", key="all_users", help="Show every user's items (you are an administrator).")


def render(ctx: Ctx) -> None:
    st.title("History")
    admin_toggle(ctx)
    limit = st.session_state.setdefault("history_limit", PAGE_SIZE)
    records = ctx.storage.list_comparisons(ctx.list_user, limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    if not records:
        st.info("No comparisons yet. Compare two versions of a document on the **Compare** page.",
                icon=":material/history:")
        return
    everyone = ctx.list_user.is_admin
    pending = st.session_state.get("confirm_delete_comparison")
    for record in records:
        _row(ctx, record, everyone, pending == record.id)
    if more and st.button("Show more", key="history_more"):
        st.session_state["history_limit"] = limit + PAGE_SIZE
        st.rerun()


def _row(ctx: Ctx, record: Any, everyone: bool, confirming: bool) -> None:
    with st.container(border=True):
        text_col, open_col, delete_col = st.columns([7, 1.3, 1.3], vertical_alignment="center")
        with text_col:
            icon = STATUS_ICONS.get(record.status, "")
            st.markdown(f"{icon} **{md(record.old_filename)}** → **{md(record.new_filename)}**")
            details = [when(record.created_at)]
            if record.status == "done":
                details.append(summary_line(record.summary))
                if record.cached:
                    details.append("from the shared cache")
            elif record.status == "failed":
                details.append(f"failed: {record.error or 'unknown error'}")
            else:
                details.append(record.status)
            if everyone:
                details.append(f"owner {record.owner}")
            st.caption(md(" · ".join(details)))
        if open_col.button("Open", key=f"open_{record.id}", icon=":material/open_in_new:", width="stretch"):
            open_comparison(record.id)
            navigation.go("compare")
        if delete_col.button("Delete", key=f"delete_{record.id}", icon=":material/delete:", width="stretch"):
            st.session_state["confirm_delete_comparison"] = record.id
            st.rerun()
        if confirming:
            st.warning("Delete this comparison? Its documents stay in your documents.",
                       icon=":material/delete:")
            yes, no, _ = st.columns([1.5, 1, 5])
            if yes.button("Delete it", key=f"confirm_delete_{record.id}", type="primary"):
                _delete(ctx, record.id)
            if no.button("Keep it", key=f"keep_{record.id}"):
                st.session_state.pop("confirm_delete_comparison", None)
                st.rerun()


def _delete(ctx: Ctx, comparison_id: int) -> None:
    st.session_state.pop("confirm_delete_comparison", None)
    try:
        ctx.storage.delete_comparison(ctx.user, comparison_id)
    except NotFoundError as exc:
        st.warning(str(exc))
        return
    if st.session_state.get("comparison_id") == comparison_id:
        open_comparison(None)
    st.toast("Comparison deleted.", icon=":material/delete:")
    st.rerun()
