"""The AI assistant against the Ollama API test double (tests/doubles/ollama_api.py) and, for
questions, the real storage (PostgreSQL full-text retrieval; pgvector when installed)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pdfcompare import ai as ai_module
from pdfcompare.ai import PROMPT_LIMIT_CHARS, AiUnavailableError, Assistant, summary_prompt
from pdfcompare.cache import Cache
from pdfcompare.engine.model import Change, DocInfo, PageMatch, Report
from pdfcompare.jobs import IngestDocument
from pdfcompare.settings import Settings
from pdfcompare.storage import Database, Storage
from pdfcompare.workers import WorkerPool
from prometheus_client import REGISTRY

from tests.doubles.ollama_api import OllamaDouble
from tests.engine.pdfgen import paragraph, text_pdf
from tests.service import servers


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture()
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as d:
        yield d


def ai_settings(url: str, **overrides) -> Settings:
    return Settings(ollama_url=url, metrics_port_offset=0, **overrides)


def report(changes: int = 3) -> Report:
    items = [Change("text", "replace", 2, 2, (10, 10, 50, 20), (10, 10, 60, 20), f"net {k} days",
                    f"net {k + 30} days") for k in range(changes)]
    items.append(Change("page", "insert", None, 4, None, (0, 0, 595, 842)))
    return Report(DocInfo("a" * 64, 3), DocInfo("b" * 64, 4),
                  [PageMatch(1, 1, "matched"), PageMatch(2, 2, "matched"), PageMatch(3, 3, "matched"),
                   PageMatch(None, 4, "inserted")], items)


def test_status_reports_the_server_and_its_models(double: OllamaDouble) -> None:
    assistant = Assistant(ai_settings(double.url))
    status = assistant.status()
    assert status.available and status.embed_available and status.notice is None
    assert (status.chat_model, status.embed_model) == ("llama3.2", "nomic-embed-text")
    assert status.version.endswith("-double")
    asked = len(double.requests_to("/api/tags"))
    assistant.status()  # cached for 30 s
    assert len(double.requests_to("/api/tags")) == asked
    assistant.status(refresh=True)
    assert len(double.requests_to("/api/tags")) == asked + 1


def test_a_missing_chat_model_is_named_with_the_pull_command(double: OllamaDouble) -> None:
    double.remove_model("llama3.2")
    status = Assistant(ai_settings(double.url)).status()
    assert not status.available
    assert "needs the model llama3.2" in status.notice
    assert "`ollama pull llama3.2`" in status.notice
    with pytest.raises(AiUnavailableError, match="ollama pull llama3.2"):
        Assistant(ai_settings(double.url)).summarize(report())


def test_a_missing_embedding_model_only_limits_questions(double: OllamaDouble) -> None:
    double.remove_model("nomic-embed-text")
    status = Assistant(ai_settings(double.url)).status()
    assert status.available and not status.embed_available
    assert "`ollama pull nomic-embed-text`" in status.notice and "keyword search" in status.notice


def test_an_unreachable_server_gives_a_clear_notice_quickly() -> None:
    url = f"http://127.0.0.1:{servers.free_port()}"
    errors = sample("pdfcompare_ollama_errors_total", operation="status")
    started = time.monotonic()
    assistant = Assistant(ai_settings(url))
    status = assistant.status()
    assert time.monotonic() - started < 5
    assert not status.available
    assert status.notice == (f"The AI assistant is unavailable: the Ollama server at {url} does not answer "
                             "(connection refused or unreachable). Comparisons work as usual.")
    assert sample("pdfcompare_ollama_errors_total", operation="status") == errors + 1
    with pytest.raises(AiUnavailableError, match="does not answer"):
        assistant.summarize(report())


def test_a_slow_server_times_out_the_status_check(double: OllamaDouble, monkeypatch) -> None:
    monkeypatch.setattr(ai_module, "STATUS_TIMEOUT_S", 0.3)
    double.delay_s = 1.0
    started = time.monotonic()
    status = Assistant(ai_settings(double.url)).status()
    assert time.monotonic() - started < 0.9
    assert not status.available and "did not answer in time" in status.notice


def test_ai_is_off_without_a_url() -> None:
    status = Assistant(Settings()).status()
    assert not status.available and "PDFCOMPARE_OLLAMA_URL" in status.notice


def test_the_summary_streams_from_a_bounded_prompt(double: OllamaDouble) -> None:
    durations = sample("pdfcompare_ollama_request_duration_seconds_count", operation="summary")
    assistant = Assistant(ai_settings(double.url))
    parts = list(assistant.summarize(report(), old_name="contract_v1.pdf", new_name="contract_v2.pdf"))
    assert len(parts) > 1, "the answer arrives in pieces"
    assert "".join(parts).startswith("Double answer to: Old version: contract_v1.pdf (3 pages).")
    [chat] = double.requests_to("/api/chat")
    assert chat["body"]["model"] == "llama3.2" and chat["body"]["stream"] is True
    prompt = chat["body"]["messages"][-1]["content"]
    assert "4 changes: text 3, page 1, geometry 0, raster 0." in prompt
    assert '"net 0 days" replaced by "net 30 days"' in prompt
    assert "page inserted: new p.4" in prompt
    assert sample("pdfcompare_ollama_request_duration_seconds_count", operation="summary") == durations + 1


def test_a_huge_report_is_cut_to_the_prompt_limit() -> None:
    prompt = summary_prompt(report(changes=2000).to_dict())
    assert len(prompt) <= PROMPT_LIMIT_CHARS
    assert "The list is cut short: the first" in prompt and "of 2001 changes." in prompt
    assert summary_prompt(Report(DocInfo("a" * 64, 1), DocInfo("a" * 64, 1), [], [])).endswith(
        "The documents have no differences.")


def test_a_model_removed_after_the_status_check_gives_the_notice_while_streaming(
        double: OllamaDouble) -> None:
    assistant = Assistant(ai_settings(double.url))
    stream = assistant.summarize(report())
    double.remove_model("llama3.2")
    errors = sample("pdfcompare_ollama_errors_total", operation="summary")
    with pytest.raises(AiUnavailableError, match="does not have the model llama3.2.*ollama pull llama3.2"):
        list(stream)
    assert sample("pdfcompare_ollama_errors_total", operation="summary") == errors + 1
    assert not assistant.status().available  # the status is checked again


def test_a_server_that_goes_down_mid_session_gives_the_notice(double: OllamaDouble) -> None:
    assistant = Assistant(ai_settings(double.url))
    assert assistant.status().available
    double.stop()
    with pytest.raises(AiUnavailableError, match="does not answer"):
        list(assistant.summarize(report()))


OLD = [[paragraph(200 + k) for k in range(3)], [paragraph(210 + k) for k in range(3)]]
NEW = [OLD[0], [paragraph(210), "Payment is due within 45 days of the invoice date, by bank transfer.",
                 paragraph(212)]]


@pytest.fixture()
def qa(make_settings, double: OllamaDouble) -> Iterator[tuple[Settings, Storage]]:
    settings = make_settings(workers=0, ollama_url=double.url, instance_name="ai-test")
    cache = Cache(settings)
    db = Database(settings, lsn_store=cache)
    try:
        yield settings, Storage(db)
    finally:
        db.close()
        cache.close()


def test_questions_are_answered_from_the_documents_text(qa, make_user, double: OllamaDouble) -> None:
    settings, storage = qa
    user = make_user("qa")
    pool = WorkerPool(settings, storage=storage)  # inline: the ingest runs here
    ids = []
    for name, pages in (("terms_v1.pdf", OLD), ("terms_v2.pdf", NEW)):
        document = storage.add_document(user, name, text_pdf(pages))
        pool.submit(IngestDocument(user.id, document.id)).result(0)
        ids.append(document.id)
    assistant = Assistant(settings, storage)
    answer = assistant.answer(user, ids, "When is payment due after the invoice?")
    expected = "vector" if storage.vector_available() else "text"
    assert answer.retrieval == expected
    top = answer.sources[0]
    assert (top.document_id, top.page_no) == (ids[1], 2)
    assert "45 days" in top.text and top.label == "new: terms_v2.pdf p.2"
    text = "".join(answer.stream)
    assert text.startswith("Double answer to: Question: When is payment due after the invoice?")
    assert "first source: [new: terms_v2.pdf p.2]" in text
    prompt = double.requests_to("/api/chat")[-1]["body"]["messages"][-1]["content"]
    assert "Payment is due within 45 days of the invoice date" in prompt
    if expected == "vector":
        assert double.requests_to("/api/embed")
    # another user's documents are never retrieved
    stranger = make_user("stranger")
    other = assistant.answer(stranger, ids, "When is payment due after the invoice?")
    assert other.sources == [] and other.retrieval == "none"
    assert "".join(other.stream).startswith("Double answer to:")
    prompt = double.requests_to("/api/chat")[-1]["body"]["messages"][-1]["content"]
    assert "(no passage of the documents matches the question)" in prompt
    assert "45 days" not in prompt
