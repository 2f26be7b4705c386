"""The app's pages (``st.navigation``) and the way views send the user to another page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from .context import Ctx

__all__ = ["build", "go"]

_PAGES = "_pages"
"""Session key: the ``st.Page`` objects of this session's current run, by name."""


def build(ctx: Ctx) -> Any:
    """Register the pages for this run and return the one to show."""
    from .views import compare, documents, history, region

    registered: dict[str, Any] = {}

    def page(fn: Any, title: str, icon: str, name: str, default: bool = False) -> Any:
        p = st.Page(lambda: fn(ctx), title=title, icon=icon, url_path=name, default=default)
        registered[name] = p
        return p

    pages = [
        page(compare.render, "Compare", ":material/difference:", "compare", default=True),
        page(history.render, "History", ":material/history:", "history"),
        page(documents.render, "Documents", ":material/description:", "documents"),
        page(region.render, "Region", ":material/crop_free:", "region"),
    ]
    st.session_state[_PAGES] = registered
    return st.navigation(pages, position="sidebar")


def go(name: str) -> None:
    """Show page ``name`` (stops this run)."""
    st.switch_page(st.session_state[_PAGES][name])
