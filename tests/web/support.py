"""What the UI tests share: the real servers (started once per test process, for tests/web and
tests/e2e alike), settings for them, the app's :class:`~pdfcompare.service.Services` with worker
processes, the test PDFs, and helpers that drive :class:`streamlit.testing.v1.AppTest` like a person.

The servers come from ``tests/service/servers.py`` (PostgreSQL primary + replica, PgBouncer, Redis
from this machine's Debian packages, on loopback); they are stopped when the test process ends.
Without the packages the tests are skipped, unless ``PDFCOMPARE_REQUIRE_SERVICES`` is set.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pdfcompare.service import Services, set_services
from pdfcompare.settings import Settings
from pdfcompare.workers import PRELOAD, WorkerPool

from tests.engine.pdfgen import paragraph, text_pdf
from tests.service import servers

ROOT = Path(__file__).resolve().parents[2]
APP_SCRIPT = ROOT / "app" / "pdfcompare" / "web" / "app.py"
TEST_PRELOAD = (*PRELOAD, "pytest")
"""Worker processes re-run the main script (pytest here): preloading it keeps jobs starting fast."""

_lock = threading.Lock()
_started: servers.Services | None = None
_settings: Settings | None = None


def started_servers() -> servers.Services:
    """The servers of this test process (started on first use; skipped/failed without packages)."""
    global _started
    with _lock:
        if _started is None:
            binaries, missing = servers.find_binaries()
            if binaries is None:
                message = "the UI tests need " + ", ".join(missing) + " (`make test-deps` installs them)"
                if os.environ.get("PDFCOMPARE_REQUIRE_SERVICES"):
                    pytest.fail(message + "; failing because PDFCOMPARE_REQUIRE_SERVICES is set",
                                pytrace=False)
                pytest.skip(message)
            _started = servers.start_services(binaries)
        return _started


def base_settings() -> Settings:
    """Settings for the servers: PgBouncer's aliases, Redis, two workers, schema migrated."""
    global _settings
    running = started_servers()
    with _lock:
        if _settings is None:
            from pdfcompare.storage import migrate

            _settings = running.app_settings("web-tests", workers=2, compare_timeout_s=120.0,
                                             rate_limit_per_minute=0)
            migrate(_settings)
            running.postgres.wait_replica_caught_up()
        return _settings


def dead_redis_url() -> str:
    """A Redis URL where nothing listens (what the app sees when Redis is stopped)."""
    return f"redis://pdfcompare@127.0.0.1:{servers.free_port()}/0"


@contextlib.contextmanager
def app_services(settings: Settings) -> Iterator[Services]:
    """The app's services for ``settings``, installed for this process (``get_services()``), with
    real worker processes; closed afterwards, when the services installed before are back."""
    from pdfcompare import service

    previous = service._current  # noqa: SLF001 - a test may nest these; the outer ones come back
    services = Services.create(settings)
    services.workers = WorkerPool(settings, storage=services.storage, cache=services.cache,
                                  preload=TEST_PRELOAD)
    services.start()
    set_services(services)
    try:
        yield services
    finally:
        set_services(previous)
        services.close()


# --- documents ------------------------------------------------------------------------------------

OLD_PAGES = [[paragraph(p * 10 + k) for k in range(3)] for p in range(3)]
NEW_PAGES = [list(page) for page in OLD_PAGES]
NEW_PAGES[1][1] = "The supplier shall deliver the turbine bearings within fourteen days of the order."
NEW_PAGES.append([paragraph(99)])
BEARINGS = "turbine bearings"


def pdf_pair() -> tuple[bytes, bytes]:
    """Three pages, then the same with a sentence replaced on page 2 and a page added."""
    return text_pdf(OLD_PAGES), text_pdf(NEW_PAGES)


def unique_pdf_pair(tag: str) -> tuple[bytes, bytes]:
    """A pair no other test uploads (so no earlier result or cache entry is reused)."""
    old = [list(page) for page in OLD_PAGES]
    old[0][0] = f"Reference {tag} of the agreement between the parties."
    new = [list(page) for page in NEW_PAGES]
    new[0][0] = f"Reference {tag} of the agreement between the parties."
    return text_pdf(old), text_pdf(new)


# --- AppTest helpers ------------------------------------------------------------------------------


def new_app(timeout: float = 30.0) -> Any:
    """A fresh browser session of the app (a new anonymous workspace)."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(APP_SCRIPT), default_timeout=timeout)


def texts(at: Any) -> str:
    """Every text the page shows (markdown, captions, alerts, metrics labels), one per line."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info",
                 "success", "text"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    for metric in at.metric:
        parts.append(f"{metric.label}: {metric.value}")
    for button in at.button:
        parts.append(str(button.label))
    for radio in at.radio:
        parts.extend(str(option) for option in radio.options)
    return "\n".join(parts)


def run_until(at: Any, done: Callable[[Any], bool], timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Rerun the app (as the page's timers do) until ``done(at)`` or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"the page did not get there within {timeout} s; it shows:\n{texts(at)}")
        time.sleep(interval)


def comparison_shown(at: Any) -> bool:
    return any(m.label == "Text changes" for m in at.metric) or bool(at.error)


def change_titles(at: Any) -> list[str]:
    """The change list's entries (their bold titles), in order."""
    radios = [r for r in at.radio if r.key == "change_choice"]
    if not radios:
        return []
    return [label.split("**")[1] for label in radios[0].options]


def choose_change(at: Any, idx: int) -> Any:
    """Click change ``idx`` in the change list (the viewer jumps to its page)."""
    return at.radio(key="change_choice").set_value(idx).run()


def images_shown(at: Any) -> bool:
    return len(at.get("image")) >= 1 and "Rendering the page" not in texts(at)


def upload_and_compare(at: Any, old: bytes, new: bytes, old_name: str = "old.pdf",
                       new_name: str = "new.pdf") -> Any:
    """Upload two files into the Compare page's inputs and press Compare."""
    if any(b.key == "new_comparison" for b in at.button):
        at.button(key="new_comparison").click().run()
    at.file_uploader(key="old_upload").upload(old_name, old, "application/pdf")
    at.file_uploader(key="new_upload").upload(new_name, new, "application/pdf")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="compare_button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def with_settings(**overrides: Any) -> Settings:
    return replace(base_settings(), **overrides)


def goto(at: Any, name: str) -> Any:
    """Open page ``name`` (``compare``, ``history``, ``documents``, ``region``) as the sidebar does."""
    for page_hash, info in at._registered_pages.items():
        if info.get("url_pathname") == name or (name == "compare" and info.get("url_pathname") == ""):
            at._page_hash = page_hash
            at.run()
            assert not at.exception, [e.value for e in at.exception]
            return at
    raise AssertionError(f"no page {name!r}: {list(at._registered_pages.values())}")


BROWSER_KEY = "_test_browser"
"""Session key the tests' stand-in for ``request_context`` reads (what a browser would send)."""


def as_browser(at: Any, *, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None,
               peer: str | None = None) -> Any:
    """Make ``at`` send these cookies/headers from ``peer`` (needs the ``browser_requests`` fixture)."""
    at.session_state[BROWSER_KEY] = {"cookies": cookies or {}, "headers": headers or {}, "peer": peer}
    return at
