"""The Compare page: choose two versions (upload, or earlier documents), compare, see the result.

The order on a click is deliberate: sizes were checked when the files arrived (an over-limit file
never gets a Compare button); then an earlier identical comparison of the user is reused; then the
rate limit is asked; only then are the files stored and the comparison created and handed to the
worker pool (:mod:`pdfcompare.web.tasks`). The click's run ends right after that; the progress and
the result are drawn by :mod:`pdfcompare.web.views.result`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import streamlit as st

from ... import metrics
from ...jobs import ENGINE_VERSION, normalize_options
from ...storage import NotFoundError, StoredDocument, options_hash
from .. import tasks
from ..context import Ctx
from ..state import index_of, preset
from ..text import clip, human_size, md
from ..workspace import open_comparison
from . import result

__all__ = ["render", "Source", "my_documents"]

SIDES = {"old": "Old version", "new": "New version"}
_DOCS_TTL_S = 15.0
FLASH = "_flash"


@dataclass(frozen=True, slots=True)
class Source:
    """One side of the comparison the user chose: an upload (``data``) or a stored ``document``."""

    name: str
    size: int
    data: bytes | None = None
    document: StoredDocument | None = None
    problem: str | None = None
    """Why it cannot be compared (too large, unreadable earlier); shown under the input."""

    @property
    def sha256(self) -> str:
        if self.document is not None:
            return self.document.sha256
        return hashlib.sha256(self.data or b"").hexdigest()


def flash(kind: str, text: str) -> None:
    """Show ``text`` once at the top of the Compare page on the next run."""
    st.session_state[FLASH] = (kind, text)


def my_documents(ctx: Ctx, refresh: bool = False) -> list[StoredDocument]:
    """The user's own documents (newest first), cached in the session for a few seconds."""
    import time

    cached = st.session_state.get("_my_docs")
    now = time.monotonic()
    if not refresh and cached and cached[0] == ctx.user.id and now - cached[1] < _DOCS_TTL_S:
        return cached[2]
    own = ctx.user if not ctx.user.is_admin else _own(ctx)
    docs = ctx.storage.list_documents(own, limit=200)
    st.session_state["_my_docs"] = (ctx.user.id, now, docs)
    return docs


def _own(ctx: Ctx) -> Any:
    from dataclasses import replace

    return replace(ctx.user, is_admin=False)


def forget_documents() -> None:
    """The document list changed (upload, delete): read it again next time."""
    st.session_state.pop("_my_docs", None)


def render(ctx: Ctx) -> None:
    _query_params()
    st.title("Compare two versions")
    shown = st.session_state.pop(FLASH, None)
    if shown:
        getattr(st, shown[0])(shown[1])
    comparison_id = st.session_state.get("comparison_id")
    if comparison_id is not None:
        st.button("New comparison", key="new_comparison", icon=":material/add:", on_click=open_comparison,
                  args=(None,), help="Choose two other versions (this result stays in your history)")
        if result.show(ctx, int(comparison_id)):
            return
    sources = _inputs(ctx)
    if not any(sources.values()):
        st.caption("Upload the old and the new version of a PDF (or pick documents you uploaded before) and "
                   "press **Compare**. Text, pages, drawings and scanned pages are compared; the changes are "
                   "highlighted on both versions.")


def _query_params() -> None:
    """``?comparison=ID`` (and ``&change=IDX``) opens a comparison; ids are checked like any other."""
    value = st.query_params.get("comparison")
    if value is None:
        return
    change = st.query_params.get("change")
    del st.query_params["comparison"]
    if "change" in st.query_params:
        del st.query_params["change"]
    try:
        comparison_id = int(value)
        change_idx = int(change) if change is not None else None
    except ValueError:
        st.warning("The link does not name a comparison.")
        return
    open_comparison(comparison_id, change=change_idx)
    if change_idx is not None:
        st.session_state["_jump_to_change"] = change_idx


# --- inputs ---------------------------------------------------------------------------------------


def _inputs(ctx: Ctx) -> dict[str, Source | None]:
    docs = my_documents(ctx)
    columns = st.columns(2, gap="large")
    sources: dict[str, Source | None] = {}
    for (side, label), column in zip(SIDES.items(), columns, strict=True):
        with column:
            sources[side] = _source(ctx, side, label, docs)
    button_col, options_col, _ = st.columns([1.3, 1.3, 6], vertical_alignment="center")
    with options_col.popover("Options", icon=":material/tune:", width="stretch"):
        options = _options()
    ready = all(s is not None and s.problem is None for s in sources.values())
    clicked = button_col.button("Compare", type="primary", icon=":material/difference:", disabled=not ready,
                                key="compare_button", width="stretch")
    if clicked and ready:
        _start(ctx, sources["old"], sources["new"], options)  # type: ignore[arg-type]
    return sources


def _source(ctx: Ctx, side: str, label: str, docs: list[StoredDocument]) -> Source | None:
    limit_mb = ctx.settings.max_upload_mb
    upload = st.file_uploader(f"{label} (PDF)", type=["pdf"], key=f"{side}_upload",
                              help=f"Files up to {limit_mb} MB.")
    ids = [d.id for d in docs]
    pick_key = f"{side}_pick"
    if st.session_state.get(pick_key) not in (None, *ids):
        preset(pick_key, None)
    by_id = {d.id: d for d in docs}
    picked = st.selectbox(
        f"{label} from your documents", [None, *ids], key=pick_key, disabled=upload is not None,
        format_func=lambda i: _doc_label(by_id[i]) if i in by_id else "—",
        placeholder="…or pick a document you uploaded before", **index_of(pick_key, [None, *ids], None))
    if upload is not None:
        if upload.size > ctx.settings.max_upload_bytes:
            seen = st.session_state.setdefault("_too_large_seen", set())
            if upload.file_id not in seen:
                seen.add(upload.file_id)
                metrics.count_error("upload_too_large")
            problem = (f"{upload.name} is {upload.size / 1048576:.1f} MB; files up to {limit_mb} MB can be "
                       "compared. Please upload a smaller file (for example without embedded images, or "
                       "only the pages you need).")
            st.error(problem, icon=":material/block:")
            return Source(upload.name, upload.size, problem=problem)
        st.caption(f":material/check: {md(upload.name)} · {human_size(upload.size)}")
        return Source(upload.name, upload.size, data=upload.getvalue())
    if picked is not None:
        document = by_id[picked]
        if document.status == "failed":
            problem = f"{document.filename} cannot be compared: {document.error or 'it could not be read.'}"
            st.error(problem, icon=":material/error:")
            return Source(document.filename, document.size_bytes, document=document, problem=problem)
        st.caption(f":material/check: {md(document.filename)} · {_doc_label(document).split(' · ', 1)[1]}")
        return Source(document.filename, document.size_bytes, document=document)
    return None


def _doc_label(document: StoredDocument) -> str:
    pages = f"{document.page_count} pages" if document.page_count else document.status
    return f"{clip(document.filename, 60)} · {pages} · {human_size(document.size_bytes)}"


def _options() -> dict[str, Any]:
    left, right = st.columns(2)
    with left:
        ignore_case = st.checkbox("Ignore upper and lower case", key="opt_ignore_case")
        ocr = st.selectbox("Text recognition (OCR) on scanned pages", ["auto", "on", "off"], key="opt_ocr",
                           format_func={"auto": "Automatic (pages without text)", "on": "Every page",
                                        "off": "Off"}.get)
    with right:
        text = st.checkbox("Compare text", value=True, key="opt_text")
        geometry = st.checkbox("Compare drawings (lines and shapes)", value=True, key="opt_geometry")
        raster = st.checkbox("Compare pictures and scans", value=True, key="opt_raster")
    return {"ignore_case": ignore_case, "ocr": ocr, "text": text, "geometry": geometry, "raster": raster}


# --- starting a comparison ----------------------------------------------------------------------


def _start(ctx: Ctx, old: Source, new: Source, choices: dict[str, Any]) -> None:
    user, storage = ctx.user, ctx.storage
    options = normalize_options(choices)
    existing = storage.find_comparison(user, old.sha256, new.sha256, options_hash(options), ENGINE_VERSION)
    if existing is not None:
        open_comparison(existing.id)
        flash("info", "You compared these two files with the same options before; this is that result.")
        st.rerun()
    decision = ctx.cache.allow_compare(user.id)
    if not decision.allowed:
        st.warning(f"You have started {decision.limit} comparisons in the last minute, the most allowed. "
                   f"The next one can start in {decision.retry_after_s} seconds.", icon=":material/timer:")
        return
    documents = []
    with st.spinner("Saving the files…"):
        for source in (old, new):
            if source.document is not None:
                documents.append(source.document)
                continue
            metrics.count_upload(source.size)
            documents.append(storage.add_document(user, source.name, source.data or b""))
    forget_documents()
    for document, source in zip(documents, (old, new), strict=True):
        if document.status == "failed":
            st.error(f"{md(source.name)} cannot be compared: {md(document.error or 'it could not be read.')}",
                     icon=":material/error:")
            return
    try:
        record = storage.create_comparison(user, documents[0].id, documents[1].id, options, ENGINE_VERSION,
                                           ctx.settings.instance)
    except NotFoundError as exc:  # a picked document was deleted meanwhile
        st.warning(str(exc))
        return
    to_read = list(dict.fromkeys(d.id for d in documents if d.status != "ready"))
    tasks.start(ctx.services, user.id, record.id, to_read)
    open_comparison(record.id)
    st.rerun()
