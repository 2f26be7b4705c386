"""The Compare page on the real backend (PostgreSQL through PgBouncer, Redis, worker processes):
upload, progress, result, viewer, change list, history, documents, region, and what another user
can (not) see."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from pdfcompare.identity import WORKSPACE_COOKIE, User

from tests.web import support
from tests.web.support import (
    BEARINGS,
    change_titles,
    choose_change,
    comparison_shown,
    goto,
    images_shown,
    new_app,
    run_until,
    texts,
    upload_and_compare,
)


@pytest.fixture(scope="module")
def compared(services) -> dict[str, Any]:
    """User A's session after comparing the standard pair (shared by the tests of this module)."""
    at = new_app()
    at.run()
    old, new = support.unique_pdf_pair(secrets.token_hex(4))
    upload_and_compare(at, old, new, "contract_v1.pdf", "contract_v2.pdf")
    run_until(at, comparison_shown)
    return {"at": at, "comparison_id": at.session_state["comparison_id"]}


def test_the_result_shows_counts_the_expected_changes_and_highlighted_pages(compared) -> None:
    at = compared["at"]
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Text changes"] == "1" and metrics["Page changes"] == "1"
    assert (metrics["Old pages"], metrics["New pages"]) == ("3", "4")
    assert change_titles(at) == ["Text changed · p.2", "Page inserted · p.4"]
    shown = texts(at)
    assert "turbine bearings" in shown and "contract\\_v1.pdf → contract\\_v2.pdf" in shown
    run_until(at, images_shown)
    assert len(at.get("image")) == 2  # old and new page side by side
    assert at.selectbox(key="entry").value == 1  # "only pages with changes": page 2 first


def test_clicking_a_change_jumps_the_viewer_to_its_page_and_filters_work(compared) -> None:
    at = compared["at"]
    choose_change(at, 1)  # the inserted page
    assert at.session_state["entry"] == 3 and at.session_state["change"] == 1
    assert "New page 4 (inserted)" in at.selectbox(key="entry").format_func(3)
    assert "This page is new: the old version has no page here." in texts(at)
    at.multiselect(key="kinds").set_value(["page"]).run()
    assert change_titles(at) == ["Page inserted · p.4"]
    at.multiselect(key="kinds").set_value(["text", "page"]).run()
    at.button(key="prev_entry").click().run()
    assert at.session_state["entry"] == 1
    at.toggle(key="only_changed").set_value(False).run()
    at.button(key="next_entry").click().run()
    assert at.session_state["entry"] == 2 and at.selectbox(key="entry").format_func(2) == "Page 3"


def test_history_lists_the_comparison_and_opens_it(compared) -> None:
    at = compared["at"]
    goto(at, "history")
    shown = texts(at)
    assert "contract\\_v1.pdf" in shown and "1 text · 1 page" in shown
    at.button(key=f"open_{compared['comparison_id']}").click().run()
    assert any(m.label == "Text changes" for m in at.metric)


def test_documents_lists_the_uploads_and_finds_text_with_page_numbers(compared) -> None:
    at = compared["at"]
    goto(at, "documents")

    def indexed(at) -> bool:
        return "being read" not in texts(at)

    run_until(at, indexed, 60)
    shown = texts(at)
    assert "contract\\_v1.pdf" in shown and "contract\\_v2.pdf" in shown and "4 pages" in shown
    at.text_input(key="search_query").input(BEARINGS)
    at.button[[b.label for b in at.button].index("Search")].click().run()
    shown = texts(at)
    assert "contract\\_v2.pdf** · page 2" in shown
    assert "**turbine** **bearings**" in shown or "**turbine bearings**" in shown


def test_region_finds_the_change_across_comparisons(compared) -> None:
    at = compared["at"]
    goto(at, "region")
    assert at.selectbox(key="region_comparison").value == compared["comparison_id"]
    at.selectbox(key="region_change").set_value(0).run()
    run_until(at, lambda at: len(at.get("image")) == 1)  # the page with the region outlined
    at.button(key="region_find").click().run()
    assert "1 change in this region" in texts(at)
    at.button(key=f"region_open_{compared['comparison_id']}_0").click().run()
    assert at.session_state["change"] == 0 and any(m.label == "Text changes" for m in at.metric)


def test_another_user_sees_nothing_of_the_first_and_cannot_open_it_by_id(services, compared) -> None:
    first = compared["at"]
    comparison_id = compared["comparison_id"]
    other = new_app()
    other.run()
    assert other.session_state["_workspace_token"] != first.session_state["_workspace_token"]
    assert [o for o in other.selectbox(key="old_pick").options if o != "—"] == []
    goto(other, "history")
    assert "No comparisons yet" in texts(other)
    goto(other, "documents")
    assert "No documents yet" in texts(other)
    other.text_input(key="search_query").input(BEARINGS)
    other.button[[b.label for b in other.button].index("Search")].click().run()
    assert "Nothing found" in texts(other)
    # by a link ...
    goto(other, "compare")
    other.query_params["comparison"] = str(comparison_id)
    other.run()
    assert f"There is no comparison {comparison_id} in your workspace." in texts(other)
    assert not other.metric and not other.get("image")
    # ... and by poking the session state (ids of the comparison and of a document)
    other.session_state["comparison_id"] = comparison_id
    first_docs = services.storage.list_documents(User.workspace(first.session_state["_workspace_token"]))
    other.session_state["old_pick"] = first_docs[0].id
    other.run()
    assert f"There is no comparison {comparison_id} in your workspace." in texts(other)
    assert not other.metric and other.selectbox(key="old_pick").value is None
    goto(other, "region")
    assert "No finished comparisons yet" in texts(other)


@pytest.mark.usefixtures("browser_requests")
def test_a_new_session_of_the_same_browser_restores_the_open_comparison(services) -> None:
    token = secrets.token_urlsafe(32)
    cookies = {WORKSPACE_COOKIE: token}
    first = support.as_browser(new_app(), cookies=cookies)
    first.run()
    old, new = support.unique_pdf_pair(secrets.token_hex(4))
    upload_and_compare(first, old, new)
    run_until(first, comparison_shown)
    choose_change(first, 1)
    saved = services.cache.load_workspace(f"anon:{token}")
    assert saved["comparison_id"] == first.session_state["comparison_id"] and saved["entry"] == 3
    second = support.as_browser(new_app(), cookies=cookies)  # a reload, or another instance
    second.run()
    assert second.session_state["comparison_id"] == first.session_state["comparison_id"]
    assert second.selectbox(key="entry").value == 3 and second.session_state["change"] == 1
    assert "Page inserted · p.4" in texts(second)


def test_a_new_browser_gets_a_workspace_cookie_written_by_the_page(services) -> None:
    at = new_app()
    at.run()
    token = at.session_state["_workspace_token"]
    scripts = [h.proto.body for h in at.get("html") if "document.cookie" in h.proto.body]
    assert scripts and f"{WORKSPACE_COOKIE}={token}" in scripts[0]
    assert "SameSite=Lax" in scripts[0] and "Max-Age=31536000" in scripts[0] and "Secure" in scripts[0]
    at.run()
    assert at.session_state["_workspace_token"] == token  # the same workspace for the whole session


def test_the_annotated_pdf_is_prepared_by_a_job_and_offered_for_download(compared) -> None:
    at = compared["at"]
    goto(at, "compare")
    at.button(key="prepare_pdf").click().run()
    run_until(at, lambda at: any(b.key == "download_pdf" for b in at.get("download_button")), 60)
    assert any(b.key == "download_json" for b in at.get("download_button"))
