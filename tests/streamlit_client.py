"""A Streamlit protocol client for tests and benchmarks: it talks to a Streamlit server like a browser.

What a browser does, and what this client repeats:

1. Page load: ``GET /``, ``GET /_stcore/health`` (this response sets the XSRF cookie ``_streamlit_xsrf``)
   and ``GET /_stcore/host-config``. Every ``Set-Cookie`` (also a load balancer's pinning cookie) goes
   into one cookie jar, which is sent on every later request, the websocket handshake included.
2. The websocket ``/_stcore/stream`` (``wss://`` for ``https://``), opened with the subprotocol list
   ``streamlit, <XSRF cookie value or PLACEHOLDER_AUTH_TOKEN>[, <previous session id>]`` and an
   ``Origin`` header. A previous session id asks the server to resume that session (its
   ``st.session_state`` and uploaded files) instead of starting a new one.
3. A ``BackMsg.rerun_script`` (a ``ClientState``: query string and the values of all widgets) starts a
   script run. The server answers with ``ForwardMsg.new_session`` (run started, carries the session
   id), ``delta`` messages (the page's elements, addressed by ``metadata.delta_path``) and
   ``script_finished`` (the status). A click on a button is a rerun whose widget states hold
   ``trigger_value=True`` for that button, once.
4. An upload: ``BackMsg.file_urls_request`` → ``ForwardMsg.file_urls_response`` (one upload URL per
   file, ``/_stcore/upload_file/<session id>/<file id>``), then ``PUT`` of a multipart form to that URL
   with the XSRF cookie and the same value in the ``X-Xsrftoken`` header, then a rerun whose widget
   state for the uploader lists the uploaded files (``file_uploader_state_value``).

Only the standard library, ``websockets`` and Streamlit's own protobuf classes are used, so the module
also runs as a script inside the app's virtual environment::

    python tests/streamlit_client.py https://localhost:8443 --cafile ca.pem --expect-text "PDF Compare"

prints one JSON line (session id, timings, texts, widgets, cookies) and exits 0 when the run finished
without an exception and every expected text was found, 1 otherwise.

One ``StreamlitSession`` is one browser tab; use it from one thread at a time. Several sessions may
share one cookie jar (one browser): pass ``cookies=``.
"""

from __future__ import annotations

import argparse
import base64
import email.message
import enum
import http.cookiejar
import inspect
import json
import os
import queue
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets.sync.client
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

__all__ = [
    "ConnectError",
    "ConnectionLost",
    "XSRF_COOKIE",
    "HttpError",
    "HttpResponse",
    "PageLoad",
    "RunStatus",
    "RunTicket",
    "ScriptException",
    "ScriptRun",
    "ScriptTimeout",
    "SessionUnknownError",
    "StreamlitClientError",
    "StreamlitSession",
    "TextBlock",
    "UploadError",
    "UploadedFile",
    "WebSocketRefused",
    "Widget",
    "WidgetError",
    "cookie_header",
    "main",
]

XSRF_COOKIE = "_streamlit_xsrf"
"""Streamlit's XSRF cookie (set by /_stcore/health); its value goes into the subprotocol and X-Xsrftoken."""

_NO_XSRF_TOKEN = "PLACEHOLDER_AUTH_TOKEN"  # what the browser sends when the XSRF cookie is absent
# A websocket opening handshake that gets no answer is given up after this many seconds (at most the
# session's timeout) and tried again once, as Streamlit's page does when its socket does not open.
_HANDSHAKE_TIMEOUT_S = 20.0
_USER_AGENT = "pdfcompare-streamlit-client/1 (Python)"
_BODY_EXCERPT = 2000  # characters of an error response body kept in exceptions
_COMPILE_EXCEPTION_GRACE_S = 2.0  # the compile error's details arrive right after script_finished


# --------------------------------------------------------------------------------------------- errors


class StreamlitClientError(Exception):
    """Base class of every error this client raises."""


class ConnectError(StreamlitClientError):
    """The server could not be reached (refused, timed out, TLS verification failed, ...)."""


class HttpError(StreamlitClientError):
    """An HTTP request got an unexpected status; ``status`` and ``body`` hold the server's answer."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        super().__init__(f"{method} {url} answered HTTP {status}: {body[:300].strip() or '(empty body)'}")


class UploadError(HttpError):
    """The upload ``PUT`` was refused (403: XSRF token missing or wrong, 413: file too large, ...)."""


class SessionUnknownError(UploadError):
    """The upload ``PUT`` got 400 "Invalid session_id": the instance that answered does not know the
    session, i.e. the request reached another instance than the one holding the websocket."""


class WebSocketRefused(StreamlitClientError):
    """The websocket handshake was answered with an HTTP status instead of an upgrade
    (403 usually means Streamlit's Origin/Host check refused it)."""

    def __init__(self, url: str, status: int, body: str) -> None:
        self.url = url
        self.status = status
        self.body = body
        hint = " (Streamlit refuses a websocket whose Origin does not match Host)" if status == 403 else ""
        super().__init__(f"websocket {url} refused with HTTP {status}{hint}: {body[:300].strip()}")


class ConnectionLost(StreamlitClientError):
    """The websocket closed while the client was waiting for the server."""


class ScriptTimeout(StreamlitClientError):
    """The expected message (usually ``script_finished``) did not arrive in time."""


class WidgetError(StreamlitClientError):
    """No widget (or more than one) has the requested label, or the value does not fit the widget."""


class ScriptException(StreamlitClientError):
    """Raised by ``ScriptRun.raise_for_exception()`` when the script raised or did not compile."""


# ---------------------------------------------------------------------------------------------- data


class RunStatus(enum.StrEnum):
    """How a script run ended (``ForwardMsg.ScriptFinishedStatus``, lower-cased)."""

    FINISHED_SUCCESSFULLY = "finished_successfully"
    """The script ran to its end; an exception inside the script still ends this way (see ``exception``)."""
    FINISHED_WITH_COMPILE_ERROR = "finished_with_compile_error"
    FINISHED_EARLY_FOR_RERUN = "finished_early_for_rerun"
    FINISHED_FRAGMENT_RUN_SUCCESSFULLY = "finished_fragment_run_successfully"

    @classmethod
    def from_proto(cls, value: int) -> RunStatus:
        return cls(ForwardMsg.ScriptFinishedStatus.Name(value).lower())


@dataclass(frozen=True)
class TextBlock:
    """One text element of the page, flattened to a string.

    ``kind`` is one of: markdown, caption, latex, code, text, title, header, subheader, heading,
    error, warning, info, success, exception, metric, toast, spinner, json.
    """

    kind: str
    text: str


@dataclass(frozen=True)
class Widget:
    """One widget of the page as the last script run left it."""

    id: str
    """Streamlit's widget id (``$$ID-<hash>-<key>``): the key of its widget state."""
    kind: str
    """The element type: button, text_input, selectbox, file_uploader, checkbox, ..."""
    label: str
    form_id: str = ""
    disabled: bool = False
    options: tuple[str, ...] = ()
    """The formatted options of a selectbox, radio or multiselect."""
    element: Any = field(default=None, repr=False, compare=False)
    """The widget's protobuf message (``streamlit.proto.<Kind>_pb2``), for anything not copied here."""


@dataclass(frozen=True)
class ScriptRun:
    """What one script run produced."""

    session_id: str
    status: RunStatus
    elapsed_s: float
    """Seconds from sending the rerun request to receiving ``script_finished``."""
    started_s: float | None
    """Seconds from sending the rerun request to receiving ``new_session`` (the run started)."""
    texts: tuple[TextBlock, ...]
    widgets: tuple[Widget, ...]
    exception: str | None = None
    """``"Type: message"`` of the first exception the page shows, or of the compile error."""
    page_title: str | None = None
    message_count: int = 0
    """ForwardMsgs received for this run."""

    @property
    def ok(self) -> bool:
        """The run finished normally and the page shows no exception."""
        return self.status == RunStatus.FINISHED_SUCCESSFULLY and self.exception is None

    @property
    def text(self) -> str:
        """All texts, one per line."""
        return "\n".join(block.text for block in self.texts)

    def has_text(self, fragment: str) -> bool:
        """Whether any text element contains ``fragment``."""
        return any(fragment in block.text for block in self.texts)

    def texts_of(self, kind: str) -> list[str]:
        """The texts of one kind (e.g. ``"error"``, ``"success"``), in page order."""
        return [block.text for block in self.texts if block.kind == kind]

    def widget(self, label: str, kind: str | None = None) -> Widget:
        """The widget with this label (or id); ``kind`` disambiguates equal labels."""
        return _find_widget(self.widgets, label, kind)

    def raise_for_exception(self) -> ScriptRun:
        """Raise ``ScriptException`` when the script raised or did not compile; return self otherwise."""
        if self.exception is not None or self.status == RunStatus.FINISHED_WITH_COMPILE_ERROR:
            raise ScriptException(f"script run in session {self.session_id} failed: {self.exception}")
        return self

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary."""
        return {
            "session_id": self.session_id,
            "status": str(self.status),
            "elapsed_s": round(self.elapsed_s, 4),
            "started_s": None if self.started_s is None else round(self.started_s, 4),
            "page_title": self.page_title,
            "exception": self.exception,
            "texts": [{"kind": block.kind, "text": block.text} for block in self.texts],
            "widgets": [{"kind": widget.kind, "label": widget.label} for widget in self.widgets],
        }


@dataclass(frozen=True)
class PageLoad:
    """What the HTTP part of ``open()`` saw."""

    index_status: int
    health: str
    host_config: dict[str, Any]
    http_s: float
    """Seconds for the three HTTP requests."""
    websocket_s: float
    """Seconds for the websocket handshake."""


@dataclass(frozen=True)
class UploadedFile:
    """A file the server accepted, as it is referenced in the uploader's widget state."""

    file_id: str
    name: str
    size: int
    upload_url: str
    delete_url: str


@dataclass(frozen=True)
class RunTicket:
    """A sent rerun request; pass it to ``StreamlitSession.wait_for_run``."""

    sent_at: float
    """``time.monotonic()`` when the request was sent."""
    fragment: bool = False


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP response of ``StreamlitSession.http``."""

    status: int
    body: bytes
    headers: email.message.Message

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Inbound:
    """One websocket frame as the reader thread saw it, or the end of the connection (msg None)."""

    received_at: float
    msg: ForwardMsg | None
    close_reason: str = ""


@dataclass(frozen=True)
class _FinishedRun:
    """A finished run before ``wait_for_run`` matched it to a request (times are ``time.monotonic()``)."""

    started_at: float
    finished_at: float
    fragment: bool
    run: ScriptRun


@dataclass
class _RunBuilder:
    """The elements of a script run while it is in progress, keyed by delta path (last write wins)."""

    started_at: float
    fragment: bool
    elements: dict[tuple[int, ...], tuple[str, Any]] = field(default_factory=dict)
    message_count: int = 0


# ------------------------------------------------------------------------------- element flattening

_HEADING_KINDS = {"h1": "title", "h2": "header", "h3": "subheader"}
_MARKDOWN_KINDS = {2: "caption", 3: "code", 4: "latex", 5: "divider"}
_ALERT_KINDS = {1: "error", 2: "warning", 3: "info", 4: "success"}


def _text_block(kind: str, element: Any) -> TextBlock | None:
    """Flatten a text-like element; None for everything else (widgets, charts, blocks, ...)."""
    if kind == "markdown":
        markdown_kind = _MARKDOWN_KINDS.get(element.element_type, "markdown")
        return None if markdown_kind == "divider" else TextBlock(markdown_kind, element.body)
    if kind == "text":
        return TextBlock("text", element.body)
    if kind == "heading":
        return TextBlock(_HEADING_KINDS.get(element.tag, "heading"), element.body)
    if kind == "code":
        return TextBlock("code", element.code_text)
    if kind == "alert":
        return TextBlock(_ALERT_KINDS.get(element.format, "info"), element.body)
    if kind == "exception":
        return TextBlock("exception", _exception_text(element))
    if kind == "metric":
        return TextBlock("metric", f"{element.label}: {element.body}")
    if kind in {"toast", "json"}:
        return TextBlock(kind, element.body)
    if kind == "spinner":
        return TextBlock("spinner", element.text)
    return None


def _exception_text(exception: Any) -> str:
    return f"{exception.type}: {exception.message}" if exception.type else exception.message


def _widget(kind: str, element: Any) -> Widget | None:
    """Describe an element that is a widget (it has an ``id`` and a ``label``); None otherwise."""
    fields = element.DESCRIPTOR.fields_by_name
    if "id" not in fields or "label" not in fields:
        return None
    options = tuple(element.options) if "options" in fields else ()
    return Widget(
        id=element.id,
        kind=kind,
        label=element.label,
        form_id=element.form_id if "form_id" in fields else "",
        disabled=bool(element.disabled) if "disabled" in fields else False,
        options=options,
        element=element,
    )


def _find_widget(widgets: Sequence[Widget], label: str, kind: str | None) -> Widget:
    candidates = [w for w in widgets if (w.label == label or w.id == label) and kind in (None, w.kind)]
    if len(candidates) == 1:
        return candidates[0]
    seen = ", ".join(f"{w.kind} {w.label!r}" for w in widgets) or "none"
    wanted = f"{kind} {label!r}" if kind else repr(label)
    if not candidates:
        raise WidgetError(f"no widget {wanted} on the page; widgets seen: {seen}")
    raise WidgetError(f"{len(candidates)} widgets match {wanted}; pass kind= or the widget id; seen: {seen}")


# --------------------------------------------------------------------------------- HTTP and cookies


class _HandshakeResponse:
    """Adapter so that ``CookieJar.extract_cookies`` can read a websocket handshake's headers."""

    def __init__(self, set_cookie_values: Iterable[str]) -> None:
        self._headers = email.message.Message()
        for value in set_cookie_values:
            self._headers["Set-Cookie"] = value

    def info(self) -> email.message.Message:
        return self._headers


def _http_equivalent(url: str) -> str:
    """The http(s) URL a browser uses for cookie matching of a ws(s) URL (wss counts as secure)."""
    parts = urllib.parse.urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urllib.parse.urlunsplit((scheme, *parts[1:]))


def cookie_header(jar: http.cookiejar.CookieJar, url: str) -> str | None:
    """The ``Cookie`` header a browser would send to ``url`` (http, https, ws or wss) from ``jar``."""
    request = urllib.request.Request(_http_equivalent(url))
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


def _origin_of(url: str) -> str:
    """``scheme://host[:port]`` as a browser sends it in ``Origin`` (default ports left out)."""
    parts = urllib.parse.urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = "" if parts.port in (None, default_port) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


def _multipart(field_name: str, filename: str, data: bytes, mime: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file, as the browser's FormData builds it."""
    boundary = f"----pdfcompare-client-{uuid.uuid4().hex}"
    quoted_name = field_name.replace('"', "%22")
    quoted_file = filename.replace('"', "%22")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{quoted_name}"; filename="{quoted_file}"\r\n'
        f"Content-Type: {mime}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# ------------------------------------------------------------------------------------------ session


class StreamlitSession:
    """One browser tab on a Streamlit app: page load, websocket, script runs, widgets and uploads.

    ``base_url`` is the page's URL (``https://lb:8443`` or ``http://127.0.0.1:8501``; a path prefix is
    kept). ``cafile`` verifies https (default: the system's CAs). ``cookies`` is a cookie jar to share
    between sessions (one browser); by default each session has its own. ``headers`` are added to
    every HTTP request and to the websocket handshake; ``basic_auth`` is ``(user, password)``.
    ``timeout`` bounds every wait (seconds) unless a call passes its own.
    """

    def __init__(
        self,
        base_url: str,
        *,
        cafile: str | os.PathLike[str] | None = None,
        cookies: http.cookiejar.CookieJar | None = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        self.base_url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.timeout = timeout
        self.handshake_retries = 0
        """Websocket opening handshakes that got no answer in time and were tried again."""
        self.cookies = cookies if cookies is not None else http.cookiejar.CookieJar()
        self._ssl = ssl.create_default_context(cafile=os.fspath(cafile) if cafile else None)
        self._headers = dict(headers or {})
        if basic_auth is not None:
            token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # tests talk to the lab directly, never through a proxy
            urllib.request.HTTPCookieProcessor(self.cookies),
            urllib.request.HTTPSHandler(context=self._ssl),
        )
        self.session_id: str | None = None
        self.last_run: ScriptRun | None = None
        self.page_load: PageLoad | None = None
        self.query_string = ""
        self._ws: Any = None
        self._reader: threading.Thread | None = None
        self._inbox: queue.Queue[_Inbound] = queue.Queue()
        self._closed_reason: str | None = None
        self._widget_states: dict[str, WidgetState] = {}
        self._builder: _RunBuilder | None = None
        self._finished: list[_FinishedRun] = []
        self._file_urls: dict[str, ForwardMsg] = {}
        self._page_title: str | None = None
        self._compile_exception: str | None = None
        self.auto_reruns: dict[str, float] = {}
        """Fragments the script asked to rerun periodically (``st.fragment(run_every=)``): id → seconds.
        The client does not rerun them by itself; ``run_script(fragment_id=...)`` does it once."""

    # -- context manager ---------------------------------------------------------------------------

    def __enter__(self) -> StreamlitSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- URLs, cookies, HTTP -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        """An absolute URL for a server path (``/_stcore/health``), under the base URL's prefix."""
        if urllib.parse.urlsplit(path).scheme:
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def websocket_url(self) -> str:
        """``ws(s)://.../_stcore/stream``."""
        parts = urllib.parse.urlsplit(self.url("/_stcore/stream"))
        return urllib.parse.urlunsplit(({"https": "wss", "http": "ws"}[parts.scheme], *parts[1:]))

    def cookie_values(self) -> dict[str, str]:
        """The cookies this session sends to its server, by name (e.g. the load balancer's pin)."""
        header = cookie_header(self.cookies, self.base_url + "/")
        values: dict[str, str] = {}
        for pair in (header or "").split("; "):
            name, sep, value = pair.partition("=")
            if sep:
                values[name] = value
        return values

    def xsrf_token(self) -> str | None:
        """The XSRF cookie's value, which Streamlit expects back in the subprotocol and X-Xsrftoken."""
        return self.cookie_values().get(XSRF_COOKIE)

    def http(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send one HTTP request with the session's cookies and headers; any status is returned."""
        url = self.url(path)
        request = urllib.request.Request(url, data=body, method=method)
        for name, value in {"User-Agent": _USER_AGENT, **self._headers, **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with self._opener.open(request, timeout=timeout or self.timeout) as response:
                return HttpResponse(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:
            with error:
                return HttpResponse(error.code, error.read(), error.headers)
        except urllib.error.URLError as error:
            raise ConnectError(f"{method} {url} failed: {error.reason}") from error
        except (TimeoutError, OSError) as error:
            raise ConnectError(f"{method} {url} failed: {error}") from error

    def _get_ok(self, path: str) -> HttpResponse:
        response = self.http("GET", path)
        if response.status != 200:
            raise HttpError("GET", self.url(path), response.status, response.text[:_BODY_EXCERPT])
        return response

    # -- connection --------------------------------------------------------------------------------

    def open(self, query_string: str = "", *, resume_session: str | None = None) -> ScriptRun:
        """Load the page like a browser, open the websocket, run the script once and return the run.

        Like a reload in a browser: an open session is closed first and a new one starts. With
        ``resume_session`` the websocket asks for that session instead, as a browser tab does when it
        reconnects after its connection dropped (an instance that does not hold it starts a new one).
        """
        self._disconnect()
        self.session_id = resume_session
        self.last_run = None
        self._widget_states.clear()
        self.auto_reruns.clear()
        self.query_string = query_string.lstrip("?")
        started = time.monotonic()
        index = self._get_ok("/")
        health = self._get_ok("/_stcore/health")
        host_config_response = self._get_ok("/_stcore/host-config")
        try:
            host_config = json.loads(host_config_response.body)
        except ValueError as error:
            raise HttpError(
                "GET", self.url("/_stcore/host-config"), 200, host_config_response.text[:_BODY_EXCERPT]
            ) from error
        http_done = time.monotonic()
        self._connect(resume=resume_session is not None)
        self.page_load = PageLoad(
            index_status=index.status,
            health=health.text,
            host_config=host_config,
            http_s=http_done - started,
            websocket_s=time.monotonic() - http_done,
        )
        return self.run_script()

    def reconnect(self, *, resume: bool = True) -> ScriptRun:
        """Close the websocket and open a new one, then rerun with the widget values kept.

        With ``resume`` the previous session id goes into the subprotocol, as a browser does after a
        dropped connection: the same server resumes the session (``run.session_id`` is unchanged);
        a server that does not know it starts a new one.
        """
        self._disconnect()
        self._connect(resume=resume)
        return self.run_script()

    def _connect(self, *, resume: bool) -> None:
        url = self.websocket_url
        protocols = ["streamlit", self.xsrf_token() or _NO_XSRF_TOKEN]
        if resume and self.session_id:
            protocols.append(self.session_id)
        headers = dict(self._headers)
        cookies = cookie_header(self.cookies, url)
        if cookies:
            headers["Cookie"] = cookies
        options: dict[str, Any] = {
            "ssl": self._ssl if url.startswith("wss:") else None,
            "origin": _origin_of(self.base_url),
            "subprotocols": protocols,
            "additional_headers": headers,
            "user_agent_header": _USER_AGENT,
            "open_timeout": self.timeout,
            "max_size": None,  # Streamlit's own limit (server.maxMessageSize) applies
        }
        parameters = inspect.signature(websockets.sync.client.connect).parameters
        if "proxy" in parameters:  # websockets >= 15 would use proxies from the environment
            options["proxy"] = None
        if "legacy" in parameters:  # websockets >= 17: return the connection itself, not a context manager
            options["legacy"] = True
        request = urllib.request.Request(_http_equivalent(url))
        options["open_timeout"] = min(self.timeout, _HANDSHAKE_TIMEOUT_S)
        try:
            try:
                ws = websockets.sync.client.connect(url, **options)
            except TimeoutError:
                self.handshake_retries += 1
                ws = websockets.sync.client.connect(url, **options)
        except InvalidStatus as error:
            response = error.response
            self.cookies.extract_cookies(_HandshakeResponse(response.headers.get_all("Set-Cookie")), request)
            body = (response.body or b"").decode("utf-8", errors="replace")[:_BODY_EXCERPT]
            raise WebSocketRefused(url, response.status_code, body) from error
        except (InvalidHandshake, OSError, TimeoutError) as error:
            raise ConnectError(f"websocket {url} failed: {error}") from error
        self.cookies.extract_cookies(_HandshakeResponse(ws.response.headers.get_all("Set-Cookie")), request)
        self._ws = ws
        self._closed_reason = None
        self._inbox = queue.Queue()
        self._builder = None
        self._reader = threading.Thread(
            target=self._read_loop, args=(ws, self._inbox), name="streamlit-client-reader", daemon=True
        )
        self._reader.start()

    @staticmethod
    def _read_loop(ws: Any, inbox: queue.Queue[_Inbound]) -> None:
        """Reader thread: parse every binary frame into a ForwardMsg, stamped with its arrival time."""
        reason = "closed by the client"
        try:
            for frame in ws:
                if isinstance(frame, bytes):
                    msg = ForwardMsg()
                    msg.ParseFromString(frame)
                    inbox.put(_Inbound(time.monotonic(), msg))
            reason = f"closed (code {ws.close_code}, reason {ws.close_reason!r})"
        except ConnectionClosed as error:
            reason = f"closed abnormally: {error}"
        except Exception as error:  # a frame that is not a ForwardMsg, a socket error, ...
            reason = f"reader failed: {type(error).__name__}: {error}"
        finally:
            inbox.put(_Inbound(time.monotonic(), None, reason))

    def _disconnect(self) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._reader is not None:
            self._reader.join(timeout=self.timeout)
        self._ws = None
        self._reader = None

    def close(self) -> None:
        """Close the websocket (the server keeps the session for a while for a reconnect)."""
        self._disconnect()

    # -- message pump ------------------------------------------------------------------------------

    def _send(self, back_msg: BackMsg) -> float:
        if self._ws is None:
            raise ConnectionLost("the session is not open; call open() first")
        if self._closed_reason is not None:
            raise ConnectionLost(f"websocket {self._closed_reason}")
        try:
            self._ws.send(back_msg.SerializeToString())
        except ConnectionClosed as error:
            raise ConnectionLost(f"websocket closed while sending: {error}") from error
        return time.monotonic()

    def _pump_one(self, deadline: float, waiting_for: str) -> None:
        """Handle the next ForwardMsg; raise ScriptTimeout at the deadline, ConnectionLost at the end."""
        if self._closed_reason is not None:
            raise ConnectionLost(f"websocket {self._closed_reason} while waiting for {waiting_for}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ScriptTimeout(f"no {waiting_for} from {self.base_url} (session {self.session_id})")
        try:
            inbound = self._inbox.get(timeout=remaining)
        except queue.Empty:
            raise ScriptTimeout(
                f"no {waiting_for} from {self.base_url} within the timeout (session {self.session_id})"
            ) from None
        if inbound.msg is None:
            self._closed_reason = inbound.close_reason
            raise ConnectionLost(f"websocket {inbound.close_reason} while waiting for {waiting_for}")
        self._handle(inbound.msg, inbound.received_at)

    def _handle(self, msg: ForwardMsg, received_at: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            self._builder = _RunBuilder(started_at=received_at, fragment=bool(msg.metadata.run.fragment_ids))
            self._compile_exception = None
        elif kind == "delta":
            builder = self._builder or _RunBuilder(started_at=received_at, fragment=False)
            self._builder = builder
            delta = msg.delta
            delta_kind = delta.WhichOneof("type")
            path = tuple(msg.metadata.delta_path)
            if delta_kind == "new_element":
                element_kind = delta.new_element.WhichOneof("type") or "empty"
                builder.elements[path] = (element_kind, getattr(delta.new_element, element_kind, None))
            elif delta_kind == "add_block":
                builder.elements[path] = ("block", delta.add_block)
        elif kind == "script_finished":
            self._finish_run(RunStatus.from_proto(msg.script_finished), received_at)
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            self._compile_exception = _exception_text(msg.session_event.script_compilation_exception)
        elif kind == "file_urls_response":
            self._file_urls[msg.file_urls_response.response_id] = msg
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "page_config_changed" and msg.page_config_changed.title:
            self._page_title = msg.page_config_changed.title
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        if self._builder is not None:
            self._builder.message_count += 1

    def _finish_run(self, status: RunStatus, received_at: float) -> None:
        builder = self._builder or _RunBuilder(started_at=received_at, fragment=False)
        self._builder = None
        texts: list[TextBlock] = []
        widgets: list[Widget] = []
        exception: str | None = None
        for path in sorted(builder.elements):
            element_kind, element = builder.elements[path]
            if element is None or element_kind == "block":
                continue
            block = _text_block(element_kind, element)
            if block is not None:
                texts.append(block)
                if block.kind == "exception" and exception is None:
                    exception = block.text
            widget = _widget(element_kind, element)
            if widget is not None:
                widgets.append(widget)
        run = ScriptRun(
            session_id=self.session_id or "",
            status=status,
            elapsed_s=0.0,  # set by wait_for_run, which knows when the request was sent
            started_s=None,  # likewise
            texts=tuple(texts),
            widgets=tuple(widgets),
            exception=exception,
            page_title=self._page_title,
            message_count=builder.message_count + 1,
        )
        self._finished.append(_FinishedRun(builder.started_at, received_at, builder.fragment, run))

    # -- script runs -------------------------------------------------------------------------------

    def send_rerun(
        self,
        query_string: str | None = None,
        widget_states: Mapping[str, WidgetState] | Iterable[WidgetState] | None = None,
        *,
        fragment_id: str | None = None,
    ) -> RunTicket:
        """Send a rerun request without waiting; ``wait_for_run(ticket)`` collects the run.

        The request carries every remembered widget value plus ``widget_states`` (by id). Values are
        remembered for later reruns like a browser does; trigger values (button clicks) are sent once.
        ``query_string`` (without ``?``) defaults to the current one. ``fragment_id`` reruns only that
        fragment, as the browser does for ``st.fragment(run_every=)`` (see ``auto_reruns``); the
        run then holds the fragment's elements only.
        """
        if query_string is not None:
            self.query_string = query_string.lstrip("?")
        once: dict[str, WidgetState] = {}
        states = widget_states.values() if isinstance(widget_states, Mapping) else (widget_states or ())
        for state in states:
            if state.WhichOneof("value") in {"trigger_value", "string_trigger_value", "json_trigger_value"}:
                once[state.id] = state
            else:
                self._widget_states[state.id] = state
        client_state = ClientState(
            query_string=self.query_string,
            page_script_hash="",
            fragment_id=fragment_id or "",
            is_auto_rerun=fragment_id is not None and not once,  # a timer's rerun carries no click
            context_info=ContextInfo(
                timezone="UTC",
                timezone_offset=0,
                locale="en-US",
                url=self.url("/") + (f"?{self.query_string}" if self.query_string else ""),
                is_embedded=False,
                color_scheme="light",
            ),
        )
        client_state.widget_states.widgets.extend({**self._widget_states, **once}.values())
        back_msg = BackMsg()
        back_msg.rerun_script.CopyFrom(client_state)
        self._drain()
        self._finished.clear()  # whatever finished before this request is not its answer
        return RunTicket(sent_at=self._send(back_msg), fragment=fragment_id is not None)

    def _drain(self) -> None:
        """Handle what already arrived, so that old messages are not taken for the next run's."""
        while True:
            try:
                inbound = self._inbox.get_nowait()
            except queue.Empty:
                return
            if inbound.msg is None:
                self._closed_reason = inbound.close_reason
                return
            self._handle(inbound.msg, inbound.received_at)

    def wait_for_run(self, ticket: RunTicket, timeout: float | None = None) -> ScriptRun:
        """Wait for the first run that started after ``ticket`` was sent and ended for good.

        Runs that end "early for rerun" (``st.rerun()``, a newer request) are skipped, and fragment
        runs unless the ticket asked for one. Raises ``ScriptTimeout`` after ``timeout`` (default: the
        session's timeout), ``ConnectionLost`` when the websocket closes.
        """
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, finished in enumerate(self._finished):
                if (
                    finished.started_at >= ticket.sent_at
                    and finished.fragment == ticket.fragment
                    and finished.run.status != RunStatus.FINISHED_EARLY_FOR_RERUN
                ):
                    del self._finished[: index + 1]
                    return self._complete(finished, ticket, deadline)
            self._pump_one(deadline, "script_finished")

    def _complete(self, finished: _FinishedRun, ticket: RunTicket, deadline: float) -> ScriptRun:
        run = finished.run
        exception = run.exception
        if run.status == RunStatus.FINISHED_WITH_COMPILE_ERROR:
            grace = min(deadline, time.monotonic() + _COMPILE_EXCEPTION_GRACE_S)
            while self._compile_exception is None and time.monotonic() < grace:
                try:
                    self._pump_one(grace, "the compile error's details")
                except ScriptTimeout:
                    break
            exception = exception or self._compile_exception or "the script did not compile"
        run = ScriptRun(
            session_id=self.session_id or run.session_id,
            status=run.status,
            elapsed_s=finished.finished_at - ticket.sent_at,
            started_s=finished.started_at - ticket.sent_at,
            texts=run.texts,
            widgets=run.widgets,
            exception=exception,
            page_title=run.page_title,
            message_count=run.message_count,
        )
        if run.status == RunStatus.FINISHED_SUCCESSFULLY:
            # Like the browser: forget the values of widgets that are no longer on the page.
            alive = {widget.id for widget in run.widgets}
            self._widget_states = {key: value for key, value in self._widget_states.items() if key in alive}
        if not finished.fragment:
            self.last_run = run
        return run

    def run_script(
        self,
        query_string: str | None = None,
        widget_states: Mapping[str, WidgetState] | Iterable[WidgetState] | None = None,
        *,
        fragment_id: str | None = None,
        timeout: float | None = None,
    ) -> ScriptRun:
        """Rerun the script (see ``send_rerun``) and wait for it to finish (see ``wait_for_run``)."""
        ticket = self.send_rerun(query_string, widget_states, fragment_id=fragment_id)
        return self.wait_for_run(ticket, timeout)

    # -- widgets -----------------------------------------------------------------------------------

    def widget(self, label: str, kind: str | None = None) -> Widget:
        """A widget of the last run by label (or id); ``kind`` disambiguates equal labels."""
        if self.last_run is None:
            raise WidgetError("no script run yet; call open() first")
        return self.last_run.widget(label, kind)

    def click_button(self, label: str, *, timeout: float | None = None) -> ScriptRun:
        """Click a button (also a form's submit button) and wait for the rerun."""
        button = self.widget(label, "button")
        if button.disabled:
            raise WidgetError(f"button {label!r} is disabled")
        return self.run_script(widget_states=[WidgetState(id=button.id, trigger_value=True)], timeout=timeout)

    def stage_widget(self, label: str, value: Any, kind: str | None = None) -> Widget:
        """Remember a widget value for the next rerun without rerunning (for widgets inside a form).

        Supported: text_input and text_area (str), selectbox and radio (one of the options),
        multiselect (options), checkbox and toggles (bool), number_input (number), slider (number or
        pair of numbers).
        """
        widget = self.widget(label, kind)
        self._widget_states[widget.id] = _widget_state(widget, value)
        return widget

    def set_widget(
        self, label: str, value: Any, *, kind: str | None = None, timeout: float | None = None
    ) -> ScriptRun:
        """Change a widget's value and wait for the rerun the change triggers (see ``stage_widget``)."""
        self.stage_widget(label, value, kind)
        return self.run_script(timeout=timeout)

    # -- uploads -----------------------------------------------------------------------------------

    def request_upload_urls(
        self, filenames: Sequence[str], *, timeout: float | None = None
    ) -> list[FileURLs]:
        """Ask the server for one upload URL per file name (``file_urls_request`` over the websocket)."""
        if not self.session_id:
            raise ConnectionLost("no session id yet; call open() first")
        request_id = str(uuid.uuid4())
        back_msg = BackMsg()
        back_msg.file_urls_request.request_id = request_id
        back_msg.file_urls_request.session_id = self.session_id
        back_msg.file_urls_request.file_names.extend(filenames)
        self._send(back_msg)
        deadline = time.monotonic() + (timeout or self.timeout)
        while request_id not in self._file_urls:
            self._pump_one(deadline, "file_urls_response")
        response = self._file_urls.pop(request_id).file_urls_response
        if response.error_msg:
            raise StreamlitClientError(f"the server refused upload URLs: {response.error_msg}")
        return list(response.file_urls)

    def put_file(
        self,
        upload_url: str,
        filename: str,
        data: bytes,
        mime: str = "application/pdf",
        *,
        timeout: float | None = None,
    ) -> None:
        """PUT one file to an upload URL (a server path such as ``/_stcore/upload_file/<sid>/<fid>``).

        Sends the multipart form the browser sends, with the XSRF cookie and ``X-Xsrftoken``. Raises
        ``SessionUnknownError`` for 400 "Invalid session_id", ``UploadError`` for any other refusal.
        """
        body, content_type = _multipart(filename, filename, data, mime)
        headers = {"Content-Type": content_type, "Origin": _origin_of(self.base_url)}
        token = self.xsrf_token()
        if token:
            headers["X-Xsrftoken"] = token
        response = self.http("PUT", upload_url, body=body, headers=headers, timeout=timeout)
        if response.status in (200, 204):
            return
        text = response.text[:_BODY_EXCERPT]
        error_type = (
            SessionUnknownError if response.status == 400 and "Invalid session_id" in text else UploadError
        )
        raise error_type("PUT", self.url(upload_url), response.status, text)

    def stage_upload(
        self,
        widget_label: str,
        filename: str,
        data: bytes,
        mime: str = "application/pdf",
        *,
        timeout: float | None = None,
    ) -> UploadedFile:
        """Upload a file to a file_uploader without rerunning: URLs, PUT, remembered widget state.

        A single-file uploader then holds this file; a multi-file uploader gets it added.
        """
        uploader = self.widget(widget_label, "file_uploader")
        (urls,) = self.request_upload_urls([filename], timeout=timeout)
        self.put_file(urls.upload_url, filename, data, mime, timeout=timeout)
        info = UploadedFileInfo(file_id=urls.file_id, name=filename, size=len(data), file_urls=urls)
        state = WidgetState(id=uploader.id)
        previous = self._widget_states.get(uploader.id)
        if uploader.element.multiple_files and previous is not None:
            state.file_uploader_state_value.CopyFrom(previous.file_uploader_state_value)
        state.file_uploader_state_value.uploaded_file_info.append(info)
        self._widget_states[uploader.id] = state
        return UploadedFile(urls.file_id, filename, len(data), urls.upload_url, urls.delete_url)

    def upload_file(
        self,
        widget_label: str,
        filename: str,
        data: bytes,
        mime: str = "application/pdf",
        *,
        timeout: float | None = None,
    ) -> ScriptRun:
        """Upload a file through the file_uploader labelled ``widget_label`` and wait for the rerun."""
        self.stage_upload(widget_label, filename, data, mime, timeout=timeout)
        return self.run_script(timeout=timeout)


def _widget_state(widget: Widget, value: Any) -> WidgetState:
    """The widget state a browser sends for ``value`` in this widget."""
    state = WidgetState(id=widget.id)
    kind = widget.kind
    if kind in {"text_input", "text_area"}:
        state.string_value = str(value)
    elif kind in {"selectbox", "radio"}:
        if widget.options and str(value) not in widget.options:
            options = list(widget.options)
            raise WidgetError(f"{kind} {widget.label!r} has no option {value!r}; options: {options}")
        state.string_value = str(value)
    elif kind == "multiselect":
        missing = [item for item in value if widget.options and str(item) not in widget.options]
        if missing:
            raise WidgetError(f"multiselect {widget.label!r} has no options {missing}")
        state.string_array_value.data.extend(str(item) for item in value)
    elif kind == "checkbox":
        state.bool_value = bool(value)
    elif kind == "number_input":
        state.double_value = float(value)
    elif kind == "slider":
        values = value if isinstance(value, list | tuple) else [value]
        state.double_array_value.data.extend(float(item) for item in values)
    else:
        raise WidgetError(
            f"setting a {kind} ({widget.label!r}) is not supported; send a WidgetState with run_script()"
        )
    return state


# --------------------------------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Open a Streamlit app like a browser (page load, websocket, one script run), optionally "
            "upload files and click buttons, and print one JSON line. Exit 0 when the last run finished "
            "without an exception and every --expect-text was found, 1 otherwise."
        )
    )
    parser.add_argument("url", help="the app's URL, e.g. https://localhost:8443")
    parser.add_argument("--cafile", help="CA bundle that verifies the server's certificate")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per wait (default 30)")
    parser.add_argument("--query-string", default="", help="query string of the page URL, without '?'")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="extra header (repeatable)"
    )
    parser.add_argument(
        "--basic-auth-env", metavar="VAR", help="environment variable holding 'user:password' for basic auth"
    )
    parser.add_argument(
        "--upload",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="after the first run, upload PATH through the file_uploader LABEL (repeatable, in order)",
    )
    parser.add_argument(
        "--click", action="append", default=[], metavar="LABEL", help="then click button LABEL (repeatable)"
    )
    parser.add_argument(
        "--jar",
        metavar="FILE",
        help="cookie jar kept in FILE between runs (Mozilla format), so several runs act as one browser",
    )
    parser.add_argument(
        "--resume", metavar="SESSION_ID", help="reconnect to this session, as a tab whose connection dropped"
    )
    parser.add_argument(
        "--expect-text",
        action="append",
        default=[],
        metavar="TEXT",
        help="text the last run must show (substring of a text element; repeatable)",
    )
    return parser.parse_args(argv)


def _headers_from(values: Sequence[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise SystemExit(f"--header expects NAME:VALUE, got {value!r}")
        headers[name.strip()] = content.strip()
    return headers


def main(argv: Sequence[str] | None = None) -> int:
    """The command-line mode; returns the exit status."""
    args = _parse_args(argv)
    basic_auth = None
    if args.basic_auth_env:
        user, sep, password = os.environ.get(args.basic_auth_env, "").partition(":")
        if not sep:
            raise SystemExit(f"{args.basic_auth_env} must hold 'user:password'")
        basic_auth = (user, password)
    uploads: list[tuple[str, str, bytes]] = []
    for upload in args.upload:
        label, sep, path = upload.partition("=")
        if not sep:
            raise SystemExit(f"--upload expects LABEL=PATH, got {upload!r}")
        uploads.append((label, Path(path).name, Path(path).read_bytes()))
    report: dict[str, Any] = {"ok": False, "url": args.url, "error": None, "steps": []}
    jar = http.cookiejar.MozillaCookieJar(args.jar) if args.jar else None
    if jar is not None and Path(args.jar).exists():
        jar.load(ignore_discard=True, ignore_expires=True)
    session = StreamlitSession(
        args.url,
        cookies=jar,
        cafile=args.cafile,
        timeout=args.timeout,
        headers=_headers_from(args.header),
        basic_auth=basic_auth,
    )
    try:
        with session:
            run = session.open(args.query_string, resume_session=args.resume)
            report["steps"].append({"step": "open", "elapsed_s": round(run.elapsed_s, 4)})
            for label, filename, data in uploads:
                run = session.upload_file(label, filename, data)
                report["steps"].append({"step": f"upload {label}", "elapsed_s": round(run.elapsed_s, 4)})
            for label in args.click:
                run = session.click_button(label)
                report["steps"].append({"step": f"click {label}", "elapsed_s": round(run.elapsed_s, 4)})
            missing = [text for text in args.expect_text if not run.has_text(text)]
            report.update(run.summary())
            report["missing_texts"] = missing
            report["ok"] = run.ok and not missing
    except StreamlitClientError as error:
        report["error"] = f"{type(error).__name__}: {error}"
    finally:
        report["session_id"] = report.get("session_id") or session.session_id
        report["cookies"] = session.cookie_values()
        if jar is not None:
            jar.save(ignore_discard=True, ignore_expires=True)
        if session.page_load is not None:
            report["page_load"] = {
                "http_s": round(session.page_load.http_s, 4),
                "websocket_s": round(session.page_load.websocket_s, 4),
            }
    print(json.dumps(report, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
