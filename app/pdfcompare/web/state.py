"""Widget values the app sets itself (a restored workspace, a click on a change that moves the
page viewer), set so that the browser always shows them.

A value written to ``st.session_state`` for a widget reaches the browser only with the run that
wrote it; if the browser mounts the widget again later (a fragment's timer racing a full rerun can
cause that), it falls back to the widget's default. So every widget here also gets the value as its
default (``index``, ``default``, ``value``) — except in the run that wrote it, where Streamlit wants
the session state alone. :func:`preset` writes and remembers the key for the current run;
:func:`end_run` forgets them (called at the end of every run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

__all__ = ["preset", "touched", "end_run", "index_of", "default_of"]

_TOUCHED = "_preset_keys"


def preset(key: str, value: Any) -> None:
    """Set widget ``key`` to ``value`` (in a callback, or in the script before the widget)."""
    st.session_state[key] = value
    keys = st.session_state.get(_TOUCHED)
    if not isinstance(keys, set):
        keys = set()
        st.session_state[_TOUCHED] = keys
    keys.add(key)


def touched(key: str) -> bool:
    """``key`` was preset for this run."""
    keys = st.session_state.get(_TOUCHED)
    return isinstance(keys, set) and key in keys


def end_run() -> None:
    st.session_state.pop(_TOUCHED, None)


def index_of(key: str, options: Sequence[Any], wanted: Any) -> dict[str, Any]:
    """Keyword arguments for a selectbox or radio showing ``wanted`` (see the module docstring)."""
    if touched(key):
        return {}
    value = st.session_state.get(key, wanted)
    return {"index": list(options).index(value) if value in options else 0}


def default_of(key: str, name: str, wanted: Any) -> dict[str, Any]:
    """Keyword arguments ``{name: value}`` for a multiselect (``default``) or a toggle (``value``)."""
    if touched(key):
        return {}
    return {name: st.session_state.get(key, wanted)}
