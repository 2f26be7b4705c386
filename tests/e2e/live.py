"""A real ``pdfcompare serve`` on a free loopback port and Debian's Chromium driven by Playwright:
what the browser test, the screenshot script and the interaction benchmark start.

Chromium is ``/usr/bin/chromium`` (Debian's package); Playwright only drives it. No browser is ever
downloaded (no ``playwright install``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pdfcompare.settings import ENV_PREFIX, Settings

from tests.service import servers

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 60.0


def settings_environment(settings: Settings) -> dict[str, str]:
    """``PDFCOMPARE_*`` variables that reproduce ``settings`` (what the systemd unit would set)."""
    env: dict[str, str] = {}
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            text = ",".join(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[f"{ENV_PREFIX}{f.name.upper()}"] = text
    return env


@dataclass
class LiveServer:
    """A running ``pdfcompare serve`` (``url``; ``log`` holds its output)."""

    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def live_server(settings: Settings, *, name: str = "e2e", extra_env: Mapping[str, str] | None = None,
                port: int | None = None) -> Iterator[LiveServer]:
    """Run ``pdfcompare serve`` with ``settings`` on 127.0.0.1 (a free port unless given) until the
    block ends; SIGTERM, then SIGKILL after 10 s."""
    port = port or servers.free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    env.update(settings_environment(settings))
    env.update({f"{ENV_PREFIX}ADDRESS": "127.0.0.1", f"{ENV_PREFIX}PORT": str(port),
                f"{ENV_PREFIX}INSTANCE_NAME": f"{name}:{port}", f"{ENV_PREFIX}METRICS_PORT_OFFSET": "0",
                f"{ENV_PREFIX}COOKIE_SECRET": settings.cookie_secret or "e2e-cookie-secret-for-tests-only",
                "FORWARDED_ALLOW_IPS": ""})
    env.update(extra_env or {})
    log = Path(tempfile.mkstemp(prefix=f"pdfcompare-{name}-", suffix=".log")[1])
    command = [str(Path(sys.executable).parent / "pdfcompare"), "serve"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(f"http://127.0.0.1:{port}", port, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(server.url):
            if process.poll() is not None:
                raise RuntimeError(f"pdfcompare serve exited with {process.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"pdfcompare serve did not answer within {START_TIMEOUT_S:.0f} s:\n"
                                   f"{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        with contextlib.suppress(OSError):
            log.unlink()


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A browser context (a fresh profile: no cookies) of Debian's Chromium, headless."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height})
            try:
                yield context
            finally:
                context.close()
        finally:
            browser.close()


def upload(page: Any, index: int, name: str, data: bytes) -> None:
    """Put a file into the ``index``-th file uploader of the page, as a person choosing it does."""
    wait_idle(page)
    uploader = page.locator('[data-testid="stFileUploader"]').nth(index)
    uploader.locator('input[type="file"]').set_input_files(
        files=[{"name": name, "mimeType": "application/pdf", "buffer": data}])
    # the chip shows a long name shortened; its label has it whole
    uploader.locator(f'[data-testid="stFileChip"][aria-label^="{name},"]').wait_for(timeout=60_000)
    wait_idle(page)


def open_inputs(page: Any) -> None:
    """Show the Compare page's inputs (a result replaces them until "New comparison")."""
    uploader = page.locator('[data-testid="stFileUploader"]').first
    new = page.get_by_role("button", name="New comparison")
    uploader.or_(new).first.wait_for(timeout=30_000)
    if not uploader.is_visible():
        new.click()
    uploader.wait_for(timeout=30_000)


def wait_idle(page: Any, timeout_ms: int = 30_000) -> None:
    """Wait until the script run has finished (Streamlit's "running" indicator is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def loaded_images(page: Any) -> int:
    """Page images that the browser has actually decoded."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stImage"] img'))
                              .filter(img => img.complete && img.naturalWidth > 0).length""")
