"""End to end in a real browser: Debian's Chromium (headless, driven by Playwright) against a real
``pdfcompare serve`` on loopback, with PostgreSQL (primary + replica through PgBouncer), Redis and
two worker processes: upload two PDFs, compare, see the changes and the highlighted page images,
then reload the page and find the same comparison (workspace cookie + Redis)."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.e2e import live
from tests.web import support

pytestmark = pytest.mark.skipif(
    not live.CHROMIUM.exists() and not os.environ.get("PDFCOMPARE_REQUIRE_SERVICES"),
    reason="needs Debian's chromium at /usr/bin/chromium (`make test-deps` installs it)")


def test_compare_in_the_browser_and_find_it_again_after_a_reload() -> None:
    settings = support.with_settings(workers=2)
    old, new = support.unique_pdf_pair(secrets.token_hex(4))
    with live.live_server(settings) as server, live.chromium() as context:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url)
        page.get_by_role("heading", name="Compare two versions").wait_for(timeout=30_000)
        live.upload(page, 0, "contract_v1.pdf", old)
        live.upload(page, 1, "contract_v2.pdf", new)
        compare = page.get_by_role("button", name="Compare", exact=True)
        compare.wait_for()
        page.wait_for_function("() => Array.from(document.querySelectorAll('button'))"
                               ".some(b => b.innerText.trim().endsWith('Compare') && !b.disabled)")
        compare.click()

        # the change list and both highlighted page images
        page.get_by_text("Text changed · p.2").wait_for(timeout=60_000)
        page.get_by_text("Page inserted · p.4").wait_for()
        page.get_by_text("turbine bearings", exact=False).first.wait_for()
        page.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=\"stImage\"] img'))"
                               ".filter(i => i.complete && i.naturalWidth > 400).length >= 2", timeout=60_000)
        assert page.get_by_text("Text changes").count() >= 1

        # a click on a change shows its page
        page.get_by_text("Page inserted · p.4").click()
        page.get_by_text("This page is new: the old version has no page here.").wait_for(timeout=30_000)

        cookies = {c["name"]: c for c in context.cookies()}
        cookie = cookies["pdfcompare_workspace"]
        assert len(cookie["value"]) == 43 and cookie["sameSite"] == "Lax" and not cookie["secure"]
        assert cookie["expires"] > 300 * 24 * 3600  # about a year from now (seconds since the epoch)

        # reload: a new session finds the same workspace (cookie) and view (Redis)
        page.reload()
        page.get_by_role("heading", name="contract_v1.pdf → contract_v2.pdf").wait_for(timeout=30_000)
        page.get_by_text("This page is new: the old version has no page here.").wait_for(timeout=30_000)
        page.get_by_text("Text changed · p.2").wait_for()
        assert not errors, errors
