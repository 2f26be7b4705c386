"""A few style rules (sent as a style-only element, which takes no room on the page)."""

from __future__ import annotations

import streamlit as st

__all__ = ["apply"]

_CSS = """
<style>
/* page images: a thin frame so white pages stand out from the white background */
[data-testid="stImage"] img { border: 1px solid rgba(49, 51, 63, 0.2); border-radius: 2px; }
/* the change list: a little air between the entries */
.st-key-changes [role="radiogroup"] label { padding: 2px 0; }
[data-testid="stMetricValue"] { font-size: 1.8rem; }
</style>
"""


def apply() -> None:
    st.html(_CSS)
