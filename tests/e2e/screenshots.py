"""Screenshots of the main pages for docs/screenshots/ (run by hand, not in CI)::

    .venv/bin/python tests/e2e/screenshots.py [--out docs/screenshots]

Starts the test servers (PostgreSQL + replica, PgBouncer, Redis from the Debian packages), the
Ollama API test double, a real ``pdfcompare serve`` with two workers, and Debian's Chromium
(headless, 1400 px wide). Compares three revisions of a sample agreement (tests/e2e/samples.py)
and photographs: the compare result with highlights, the history, a documents search, a region
query across revisions, and the AI panel. The AI text comes from the test double, not a model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.doubles.ollama_api import OllamaDouble
from tests.e2e import live, samples
from tests.web import support

WIDTH = 1400
COMPARE_ENABLED = ("() => Array.from(document.querySelectorAll('button'))"
                   ".some(b => b.innerText.trim().endsWith('Compare') && !b.disabled)")
IMAGES = ("() => Array.from(document.querySelectorAll('[data-testid=\"stImage\"] img'))"
          ".filter(i => i.complete && i.naturalWidth > %d).length >= 2")


def _settle(page, seconds: float = 1.0) -> None:
    live.wait_idle(page, 60_000)
    time.sleep(seconds)


def _scroll_to(page, text: str) -> None:
    page.get_by_text(text, exact=True).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(0.5)


def _compare(page, server: live.LiveServer, old: tuple[str, bytes], new: tuple[str, bytes]) -> None:
    page.goto(server.url)
    page.get_by_role("heading", name="Compare two versions").wait_for(timeout=60_000)
    live.wait_idle(page)
    live.open_inputs(page)
    live.upload(page, 0, *old)
    live.upload(page, 1, *new)
    page.wait_for_function(COMPARE_ENABLED, timeout=30_000)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("Text changes").first.wait_for(timeout=120_000)
    page.wait_for_function(IMAGES % 400, timeout=120_000)
    _settle(page)


def _nav(page, name: str) -> None:
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", level=1).first.wait_for()
    _settle(page)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=live.ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rev = {k: (f"supply-agreement-rev{chr(64 + k)}.pdf", samples.agreement(k)) for k in (1, 2, 3)}
    with OllamaDouble() as ollama:
        settings = support.with_settings(workers=2, ollama_url=ollama.url, instance_name="")
        with live.live_server(settings, name="app1") as server, live.chromium(WIDTH, 1000) as context:
            page = context.new_page()
            try:
                _compare(page, server, rev[2], rev[3])
                _compare(page, server, rev[1], rev[2])

                # 1. the result: counts, downloads, the pages side by side with highlights
                page.set_viewport_size({"width": WIDTH, "height": 1500})
                _scroll_to(page, "supply-agreement-revA.pdf → supply-agreement-revB.pdf")
                page.screenshot(path=str(args.out / "compare-result.png"))

                # 2. the change list, a drawing change selected on the site plan
                page.get_by_text("Drawing moved · p.3").first.click()
                page.wait_for_function(IMAGES % 800, timeout=60_000)
                _settle(page)
                _scroll_to(page, "Pages")
                page.screenshot(path=str(args.out / "compare-drawing.png"))

                # 3. the AI panel: a streamed summary and an answered question with sources
                page.set_viewport_size({"width": WIDTH, "height": 1000})
                page.get_by_role("button", name="Summarize the changes").click()
                page.get_by_text("Double answer to:").first.wait_for(timeout=60_000)
                _settle(page)
                page.get_by_label("Question").fill("Within how many days must invoices be paid?")
                page.get_by_role("button", name="Ask").click()
                page.get_by_text("Sources (").first.wait_for(timeout=60_000)
                _settle(page)
                page.get_by_text("Sources (").first.click()
                _settle(page, 0.5)
                _scroll_to(page, "AI assistant")
                page.screenshot(path=str(args.out / "ai-panel.png"))

                # 4. history
                _nav(page, "History")
                page.screenshot(path=str(args.out / "history.png"))

                # 5. documents: a full-text search
                _nav(page, "Documents")
                page.get_by_label("Search in your documents").fill("payment days")
                page.get_by_role("button", name="Search").click()
                page.get_by_text("found, best first").wait_for(timeout=30_000)
                _settle(page)
                page.screenshot(path=str(args.out / "documents-search.png"))

                # 6. region: the goods-in dock of the site plan across revisions
                _nav(page, "Region")
                # the change selected in the viewer (the moved dock) is the region's starting point; a
                # wider margin reaches the oil store, changed in the next revision
                chosen = page.get_by_role("combobox", name="Change", exact=True).input_value()
                assert "Drawing moved" in chosen, chosen
                slider = page.get_by_role("slider")
                slider.focus()
                for _ in range(12):
                    slider.press("ArrowRight")
                _settle(page)
                page.get_by_role("button", name="Find changes in this region").click()
                page.get_by_role("heading", name="changes in this region").wait_for(timeout=30_000)
                page.wait_for_function(IMAGES.replace(">= 2", ">= 1") % 300, timeout=60_000)
                _settle(page)
                page.set_viewport_size({"width": WIDTH, "height": 1760})
                _settle(page, 0.5)
                page.screenshot(path=str(args.out / "region.png"))
            except Exception:
                page.screenshot(path=str(args.out / "failed.png"))
                print(page.locator('[data-testid="stMain"]').inner_text()[-3000:], file=sys.stderr)
                print(server.log_tail(60), file=sys.stderr)
                raise
    for name in sorted(p.name for p in args.out.glob("*.png")):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
