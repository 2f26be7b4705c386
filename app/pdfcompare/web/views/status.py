"""The status section of the sidebar (instance, version, what is degraded) and the page shown when
the service has no database."""

from __future__ import annotations

import streamlit as st

from ... import __version__
from ..context import Ctx
from ..text import md

__all__ = ["sidebar", "not_configured", "notes"]


def notes(ctx: Ctx) -> list[str]:
    """Calm, one-sentence notes about what does not work fully right now."""
    out = []
    cache = ctx.cache
    if not cache.enabled:
        out.append("Results and your open view are kept on this instance only (no Redis is configured).")
    elif not cache.available:
        out.append("Results are not shared between instances right now, and your open view is not saved; "
                   "everything else works as usual.")
    pool = ctx.services.workers
    if not pool.inline and pool.queue_depth > 0:
        waiting = pool.queue_depth
        out.append(f"The instance is busy: {waiting} job{'s' if waiting != 1 else ''} waiting for a worker.")
    return out


def sidebar(ctx: Ctx) -> None:
    """Who you are, where you are, and what is degraded (drawn at the end of every run)."""
    settings = ctx.settings
    with st.sidebar:
        if ctx.user.anonymous:
            who = "Anonymous workspace (this browser)"
        else:
            who = f"Signed in as {md(ctx.user.name)}" + (" · admin" if ctx.user.is_admin else "")
        st.caption(who)
        for note in notes(ctx):
            st.caption(f":material/info: {note}")
        st.caption(f"PDF Compare {__version__} · instance {settings.instance}")


def not_configured(ctx: Ctx) -> None:
    """The whole page when no database is configured."""
    st.title("PDF Compare")
    st.warning("**The service is not configured.** It has no database, so it cannot store documents or "
               "comparisons yet.", icon=":material/settings:")
    st.write("An administrator sets `PDFCOMPARE_DATABASE_URL` (and runs `pdfcompare migrate`); the "
             "command line tool `pdfcompare compare OLD.pdf NEW.pdf` works without it.")
    st.caption(f"PDF Compare {__version__} · instance {ctx.settings.instance}")
