"""The real jobs in real worker processes, against PostgreSQL (primary + replica through PgBouncer)
and Redis: ingest, compare (and reuse of a cached result by another user), render, annotate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pdfcompare.cache import Cache
from pdfcompare.jobs import (
    ENGINE_VERSION,
    BuildAnnotatedPdf,
    IngestDocument,
    RenderPage,
    RunComparison,
    chunk_pages,
    normalize_options,
)
from pdfcompare.settings import Settings
from pdfcompare.storage import Database, PageText, Storage
from pdfcompare.workers import PRELOAD, JobFailed, Progress, WorkerPool

from tests.engine.pdfgen import paragraph, text_pdf

TEST_PRELOAD = (*PRELOAD, "pytest")

OLD_PAGES = [[paragraph(p * 10 + k) for k in range(3)] for p in range(3)]
NEW_PAGES = [list(page) for page in OLD_PAGES]
NEW_PAGES[1][1] = "The supplier shall deliver the turbine bearings within fourteen days of the order."
NEW_PAGES.append([paragraph(99)])


@dataclass
class Env:
    settings: Settings
    storage: Storage
    cache: Cache
    pool: WorkerPool


@pytest.fixture(scope="module")
def pdfs() -> tuple[bytes, bytes]:
    return text_pdf(OLD_PAGES), text_pdf(NEW_PAGES)


@pytest.fixture()
def env(make_settings) -> Iterator[Env]:
    settings = make_settings(workers=2, instance_name="jobs-test")
    cache = Cache(settings)
    db = Database(settings, lsn_store=cache)
    storage = Storage(db)
    pool = WorkerPool(settings, storage=storage, cache=cache, preload=TEST_PRELOAD)
    pool.start()
    try:
        yield Env(settings, storage, cache, pool)
    finally:
        pool.close()
        db.close()
        cache.close()


def ingest(env: Env, user, name: str, data: bytes) -> int:
    document = env.storage.add_document(user, name, data)
    env.pool.submit(IngestDocument(user.id, document.id)).result(timeout=60)
    return document.id


def test_ingest_stores_pages_and_chunks_and_marks_the_document_ready(env: Env, make_user, pdfs) -> None:
    user = make_user("ingest")
    document = env.storage.add_document(user, "new.pdf", pdfs[1])
    assert document.status == "ingesting"
    handle = env.pool.submit(IngestDocument(user.id, document.id))
    result = handle.result(timeout=60)
    assert (result.page_count, result.kind) == (4, "text")
    assert result.chunks >= 4
    stored = env.storage.get_document(user, document.id)
    assert (stored.status, stored.page_count) == ("ready", 4)
    hits = env.storage.search(user, "turbine bearings")
    assert [(h.document_id, h.page_no) for h in hits] == [(document.id, 2)]
    words = env.storage.get_page_words(user, document.id, 2)
    assert [w[0] for w in words if w[0] in ("turbine", "bearings")] == ["turbine", "bearings"]
    chunks = env.storage.retrieve_chunks_text(user, [document.id], "when are the turbine bearings delivered?")
    assert chunks and chunks[0].page_no == 2 and "turbine" in chunks[0].text
    assert handle.progress.stage == "done"


def test_an_unreadable_upload_is_marked_failed_with_the_engines_message(env: Env, make_user) -> None:
    user = make_user("broken")
    document = env.storage.add_document(user, "broken.pdf", b"%PDF-1.7\n this is not really a PDF")
    with pytest.raises(JobFailed) as info:
        env.pool.submit(IngestDocument(user.id, document.id)).result(timeout=60)
    stored = env.storage.get_document(user, document.id)
    assert stored.status == "failed"
    assert stored.error == str(info.value)
    assert "Traceback" not in stored.error and "\n" not in stored.error


def test_a_comparison_is_computed_stored_cached_and_reused_for_another_user(env: Env, make_user,
                                                                            pdfs) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    old_id, new_id = ingest(env, alice, "old.pdf", pdfs[0]), ingest(env, alice, "new.pdf", pdfs[1])
    options = normalize_options({"ocr": "off"})
    record = env.storage.create_comparison(alice, old_id, new_id, options, ENGINE_VERSION)
    seen: list[Progress] = []
    handle = env.pool.submit(RunComparison(alice.id, record.id), on_progress=seen.append)
    result = handle.result(timeout=120)
    assert not result.cached and result.changed and result.pages == 7 and result.kind == "text"
    stages = [p.stage for p in seen]
    order = ["loading", "extract-old", "extract-new", "align", "pages", "saving", "done"]
    assert [s for s in order if s in stages] == order
    assert [s for s in dict.fromkeys(stages)] == order, stages
    stored = env.storage.get_comparison(alice, record.id)
    assert stored.status == "done" and not stored.cached and stored.instance == "jobs-test"
    changes = env.storage.get_changes(alice, record.id)
    assert {c.kind for c in changes} >= {"text", "page"}
    assert any("turbine" in (c.new_text or "") for c in changes)
    key = Cache.result_key(stored.old_sha256, stored.new_sha256, stored.options_hash, ENGINE_VERSION)
    cached_json = env.cache.get_result(key)
    assert cached_json is not None
    assert json.loads(cached_json) == json.loads(env.storage.get_report_json(alice, record.id))
    assert env.cache.get_progress(record.id)["state"] == "done"

    # bob uploads the same two files: his own comparison row, from the cache, nothing recomputed
    bob_old, bob_new = ingest(env, bob, "v1.pdf", pdfs[0]), ingest(env, bob, "v2.pdf", pdfs[1])
    bob_record = env.storage.create_comparison(bob, bob_old, bob_new, options, ENGINE_VERSION)
    bob_seen: list[Progress] = []
    bob_result = env.pool.submit(RunComparison(bob.id, bob_record.id), on_progress=bob_seen.append).result(60)
    assert bob_result.cached and bob_result.pages == 0 and bob_result.summary == result.summary
    assert "extract-old" not in {p.stage for p in bob_seen}
    bob_stored = env.storage.get_comparison(bob, bob_record.id)
    assert (bob_stored.owner, bob_stored.status, bob_stored.cached) == (bob.id, "done", True)
    bob_changes = env.storage.get_changes(bob, bob_record.id)
    assert [(c.kind, c.op, c.new_text) for c in bob_changes] == [(c.kind, c.op, c.new_text) for c in changes]


def test_pages_render_with_highlights_and_are_cached(env: Env, make_user, pdfs) -> None:
    user = make_user("render")
    old_id, new_id = ingest(env, user, "old.pdf", pdfs[0]), ingest(env, user, "new.pdf", pdfs[1])
    record = env.storage.create_comparison(user, old_id, new_id, normalize_options(), ENGINE_VERSION)
    env.pool.submit(RunComparison(user.id, record.id)).result(timeout=120)
    job = RenderPage(user.id, record.id, "new", 2, dpi=50)
    assert job.cached(env.cache) is None
    png = env.pool.submit(job).result(timeout=60)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert job.cached(env.cache) == png
    with pytest.raises(JobFailed, match="Page 9 does not exist; the old document has 3 pages"):
        env.pool.submit(RenderPage(user.id, record.id, "old", 9)).result(timeout=60)


def test_the_annotated_pdf_is_built_once_and_stored(env: Env, make_user, pdfs) -> None:
    user = make_user("annotate")
    old_id, new_id = ingest(env, user, "old.pdf", pdfs[0]), ingest(env, user, "new.pdf", pdfs[1])
    record = env.storage.create_comparison(user, old_id, new_id, normalize_options(), ENGINE_VERSION)
    env.pool.submit(RunComparison(user.id, record.id)).result(timeout=120)
    first = env.pool.submit(BuildAnnotatedPdf(user.id, record.id)).result(timeout=60)
    assert not first.reused and first.size_bytes > 1000
    assert env.storage.get_artifact(user, record.id, "annotated_pdf").startswith(b"%PDF")
    again = env.pool.submit(BuildAnnotatedPdf(user.id, record.id)).result(timeout=60)
    assert again.reused and again.size_bytes == first.size_bytes


def test_a_cancelled_comparison_is_marked_failed_by_the_server_process(env: Env, make_user, pdfs) -> None:
    user = make_user("cancel")
    old_id, new_id = ingest(env, user, "old.pdf", pdfs[0]), ingest(env, user, "new.pdf", pdfs[1])
    record = env.storage.create_comparison(user, old_id, new_id, normalize_options(), ENGINE_VERSION)
    # both workers busy (two different documents: two concurrent ingests of one document would race)
    blockers = [env.pool.submit(IngestDocument(user.id, document_id)) for document_id in (old_id, new_id)]
    handle = env.pool.submit(RunComparison(user.id, record.id))
    assert handle.state == "queued"
    assert handle.cancel()
    assert handle.wait(10) and handle.state == "cancelled"
    for blocker in blockers:
        blocker.result(timeout=60)
    stored = env.storage.get_comparison(user, record.id)
    assert stored.status == "failed" and stored.error == "The comparison was cancelled."
    assert env.cache.get_progress(record.id)["state"] == "cancelled"


def test_a_comparison_over_the_time_limit_fails_with_a_message(make_settings, make_user, pdfs) -> None:
    settings = make_settings(workers=1, compare_timeout_s=0.001, instance_name="jobs-timeout")
    cache = Cache(settings)
    db = Database(settings, lsn_store=cache)
    storage = Storage(db)
    try:
        with WorkerPool(settings, storage=storage, cache=cache, preload=TEST_PRELOAD, grace_s=5.0) as pool:
            user = make_user("slow")
            old = storage.add_document(user, "old.pdf", pdfs[0])
            new = storage.add_document(user, "new.pdf", pdfs[1] + b"\n% another file\n")
            record = storage.create_comparison(user, old.id, new.id, normalize_options(), ENGINE_VERSION)
            handle = pool.submit(RunComparison(user.id, record.id))
            assert handle.wait(60)
        assert handle.state == "timeout"
        assert "time limit" in handle.error_message
        stored = storage.get_comparison(user, record.id)
        assert stored.status == "failed" and stored.error == handle.error_message
    finally:
        db.close()
        cache.close()


def test_inline_mode_runs_the_same_jobs_in_this_process(make_settings, make_user, pdfs) -> None:
    settings = make_settings(workers=0, instance_name="jobs-inline")
    cache = Cache(settings)
    db = Database(settings, lsn_store=cache)
    storage = Storage(db)
    try:
        pool = WorkerPool(settings, storage=storage, cache=cache)
        user = make_user("inline")
        old = storage.add_document(user, "old.pdf", pdfs[0])
        new = storage.add_document(user, "new.pdf", pdfs[1])
        assert pool.submit(IngestDocument(user.id, old.id)).result(0).page_count == 3
        record = storage.create_comparison(user, old.id, new.id, normalize_options({"ignore_case": True}),
                                           ENGINE_VERSION)
        result = pool.submit(RunComparison(user.id, record.id)).result(0)
        assert result.changed
        assert storage.get_comparison(user, record.id).status == "done"
    finally:
        db.close()
        cache.close()


def test_chunks_stay_on_their_page_and_within_the_size() -> None:
    pages = [PageText(1, 100, 100, "short line\nanother"), PageText(2, 100, 100, ""),
             PageText(3, 100, 100, ("word " * 500).strip())]
    chunks = chunk_pages(7, pages, size=200)
    assert chunks[0].text == "short line\nanother" and chunks[0].page_no == 1
    assert {c.page_no for c in chunks} == {1, 3}
    assert all(len(c.text) <= 200 for c in chunks)
    assert [c.chunk_no for c in chunks] == list(range(len(chunks)))
    assert sum(c.text.count("word") for c in chunks) == 500


def test_options_are_normalised_and_checked() -> None:
    from pdfcompare.workers import JobError

    assert normalize_options({"ocr": "off"})["ocr"] == "off"
    assert normalize_options() == normalize_options({"dpi": "150"})
    with pytest.raises(JobError, match="Unknown comparison option 'password'"):
        normalize_options({"password": "x"})
    with pytest.raises(JobError, match="'ocr' must be auto, on or off"):
        normalize_options({"ocr": "always"})
    with pytest.raises(JobError, match="invalid value"):
        normalize_options({"ignore_case": "yes"})
