"""Documents: the files the user uploaded, a full-text search in them (snippets with page numbers),
and deleting a document (with the comparisons that use it). Admins can list everyone's."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ...storage import NotFoundError
from .. import navigation
from ..context import Ctx
from ..text import human_size, md, snippet_md, when
from ..workspace import open_comparison
from .compare import forget_documents
from .history import admin_toggle

__all__ = ["render"]

PAGE_SIZE = 50
STATUS_TEXT = {"ready": "ready", "ingesting": "being read…", "failed": "could not be read"}


def render(ctx: Ctx) -> None:
    st.title("Documents")
    _search(ctx)
    st.subheader("Your documents", anchor=False)
    admin_toggle(ctx)
    limit = st.session_state.setdefault("documents_limit", PAGE_SIZE)
    documents = ctx.storage.list_documents(ctx.list_user, limit=limit + 1)
    more = len(documents) > limit
    documents = documents[:limit]
    if not documents:
        st.info("No documents yet. Files you upload on the **Compare** page are kept here.",
                icon=":material/description:")
        return
    pending = st.session_state.get("confirm_delete_document")
    for document in documents:
        _row(ctx, document, ctx.list_user.is_admin, pending == document.id)
    if more and st.button("Show more", key="documents_more"):
        st.session_state["documents_limit"] = limit + PAGE_SIZE
        st.rerun()


def _search(ctx: Ctx) -> None:
    with st.form("search_form", border=False):
        query_col, button_col = st.columns([6, 1], vertical_alignment="bottom")
        query = query_col.text_input("Search in your documents", key="search_query",
                                     placeholder='Words, "an exact phrase", -excluded, or')
        button_col.form_submit_button("Search", icon=":material/search:", width="stretch")
    query = (query or "").strip()
    if not query:
        return
    hits = ctx.storage.search(ctx.user, query, limit=30)
    if not hits:
        st.info(f"Nothing found for {md(query)}.", icon=":material/search_off:")
        return
    st.caption(f"{len(hits)} page{'s' if len(hits) != 1 else ''} found, best first")
    for hit in hits:
        with st.container(border=True):
            st.markdown(f"**{md(hit.filename)}** · page {hit.page_no}")
            st.markdown(snippet_md(hit.snippet))


def _row(ctx: Ctx, document: Any, everyone: bool, confirming: bool) -> None:
    with st.container(border=True):
        text_col, old_col, new_col, delete_col = st.columns([6, 1.3, 1.3, 1.3], vertical_alignment="center")
        with text_col:
            st.markdown(f"**{md(document.filename)}**")
            details = [human_size(document.size_bytes)]
            if document.page_count:
                details.append(f"{document.page_count} page{'s' if document.page_count != 1 else ''}")
            details.append(f"uploaded {when(document.created_at)}")
            details.append(STATUS_TEXT.get(document.status, document.status))
            if everyone:
                details.append(f"owner {document.owner}")
            st.caption(md(" · ".join(details)))
            if document.status == "failed" and document.error:
                st.caption(f":red[{md(document.error)}]")
        own = document.owner == ctx.user.id
        usable = own and document.status != "failed"
        if old_col.button("As old", key=f"use_old_{document.id}", disabled=not usable, width="stretch",
                          help="Use as the old version on the Compare page"):
            _use(document.id, "old")
        if new_col.button("As new", key=f"use_new_{document.id}", disabled=not usable, width="stretch",
                          help="Use as the new version on the Compare page"):
            _use(document.id, "new")
        if delete_col.button("Delete", key=f"delete_doc_{document.id}", icon=":material/delete:",
                             width="stretch"):
            st.session_state["confirm_delete_document"] = document.id
            st.rerun()
        if confirming:
            st.warning("Delete this document? Comparisons that use it are deleted with it.",
                       icon=":material/delete:")
            yes, no, _ = st.columns([1.5, 1, 5])
            if yes.button("Delete it", key=f"confirm_delete_doc_{document.id}", type="primary"):
                _delete(ctx, document.id)
            if no.button("Keep it", key=f"keep_doc_{document.id}"):
                st.session_state.pop("confirm_delete_document", None)
                st.rerun()


def _use(document_id: int, side: str) -> None:
    st.session_state[f"{side}_pick"] = document_id
    open_comparison(None)
    navigation.go("compare")


def _delete(ctx: Ctx, document_id: int) -> None:
    st.session_state.pop("confirm_delete_document", None)
    try:
        gone = ctx.storage.delete_document(ctx.user, document_id)
    except NotFoundError as exc:
        st.warning(str(exc))
        return
    forget_documents()
    current = st.session_state.get("comparison_id")
    if current is not None:
        try:
            ctx.storage.get_comparison(ctx.user, current)
        except NotFoundError:
            open_comparison(None)
    for side in ("old", "new"):
        if st.session_state.get(f"{side}_pick") == document_id:
            st.session_state[f"{side}_pick"] = None
    note = f" and {gone} comparison{'s' if gone != 1 else ''}" if gone else ""
    st.toast(f"Document{note} deleted.", icon=":material/delete:")
    st.rerun()
