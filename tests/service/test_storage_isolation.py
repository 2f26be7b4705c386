"""One user never reaches another user's data: not through the Storage API (even by guessing ids),
and not with raw SQL as the app role, because Row-Level Security refuses it in the database."""

from __future__ import annotations

import time

import psycopg
import pytest
from pdfcompare.engine.model import Change
from pdfcompare.storage import Chunk, Database, NotFoundError, PageText, Storage

TABLES = ("documents", "pages", "chunks", "comparisons", "changes", "artifacts")
CHANGES = [Change("text", "replace", 1, 1, (10, 10, 50, 20), (10, 10, 55, 20), "secret A", "secret B")]


@pytest.fixture(scope="module")
def storage(service_settings):
    db = Database(service_settings)
    yield Storage(db)
    db.close()


@pytest.fixture()
def alice_data(storage, make_user):
    """Alice's document pair with pages, chunks, a finished comparison and an artifact."""
    alice = make_user("alice")
    old = storage.add_document(alice, "alice-old.pdf", b"%PDF alice old " + alice.id.encode())
    new = storage.add_document(alice, "alice-new.pdf", b"%PDF alice new " + alice.id.encode())
    storage.save_pages(alice, old.id, [PageText(1, 595, 842, "confidential merger terms", "[]")])
    storage.save_chunks(alice, old.id, [Chunk(old.id, 0, 1, "confidential merger terms")])
    comparison = storage.create_comparison(alice, old.id, new.id, {}, "0.1.0")
    storage.finish_comparison(alice, comparison.id, '{"schema": "pdfcompare.report/1"}', CHANGES)
    storage.save_artifact(alice, comparison.id, "annotated_pdf", b"%PDF annotated")
    return alice, old, new, comparison


def test_another_user_cannot_reach_anything_through_the_api(storage, make_user, alice_data):
    alice, old, new, comparison = alice_data
    mallory = make_user("mallory")
    own = storage.add_document(mallory, "mine.pdf", b"%PDF mallory " + mallory.id.encode())
    assert [d.id for d in storage.list_documents(mallory)] == [own.id]
    assert storage.list_comparisons(mallory) == []
    assert storage.search(mallory, "confidential merger") == []
    assert storage.retrieve_chunks_text(mallory, [old.id], "merger") == []
    assert storage.changes_in_region(mallory, 1, (0, 0, 600, 900)) == []
    assert storage.find_comparison(mallory, old.sha256, new.sha256, comparison.options_hash, "0.1.0") is None

    guesses = [
        lambda: storage.get_document(mallory, old.id),
        lambda: storage.get_document_content(mallory, old.id),
        lambda: storage.get_page_words(mallory, old.id, 1),
        lambda: storage.get_comparison(mallory, comparison.id),
        lambda: storage.get_report_json(mallory, comparison.id),
        lambda: storage.get_changes(mallory, comparison.id),
        lambda: storage.get_artifact(mallory, comparison.id, "annotated_pdf"),
        # writes aimed at Alice's ids
        lambda: storage.delete_document(mallory, old.id),
        lambda: storage.delete_comparison(mallory, comparison.id),
        lambda: storage.mark_document_ready(mallory, old.id, 1),
        lambda: storage.save_pages(mallory, old.id, [PageText(1, 1, 1, "x", "[]")]),
        lambda: storage.save_chunks(mallory, old.id, [Chunk(old.id, 0, 1, "x")]),
        lambda: storage.create_comparison(mallory, old.id, new.id, {}, "0.1.0"),
        lambda: storage.create_comparison(mallory, own.id, new.id, {}, "0.1.0"),  # one of each
        lambda: storage.start_comparison(mallory, comparison.id),
        lambda: storage.finish_comparison(mallory, comparison.id, "{}", []),
        lambda: storage.fail_comparison(mallory, comparison.id, "x"),
        lambda: storage.save_artifact(mallory, comparison.id, "annotated_pdf", b"evil"),
    ]
    for number, guess in enumerate(guesses):
        with pytest.raises(NotFoundError) as caught:
            guess()
        assert "in your workspace" in str(caught.value), number
    missing = storage.get_document  # a missing id gives the very same error as someone else's
    with pytest.raises(NotFoundError, match=f"There is no document {2**62} in your workspace"):
        missing(mallory, 2**62)

    # Alice's data is untouched
    assert storage.get_artifact(alice, comparison.id, "annotated_pdf") == b"%PDF annotated"
    assert storage.get_comparison(alice, comparison.id).status == "done"
    assert [c.new_text for c in storage.get_changes(alice, comparison.id)] == ["secret B"]
    assert storage.get_document(alice, old.id).status == "ingesting"


def test_admin_sees_and_deletes_everyone_s_but_searches_only_own(storage, make_user, alice_data):
    alice, old, _new, comparison = alice_data
    admin = make_user("admin", admin=True)
    assert old.id in {d.id for d in storage.list_documents(admin, limit=10_000)}
    assert comparison.id in {c.id for c in storage.list_comparisons(admin, limit=10_000)}
    assert storage.get_document_content(admin, old.id).startswith(b"%PDF alice old")
    assert storage.get_changes(admin, comparison.id)[0].old_text == "secret A"
    assert storage.search(admin, "confidential merger") == []  # search is personal
    storage.delete_comparison(admin, comparison.id)
    with pytest.raises(NotFoundError):  # the admin reads their own write at once
        storage.get_comparison(admin, comparison.id)
    # Alice did not write: her reads may come from a replica that has not replayed the delete yet
    # (read-your-writes is per user), but the deletion reaches her within a bounded time.
    deadline = time.monotonic() + 30
    while True:
        try:
            storage.get_comparison(alice, comparison.id)
        except NotFoundError:
            break
        assert time.monotonic() < deadline, "the admin's delete never reached Alice's reads"
        time.sleep(0.1)


def _connect(dsn: str, password: str) -> psycopg.Connection:
    return psycopg.connect(dsn, password=password, autocommit=True, prepare_threshold=None)


def _count_all(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


@pytest.mark.parametrize("path", ["direct", "pgbouncer"])
def test_raw_sql_as_the_app_role_is_confined_by_row_level_security(path, alice_data, postgres_cluster,
                                                                   pgbouncer, make_user):
    alice, old, _new, comparison = alice_data
    dsn = postgres_cluster.primary_dsn if path == "direct" else pgbouncer.write_dsn
    with postgres_cluster.superuser() as su:  # the superuser bypasses RLS: the rows do exist
        assert all(n > 0 for n in _count_all(su).values())

    with _connect(dsn, postgres_cluster.app_password) as conn:
        # no identity set: the app role (which owns the tables) sees and changes nothing
        assert _count_all(conn) == dict.fromkeys(TABLES, 0)
        assert conn.execute("UPDATE documents SET filename = 'x' WHERE id = %s", (old.id,)).rowcount == 0
        assert conn.execute("DELETE FROM comparisons WHERE id = %s", (comparison.id,)).rowcount == 0
        assert conn.execute("SELECT content FROM documents WHERE id = %s", (old.id,)).fetchall() == []
        # with another user's identity: still nothing of Alice's, and no row can be written as Alice
        with conn.transaction():
            conn.execute("SELECT set_config('pdfcompare.user', %s, true)", (make_user("eve").id,))
            assert _count_all(conn) == dict.fromkeys(TABLES, 0)
            assert conn.execute("DELETE FROM documents WHERE owner = %s", (alice.id,)).rowcount == 0
        refused = pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security")
        with refused, conn.transaction():
            conn.execute("SELECT set_config('pdfcompare.user', 'user:eve', true)")
            conn.execute("INSERT INTO documents (owner, sha256, filename, size_bytes, content) "
                         "VALUES (%s, repeat('a', 64), 'planted.pdf', 1, 'x')", (alice.id,))
        # a transaction-local identity is gone after COMMIT (PgBouncer may give the next
        # transaction another server connection, and a leftover identity would leak)
        with conn.transaction():
            conn.execute("SELECT set_config('pdfcompare.user', %s, true)", (alice.id,))
            assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
        # the admin switch shows everything
        with conn.transaction():
            conn.execute("SELECT set_config('pdfcompare.admin', 'on', true)")
            assert conn.execute("SELECT count(*) FROM documents WHERE id = %s", (old.id,)).fetchone()[0] == 1


def test_row_level_security_is_forced_on_every_user_table(postgres_cluster, service_settings):
    with postgres_cluster.superuser() as su:
        rows = su.execute("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                          "WHERE relname = ANY(%s) AND relkind = 'r'", (list(TABLES),)).fetchall()
        owners = su.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE tablename = ANY(%s)",
                            (list(TABLES),)).fetchall()
    assert sorted(rows) == sorted((t, True, True) for t in TABLES)
    assert owners == [("pdfcompare",)]  # the app role owns them: FORCE is what subjects it to RLS
