"""Storage on the real servers, through PgBouncer in transaction mode (the deployment's path):
documents, pages and search, comparisons and their changes, the region query, chunks, artifacts."""

from __future__ import annotations

import hashlib
import json
import re

import psycopg
import pytest
from pdfcompare.engine.model import Change
from pdfcompare.storage import (
    Chunk,
    Database,
    NotFoundError,
    PageText,
    Storage,
    UploadTooLargeError,
    options_hash,
    repository,
)
from pdfcompare.storage.repository import REGION_SQL

PDF = b"%PDF-1.7\n" + b"x" * 1000


def pdf_bytes(tag: str) -> bytes:
    return PDF + tag.encode()


@pytest.fixture(scope="module")
def storage(service_settings):
    db = Database(service_settings)
    yield Storage(db)
    db.close()


def report_for(changes: list[Change]) -> str:
    return json.dumps({"schema": "pdfcompare.report/1", "changes": [c.to_dict() for c in changes]})


def make_comparison(storage, user, changes, old=b"old", new=b"new", filenames=("a.pdf", "b.pdf")):
    a = storage.add_document(user, filenames[0], pdf_bytes(old.decode()))
    b = storage.add_document(user, filenames[1], pdf_bytes(new.decode()))
    comparison = storage.create_comparison(user, a.id, b.id, {"ocr": "auto"}, "0.1.0")
    storage.finish_comparison(user, comparison.id, report_for(changes), changes, {"total": 0.5})
    return comparison


# --- documents -------------------------------------------------------------------------------------
def test_add_document_dedups_per_owner(storage, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    first = storage.add_document(alice, "plan.pdf", pdf_bytes("dedup"))
    again = storage.add_document(alice, "plan-copy.pdf", pdf_bytes("dedup"))
    other = storage.add_document(bob, "plan.pdf", pdf_bytes("dedup"))
    assert first.created and not again.created
    assert again.id == first.id and again.filename == "plan.pdf"
    assert other.created and other.id != first.id
    assert first.sha256 == hashlib.sha256(pdf_bytes("dedup")).hexdigest()
    assert first.status == "ingesting" and first.size_bytes == len(pdf_bytes("dedup"))
    assert storage.get_document_content(alice, first.id) == pdf_bytes("dedup")


def test_upload_size_limit(service_settings, make_settings, make_user):
    db = Database(make_settings(max_upload_mb=1))
    try:
        small = Storage(db)
        user = make_user()
        with pytest.raises(UploadTooLargeError, match="limit is 1 MB"):
            small.add_document(user, "big.pdf", b"%PDF" + b"0" * (1024 * 1024))
        assert small.list_documents(user) == []
        assert small.add_document(user, "ok.pdf", b"%PDF" + b"0" * 1000).created
    finally:
        db.close()


def test_document_status_and_pages(storage, make_user):
    user = make_user()
    doc = storage.add_document(user, "spec.pdf", pdf_bytes("status"))
    pages = [PageText(1, 595.0, 842.0, "Bearing housing\nmaterial steel", [["Bearing", 72, 70, 120, 82]]),
             PageText(2, 595.0, 842.0, "Second page", "[]")]
    assert storage.save_pages(user, doc.id, pages) == 2
    assert storage.save_pages(user, doc.id, iter(pages)) == 2  # a retried job replaces, never duplicates
    storage.mark_document_ready(user, doc.id, 2)
    stored = storage.get_document(user, doc.id)
    assert (stored.status, stored.page_count, stored.error) == ("ready", 2, None)
    assert storage.get_page_words(user, doc.id, 1) == [["Bearing", 72, 70, 120, 82]]
    storage.mark_document_failed(user, doc.id, "The file is encrypted.")
    assert storage.get_document(user, doc.id).error == "The file is encrypted."


def test_delete_document_cascades_to_its_comparisons(storage, make_user):
    user = make_user()
    change = Change("text", "insert", 1, 1, None, (1, 2, 3, 4), None, "x")
    comparison = make_comparison(storage, user, [change])
    storage.save_artifact(user, comparison.id, "annotated_pdf", b"%PDF annotated")
    assert storage.delete_document(user, comparison.old_document_id) == 1
    with pytest.raises(NotFoundError):
        storage.get_comparison(user, comparison.id)
    with pytest.raises(NotFoundError):
        storage.get_artifact(user, comparison.id, "annotated_pdf")
    assert [d.id for d in storage.list_documents(user)] == [comparison.new_document_id]
    with pytest.raises(NotFoundError):
        storage.delete_document(user, comparison.old_document_id)


# --- search ----------------------------------------------------------------------------------------
def test_search_finds_only_own_pages_with_snippets(storage, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    text = ("General notes. All bearings shall be greased before assembly. Torque the M8x1.25 bolts "
            "to 25 Nm. Part number AB-1234 replaces AB-1200.")
    for user in (alice, bob):
        doc = storage.add_document(user, f"{user.name}.pdf", pdf_bytes(user.id))
        storage.save_pages(user, doc.id, [PageText(1, 595, 842, "Cover sheet", "[]"),
                                          PageText(2, 595, 842, text, "[]")])
    hits = storage.search(alice, "bearing greased")  # stemmed: "bearing" finds "bearings"
    assert [(h.filename, h.page_no) for h in hits] == [(f"{alice.name}.pdf", 2)]
    assert "«bearings»" in hits[0].snippet and "«greased»" in hits[0].snippet
    assert [h.page_no for h in storage.search(alice, '"AB-1234"')] == [2]
    assert storage.search(alice, "bearing -greased") == []
    assert storage.search(alice, "the") == []  # only a stop word
    assert storage.search(alice, "   ") == []
    assert all(h.filename == f"{alice.name}.pdf" for h in storage.search(alice, "torque"))


# --- comparisons and changes -------------------------------------------------------------------------
CHANGES = [
    Change("text", "replace", 1, 1, (72.0, 100.0, 200.0, 112.0), (72.0, 100.0, 210.0, 112.0),
           "25 Nm", "30 Nm"),
    Change("text", "insert", 1, 1, (84.2, 61.2, 84.2, 75.0), (87.0, 113.2, 109.2, 127.0), None, "fresh"),
    Change("geometry", "insert", None, 2, None, (300.0, 400.0, 350.0, 450.0)),
    Change("page", "delete", 3, None, (0.0, 0.0, 595.0, 842.0), None),
]


def test_comparison_lifecycle_and_changes_round_trip(storage, make_user, monkeypatch):
    monkeypatch.setattr(repository, "CHANGE_BATCH", 3)  # 4 changes: two INSERT batches
    user = make_user()
    a = storage.add_document(user, "rev_a.pdf", pdf_bytes("rev-a"))
    b = storage.add_document(user, "rev_b.pdf", pdf_bytes("rev-b"))
    options = {"ocr": "auto", "dpi": 150}
    created = storage.create_comparison(user, a.id, b.id, options, "0.1.0")
    assert (created.status, created.old_filename, created.new_filename) == \
        ("queued", "rev_a.pdf", "rev_b.pdf")
    assert created.options_hash == options_hash({"dpi": 150, "ocr": "auto"})
    storage.start_comparison(user, created.id, "host:8501")
    assert storage.get_comparison(user, created.id).status == "running"
    assert storage.find_comparison(user, a.sha256, b.sha256, created.options_hash, "0.1.0") is None

    storage.finish_comparison(user, created.id, report_for(CHANGES), CHANGES, {"total": 1.5})
    done = storage.get_comparison(user, created.id)
    assert (done.status, done.instance, done.timings) == ("done", "host:8501", {"total": 1.5})
    assert done.summary == {"text": 2, "geometry": 1, "raster": 0, "page": 1}
    assert json.loads(storage.get_report_json(user, created.id))["schema"] == "pdfcompare.report/1"
    found = storage.find_comparison(user, a.sha256, b.sha256, created.options_hash, "0.1.0")
    assert found is not None and found.id == created.id

    stored = storage.get_changes(user, created.id)
    assert [c.to_change() for c in stored] == CHANGES  # boxes, pages, texts and order survive
    assert [c.idx for c in storage.get_changes(user, created.id, kinds=["geometry", "page"])] == [2, 3]
    storage.finish_comparison(user, created.id, report_for(CHANGES[:1]), CHANGES[:1])  # a re-run replaces
    assert len(storage.get_changes(user, created.id)) == 1
    assert [c.id for c in storage.list_comparisons(user)] == [created.id]


def test_failed_comparison(storage, make_user):
    user = make_user()
    a = storage.add_document(user, "a.pdf", pdf_bytes("fa"))
    b = storage.add_document(user, "b.pdf", pdf_bytes("fb"))
    comparison = storage.create_comparison(user, a.id, b.id, {}, "0.1.0")
    storage.fail_comparison(user, comparison.id, "The comparison took longer than 600 s.")
    failed = storage.get_comparison(user, comparison.id)
    assert (failed.status, failed.error) == ("failed", "The comparison took longer than 600 s.")
    with pytest.raises(NotFoundError):
        storage.get_report_json(user, comparison.id)


def test_artifacts(storage, make_user):
    user = make_user()
    comparison = make_comparison(storage, user, CHANGES)
    storage.save_artifact(user, comparison.id, "annotated_pdf", b"%PDF one")
    storage.save_artifact(user, comparison.id, "annotated_pdf", b"%PDF two")
    assert storage.get_artifact(user, comparison.id, "annotated_pdf") == b"%PDF two"
    with pytest.raises(NotFoundError):
        storage.get_artifact(user, comparison.id, "other")


# --- region query ---------------------------------------------------------------------------------
def test_changes_in_region_across_revisions(storage, make_user):
    user, other = make_user(), make_user()
    title_block = (400.0, 700.0, 590.0, 830.0)
    rev1 = make_comparison(storage, user, [
        Change("text", "replace", 1, 1, (420, 720, 480, 732), (420, 720, 480, 732), "Rev A", "Rev B"),
        Change("geometry", "insert", None, 1, None, (50, 50, 80, 80)),
    ], old=b"r1a", new=b"r1b", filenames=("sheet-1.pdf", "sheet-1.pdf"))
    rev2 = make_comparison(storage, user, [
        Change("text", "replace", 1, 1, (420, 720, 480, 732), (420, 720, 480, 732), "Rev B", "Rev C"),
        Change("text", "delete", 1, 1, (500, 760, 560, 772), (500, 760, 500, 772), "old note", None),
        Change("text", "insert", 2, 2, None, (420, 720, 480, 732), None, "other page"),
    ], old=b"r2a", new=b"r2b", filenames=("sheet-1.pdf", "sheet-2.pdf"))
    make_comparison(storage, other, [  # the same region in another user's comparison: never returned
        Change("text", "replace", 1, 1, (420, 720, 480, 732), (420, 720, 480, 732), "X", "Y"),
    ], old=b"o1", new=b"o2")

    hits = storage.changes_in_region(user, 1, title_block)
    assert [(h.comparison_id, h.idx, h.new_text) for h in hits] == [
        (rev2.id, 0, "Rev C"), (rev2.id, 1, None), (rev1.id, 0, "Rev B")]  # newest comparison first
    assert hits[1].side == "new" and hits[1].box == (500.0, 760.0, 500.0, 772.0)  # a zero-width box counts
    assert [h.idx for h in storage.changes_in_region(user, 1, title_block, side="old")] == [0, 1, 0]
    sheet_2 = storage.changes_in_region(user, 1, title_block, filename="sheet-2.pdf")
    assert [h.comparison_id for h in sheet_2] == [rev2.id, rev2.id]
    assert storage.changes_in_region(user, 1, (0, 0, 10, 10)) == []
    assert [h.new_text for h in storage.changes_in_region(user, 2, title_block)] == ["other page"]
    # a box given in any corner order is normalised
    assert len(storage.changes_in_region(user, 1, (590, 830, 400, 700))) == 3


def test_region_query_uses_the_gist_index(storage, postgres_cluster, make_user):
    """Under RLS only leakproof conditions (owner, page) may drive an index scan; PostGIS's && is not
    leakproof, so it is checked on the rows the GiST index (owner, page, box) finds. Without RLS (the
    superuser) the same index takes the box too."""
    user = make_user()
    make_comparison(storage, user, CHANGES, old=b"gx1", new=b"gx2")
    params = {"owner": user.id, "page": 1, "x0": 400, "y0": 700, "x1": 590, "y1": 830, "new": True,
              "old": True, "filename": None, "limit": 500}
    with storage.db.write(user) as cur:  # the primary, as the app role, RLS in force
        cur.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in cur.execute("EXPLAIN " + REGION_SQL, params).fetchall())
    for side in ("new", "old"):
        assert re.search(rf"Index Scan (using|on) changes_{side}_region", plan), plan
        assert f"Index Cond: ((owner = '{user.id}'::text) AND ({side}_page = 1))" in plan, plan
    with postgres_cluster.superuser() as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + REGION_SQL, params).fetchall())
    assert f"Index Cond: ((owner = '{user.id}'::text) AND (new_page = 1) AND (new_box && " in plan, plan


# --- chunks ---------------------------------------------------------------------------------------
def test_chunks_text_retrieval_and_vector_absent(storage, make_user):
    user = make_user()
    doc = storage.add_document(user, "contract.pdf", pdf_bytes("chunks"))
    storage.save_chunks(user, doc.id, [
        Chunk(doc.id, 0, 1, "The buyer pays within thirty days of the invoice date."),
        Chunk(doc.id, 1, 2, "Either party may terminate with ninety days notice."),
        Chunk(doc.id, 2, 3, "Payment terms: late payments carry interest of 5 percent."),
    ])
    question = "What are the payment terms and when does the buyer pay?"
    hits = storage.retrieve_chunks_text(user, [doc.id], question)
    assert [h.chunk_no for h in hits][:2] == [2, 0] and hits[0].score > 0
    assert storage.retrieve_chunks_text(make_user(), [doc.id], "payment") == []  # another user
    if not storage.vector_available():  # Debian 12 has no pgvector: everything degrades to nothing
        assert storage.chunks_without_embedding(user, [doc.id], "nomic-embed-text") == []
        assert storage.set_embeddings(user, doc.id, {0: [0.1, 0.2]}, "nomic-embed-text") == 0
        assert storage.retrieve_chunks_vector(user, [doc.id], [0.1, 0.2], "nomic-embed-text") == []
    else:
        missing = storage.chunks_without_embedding(user, [doc.id], "m")
        assert [c.chunk_no for c in missing] == [0, 1, 2]
        storage.set_embeddings(user, doc.id, {0: [1, 0], 1: [0, 1], 2: [0.9, 0.1]}, "m")
        nearest = storage.retrieve_chunks_vector(user, [doc.id], [1, 0], "m", k=2)
        assert [c.chunk_no for c in nearest] == [0, 2]


# --- both connection paths -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["pgbouncer", "direct-prepared"])
def test_works_through_pgbouncer_and_directly_with_prepared_statements(path, make_settings, postgres_cluster,
                                                                       make_user):
    if path == "pgbouncer":
        settings = make_settings()
    else:
        settings = make_settings(database_url=postgres_cluster.primary_dsn,
                                 database_read_urls=(postgres_cluster.replica_dsn,),
                                 database_prepared_statements=True)
    user = make_user()
    with Database(settings) as db:
        storage = Storage(db)
        for round_no in range(7):  # past psycopg's prepare threshold (5)
            comparison = make_comparison(storage, user, CHANGES, old=f"p{round_no}a".encode(),
                                         new=f"p{round_no}b".encode())
            assert len(storage.get_changes(user, comparison.id)) == len(CHANGES)
            assert storage.get_document(user, comparison.new_document_id).filename == "b.pdf"
        with db.read(user) as cur:
            prepared = cur.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    if path == "direct-prepared":
        assert prepared > 0
    else:
        assert prepared == 0


def test_statements_fail_cleanly_and_the_pool_recovers(storage, make_user):
    user = make_user()
    with pytest.raises(psycopg.errors.UndefinedTable), storage.db.write(user) as cur:
        cur.execute("SELECT * FROM no_such_table")
    assert storage.list_documents(user) == []
