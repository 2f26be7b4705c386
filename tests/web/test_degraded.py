"""What the page does when something is wrong: a bad PDF, a file over the limit, the rate limit, the
AI down or missing, Redis down, no database, a user the load balancer did not vouch for, and a
comparison that runs on another instance."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from pdfcompare.identity import WORKSPACE_COOKIE, User
from pdfcompare.jobs import ENGINE_VERSION, normalize_options
from pdfcompare.settings import Settings

from tests.doubles.ollama_api import OllamaDouble
from tests.service import servers
from tests.web import support
from tests.web.support import (
    comparison_shown,
    goto,
    new_app,
    run_until,
    texts,
    upload_and_compare,
    with_settings,
)


def no_error_shown(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]


def test_a_bad_pdf_shows_the_engines_one_line_message(services) -> None:
    at = new_app()
    at.run()
    old, _ = support.unique_pdf_pair(secrets.token_hex(4))
    upload_and_compare(at, old, b"%PDF-1.7\n this is not really a PDF " + secrets.token_bytes(8),
                       new_name="broken.pdf")
    run_until(at, comparison_shown)
    [message] = [e.value for e in at.error]
    assert "\n" not in message and "Traceback" not in message
    assert "new" in message.lower() and "pdf" in message.lower()
    assert not at.exception and not at.metric


def test_an_upload_over_the_limit_is_refused_before_anything_happens() -> None:
    with support.app_services(with_settings(max_upload_mb=1)) as services:
        at = new_app()
        at.run()
        big = b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 10)
        at.file_uploader(key="old_upload").upload("huge.pdf", big, "application/pdf").run()
        [message] = [e.value for e in at.error]
        assert message.startswith("huge.pdf is 1.0 MB; files up to 1 MB can be compared.")
        assert at.button(key="compare_button").disabled
        user = User.workspace(at.session_state["_workspace_token"])
        assert services.storage.list_documents(user) == []


def test_the_rate_limit_says_when_the_next_comparison_may_start() -> None:
    with support.app_services(with_settings(rate_limit_per_minute=1)):
        at = new_app()
        at.run()
        upload_and_compare(at, *support.unique_pdf_pair(secrets.token_hex(4)))
        run_until(at, comparison_shown)
        upload_and_compare(at, *support.unique_pdf_pair(secrets.token_hex(4)))
        [message] = [w.value for w in at.warning]
        assert "comparisons in the last minute" in message and "The next one can start in" in message


@pytest.fixture()
def ollama() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double:
        yield double


def test_the_ai_panel_streams_a_summary_and_answers_with_sources(ollama: OllamaDouble) -> None:
    with support.app_services(with_settings(ollama_url=ollama.url)):
        at = new_app()
        at.run()
        upload_and_compare(at, *support.unique_pdf_pair(secrets.token_hex(4)))
        run_until(at, comparison_shown)
        at.button(key="ai_summarize").click().run()
        assert "Double answer to:" in texts(at)
        assert ollama.requests_to("/api/chat")
        # the question needs the documents read for retrieval (a job after the comparison)
        goto(at, "documents")
        run_until(at, lambda at: "being read" not in texts(at), 60)
        goto(at, "compare")
        at.text_input(key="ai_question").input("When are the turbine bearings delivered?")
        at.button[[b.label for b in at.button].index("Ask")].click().run()
        shown = texts(at)
        assert "**Q:** When are the turbine bearings delivered?" in shown
        assert "Double answer to:" in shown and "first source:" in shown
        assert any(e.label.startswith("Sources (") for e in at.expander)
        assert "**new\\: new.pdf p.2**" in shown  # the source: the new version's page 2


def test_without_ollama_the_panel_shows_the_notice_and_nothing_else_breaks() -> None:
    down = f"http://127.0.0.1:{servers.free_port()}"
    with support.app_services(with_settings(ollama_url=down)):
        at = new_app()
        at.run()
        upload_and_compare(at, *support.unique_pdf_pair(secrets.token_hex(4)))
        run_until(at, comparison_shown)
        notices = [i.value for i in at.info]
        assert any("The AI assistant is unavailable" in n and "Comparisons work as usual" in n
                   for n in notices)
        assert not at.error and not at.exception
        assert any(m.label == "Text changes" and m.value == "1" for m in at.metric)
        assert not [b for b in at.button if b.key == "ai_summarize"]


def test_with_redis_down_comparing_works_and_only_a_calm_note_says_so() -> None:
    with support.app_services(with_settings(redis_url=support.dead_redis_url())):
        at = new_app()
        at.run()
        upload_and_compare(at, *support.unique_pdf_pair(secrets.token_hex(4)))
        run_until(at, comparison_shown)
        run_until(at, support.images_shown)
        no_error_shown(at)
        assert any(m.label == "Page changes" and m.value == "1" for m in at.metric)
        assert "Results are not shared between instances right now" in texts(at)


def test_without_a_database_the_page_says_the_service_is_not_configured() -> None:
    with support.app_services(Settings(metrics_port_offset=0, workers=1)):
        at = new_app()
        at.run()
        assert not at.exception
        assert "The service is not configured" in at.warning[0].value


@pytest.mark.usefixtures("browser_requests")
def test_header_mode_needs_the_load_balancer_and_shows_admins_the_all_users_switch() -> None:
    settings = with_settings(auth_mode="header", trusted_proxies=("10.0.0.5",), admin_users=("boss",))
    with support.app_services(settings):
        direct = support.as_browser(new_app(), headers={"X-Pdfcompare-User": "mallory"}, peer="192.0.2.7")
        direct.run()
        assert "Sign-in required" in direct.error[0].value
        assert "192.0.2.7" in texts(direct) and not direct.file_uploader
        admin = support.as_browser(new_app(), headers={"X-Pdfcompare-User": "boss"}, peer="10.0.0.5")
        admin.run()
        assert "Signed in as boss · admin" in texts(admin)
        goto(admin, "history")
        assert admin.toggle(key="all_users").value is False
        plain = support.as_browser(new_app(), headers={"X-Pdfcompare-User": "ann"}, peer="10.0.0.5")
        plain.run()
        goto(plain, "history")
        assert not [t for t in plain.toggle if t.key == "all_users"]


@pytest.mark.usefixtures("browser_requests")
def test_a_comparison_running_on_another_instance_shows_its_published_progress(services) -> None:
    token = secrets.token_urlsafe(32)
    user = User.workspace(token)
    storage = services.storage
    old, new = support.unique_pdf_pair(secrets.token_hex(4))
    old_doc, new_doc = storage.add_document(user, "a.pdf", old), storage.add_document(user, "b.pdf", new)
    record = storage.create_comparison(user, old_doc.id, new_doc.id, normalize_options(), ENGINE_VERSION,
                                       "app2:8502")
    storage.start_comparison(user, record.id, "app2:8502")
    services.cache.set_progress(record.id, {"stage": "pages", "done": 30, "total": 120, "state": "running",
                                            "instance": "app2:8502", "updated_at": 1e12})
    services.cache.save_workspace(user.id, {"comparison_id": record.id})
    at = support.as_browser(new_app(), cookies={WORKSPACE_COOKIE: token})
    at.run()
    [bar] = at.get("progress")
    assert "Comparing the pages — page pair 30 of 120" in bar.proto.text
    assert "Running on app2:8502" in texts(at)
    storage.fail_comparison(user, record.id, "The comparison stopped on app2.")
    at.run()
    assert at.error[0].value == "The comparison stopped on app2."
