"""Who is using the page, and what every view needs: the first thing each script run does.

:func:`resolve` asks :func:`pdfcompare.identity.resolve_user` with the request the session was opened
with (``st.context``: headers, peer address, cookies). In anonymous mode a browser without a valid
workspace cookie gets a new token: it is kept in the session (so the following reruns of the same
tab act for the same workspace) and written as cookie ``pdfcompare_workspace`` on the page by a tiny
script, since a Streamlit script cannot send ``Set-Cookie``. The next page load (a reload, or a
reconnect to another instance) brings the cookie back, and with it the workspace.

In header mode a request without a usable user (no header, or not from a trusted proxy) gets a page
that says sign-in goes through the load balancer, and nothing else runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from ..identity import User, resolve_user, workspace_cookie
from ..service import Services

__all__ = ["Ctx", "RequestContext", "request_context", "resolve", "TOKEN_KEY"]

TOKEN_KEY = "_workspace_token"
"""Session key of a workspace token this session created (until the browser sends it back)."""
_REQUEST = "_request"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What the browser's request told us (``st.context`` of the session)."""

    headers: Mapping[str, str]
    peer: str | None
    """Peer address of the connection; None for loopback (Streamlit's convention)."""
    cookies: Mapping[str, str]


def request_context() -> RequestContext:
    """The session's request as Streamlit saw it (tests replace this function to be a browser)."""
    try:
        headers: Mapping[str, str] = dict(st.context.headers.items())
    except Exception:  # noqa: BLE001 - no request (e.g. AppTest): no headers
        headers = {}
    try:
        cookies: Mapping[str, str] = dict(st.context.cookies.items())
    except Exception:  # noqa: BLE001
        cookies = {}
    try:
        peer = st.context.ip_address
    except Exception:  # noqa: BLE001
        peer = None
    return RequestContext(headers, peer, cookies)


@dataclass(frozen=True, slots=True)
class Ctx:
    """The services of the process and the user of this session."""

    services: Services
    user: User

    @property
    def settings(self) -> Any:
        return self.services.settings

    @property
    def storage(self) -> Any:
        return self.services.storage

    @property
    def cache(self) -> Any:
        return self.services.cache

    @property
    def list_user(self) -> User:
        """The user for listings: an admin sees everyone's rows only with the "all users" toggle."""
        if self.user.is_admin and not st.session_state.get("all_users", False):
            return replace(self.user, is_admin=False)
        return self.user


def resolve(services: Services) -> User:
    """The user of this session; stops the script with an explanation when there is none."""
    request = st.session_state.get(_REQUEST)
    if not isinstance(request, RequestContext):  # fixed for the session's connection: read it once
        request = request_context()
        st.session_state[_REQUEST] = request
    result = resolve_user(services.settings, request.headers, request.peer, request.cookies)
    if result.user is None:
        _sign_in_required(result.problem or "This instance cannot tell who you are.")
        st.stop()
    user = result.user
    if result.set_cookie_token is not None:
        token = st.session_state.setdefault(TOKEN_KEY, result.set_cookie_token)
        user = User.workspace(token)
        _write_cookie(token)
    return user


def _sign_in_required(problem: str) -> None:
    st.title("PDF Compare")
    st.error("**Sign-in required.** This service is used through its load balancer, which signs you in.",
             icon=":material/lock:")
    st.write("Open the service's address (the load balancer's) instead of this instance's, and sign in "
             "there. If you did, the administrator can check the load balancer's authentication settings.")
    st.caption(problem)


def _write_cookie(token: str) -> None:
    """Store the workspace token in the browser (one year, SameSite=Lax, Secure on https)."""
    cookie = json.dumps(workspace_cookie(token, secure=False))
    with st.sidebar:
        st.html(
            "<script>(function(){var c=" + cookie + ";"
            "if(window.location.protocol==='https:'){c+='; Secure';}"
            "document.cookie=c;})();</script>",
            unsafe_allow_javascript=True,
        )
