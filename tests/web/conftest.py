"""Fixtures of the UI tests (AppTest on the real backend): see ``support.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pdfcompare.service import Services
from pdfcompare.settings import Settings

from tests.web import support


@pytest.fixture(scope="session")
def web_settings() -> Settings:
    return support.base_settings()


@pytest.fixture(scope="module")
def services(web_settings: Settings) -> Iterator[Services]:
    with support.app_services(web_settings) as installed:
        yield installed


@pytest.fixture()
def browser_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions can send cookies and headers (``support.as_browser``), as a browser would."""
    import streamlit as st
    from pdfcompare.web import context

    real = context.request_context

    def fake() -> context.RequestContext:
        given = st.session_state.get(support.BROWSER_KEY)
        if given is None:
            return real()
        return context.RequestContext(given["headers"], given["peer"], given["cookies"])

    monkeypatch.setattr(context, "request_context", fake)
