"""The user's working state (open comparison, page, filters, chosen documents), kept in Redis.

Saved with ``Cache.save_workspace`` whenever it changed at the end of a script run, and restored
into a new session (a reload, another tab, a reconnect to another instance) before any widget is
drawn, so the person finds the view they left. Without Redis nothing is saved and nothing breaks.
Restored values are only hints: every id is checked against the storage with the user's identity
before anything is shown.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from .context import Ctx
from .state import preset

__all__ = ["restore", "save", "open_comparison", "KEYS"]

KEYS: dict[str, type] = {
    "comparison_id": int,
    "entry": int,
    "change": int,
    "kinds": list,
    "only_changed": bool,
    "old_pick": int,
    "new_pick": int,
}
"""Session keys that make up the workspace, with their types."""
_RESTORED = "_workspace_restored"
_SAVED = "_workspace_saved"


def restore(ctx: Ctx) -> None:
    """Once per session: take the saved workspace into the session state."""
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    saved = ctx.cache.load_workspace(ctx.user.id) or {}
    for key, kind in KEYS.items():
        value = saved.get(key)
        if value is None or key in st.session_state:
            continue
        if _valid(kind, value):
            preset(key, value)
    st.session_state[_SAVED] = current()


def _valid(kind: type, value: Any) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, kind)


def current() -> dict[str, Any]:
    """The workspace as it is now."""
    return {key: st.session_state.get(key) for key in KEYS}


def save(ctx: Ctx) -> None:
    """Save the workspace if it changed since the last save."""
    state = current()
    if state != st.session_state.get(_SAVED) and ctx.cache.save_workspace(ctx.user.id, state):
        st.session_state[_SAVED] = state


def open_comparison(comparison_id: int | None, *, change: int | None = None, entry: int = 0) -> None:
    """Make ``comparison_id`` the open comparison (at ``entry``, with ``change`` selected)."""
    st.session_state["comparison_id"] = comparison_id
    st.session_state["change"] = change
    preset("entry", entry)
    preset("change_page", 0)
    st.session_state.pop("kinds", None)
    for key in [k for k in st.session_state if str(k).startswith(("ai_", "annotated_"))]:
        del st.session_state[key]
