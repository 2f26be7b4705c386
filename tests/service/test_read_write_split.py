"""Reads on the replica, writes on the primary, read-your-writes under real replication lag, and the
fallback to the primary when a read DSN is unreachable or dies during a read."""

from __future__ import annotations

import logging
import threading
import time

import psycopg
import pytest
from pdfcompare.storage import Database, MemoryLsnStore, Storage, StorageUnavailableError
from pdfcompare.storage.database import probe

from tests.service.servers import free_port


@pytest.fixture()
def db(service_settings):
    database = Database(service_settings)
    yield database
    database.close()


def on_replica(cur: psycopg.Cursor) -> bool:
    return cur.execute("SELECT pg_is_in_recovery()").fetchone()[0]


def replica_has_document(cluster, document_id: int) -> bool:
    with cluster.superuser(replica=True) as replica:  # the superuser bypasses RLS
        row = replica.execute("SELECT count(*) FROM documents WHERE id = %s", (document_id,)).fetchone()
    return row[0] == 1


def test_reads_go_to_the_replica_and_writes_to_the_primary(db, make_user):
    user = make_user()
    with db.read(user) as cur:
        assert on_replica(cur)
        identity = cur.execute("SELECT current_setting('pdfcompare.user'), "
                               "current_setting('transaction_read_only')").fetchone()
        assert identity == (user.id, "on")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            cur.execute("DELETE FROM documents")
    with db.write(user) as cur:
        assert not on_replica(cur)
    assert db.counters() == {"reads": {"replica": 1, "primary": 0},
                             "read_fallbacks": {"lag": 0, "unavailable": 0}}


def test_read_your_writes_under_replication_lag(db, postgres_cluster, make_user):
    storage = Storage(db)
    writer, bystander = make_user("writer"), make_user("bystander")
    with postgres_cluster.replay_paused():
        doc = storage.add_document(writer, "fresh.pdf", b"%PDF fresh " + writer.id.encode())
        assert not replica_has_document(postgres_cluster, doc.id)  # the lag is real
        assert storage.get_document(writer, doc.id).filename == "fresh.pdf"  # ... yet the writer sees it
        assert [d.id for d in storage.list_documents(writer)] == [doc.id]
        with db.read(writer) as cur:
            assert not on_replica(cur)  # because it was read on the primary
        with db.read(bystander) as cur:
            assert on_replica(cur)  # users without recent writes keep reading from the replica
    assert db.read_fallbacks == {"lag": 3, "unavailable": 0}
    assert db.reads == {"replica": 1, "primary": 3}
    postgres_cluster.wait_replica_caught_up()
    with db.read(writer) as cur:  # once replayed, the writer is back on the replica
        assert on_replica(cur)


def test_a_short_lag_is_waited_out_on_the_replica(make_settings, postgres_cluster, make_user):
    user = make_user()
    with Database(make_settings(replica_max_lag_wait_s=5.0)) as db:
        storage = Storage(db)
        postgres_cluster.pause_replay()
        try:
            doc = storage.add_document(user, "soon.pdf", b"%PDF soon " + user.id.encode())
            threading.Timer(0.3, postgres_cluster.resume_replay, kwargs={"wait": False}).start()
            started = time.monotonic()
            with db.read(user) as cur:
                waited = time.monotonic() - started
                assert on_replica(cur)
                assert cur.execute("SELECT filename FROM documents WHERE id = %s", (doc.id,)).fetchone() == (
                    "soon.pdf",)
        finally:
            postgres_cluster.resume_replay()
        assert 0.2 < waited < 5.0
        assert db.read_fallbacks == {"lag": 0, "unavailable": 0}


class SharedLsnStore(MemoryLsnStore):
    """Stands in for Redis: one store that two instances share."""


def test_another_instance_sees_the_write_through_the_shared_lsn_store(service_settings, postgres_cluster,
                                                                      make_user):
    user = make_user()
    shared = SharedLsnStore()
    with Database(service_settings, shared) as first, Database(service_settings, shared) as second, \
            Database(service_settings) as isolated, postgres_cluster.replay_paused():
        doc = Storage(first).add_document(user, "shared.pdf", b"%PDF shared " + user.id.encode())
        assert Storage(second).get_document(user, doc.id).id == doc.id  # knew to go to the primary
        assert second.read_fallbacks["lag"] == 1
        with isolated.read(user) as cur:  # an instance that does not share the store reads stale data
            assert on_replica(cur)
            assert cur.execute("SELECT count(*) FROM documents WHERE id = %s", (doc.id,)).fetchone()[0] == 0


def test_unreachable_read_dsn_falls_back_to_the_primary(make_settings, make_user, caplog):
    dead = f"host=127.0.0.1 port={free_port()} dbname=pdfcompare user=pdfcompare"
    reasons: list[str] = []
    user = make_user()
    with Database(make_settings(database_read_urls=(dead,)), on_read_fallback=reasons.append) as db:
        storage = Storage(db)
        doc = storage.add_document(user, "x.pdf", b"%PDF x " + user.id.encode())
        caplog.set_level(logging.WARNING, logger="pdfcompare.storage")
        started = time.monotonic()
        for _ in range(5):
            assert storage.get_document(user, doc.id).id == doc.id  # no exception, ever
        elapsed = time.monotonic() - started
    assert elapsed < 3.0  # the dead DSN costs one short wait, then it is skipped for a while
    assert db.read_fallbacks == {"lag": 0, "unavailable": 5}
    assert reasons == ["unavailable"] * 5
    assert db.reads == {"replica": 0, "primary": 5}
    warnings = [r for r in caplog.records if "read on the primary" in r.getMessage()]
    assert len(warnings) == 1  # logged at most once a minute per reason


def test_a_replica_failing_during_a_read_is_retried_on_the_primary(db, postgres_cluster, make_user):
    user = make_user()
    calls: list[bool] = []

    def query(cur: psycopg.Cursor) -> str:
        replica = on_replica(cur)
        calls.append(replica)
        if replica:  # the replica's server process dies in the middle of this read
            pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
            with postgres_cluster.superuser(replica=True) as su:
                su.execute("SELECT pg_terminate_backend(%s)", (pid,))
            cur.execute("SELECT 1")
        return "answer"

    assert db.run_read(user, query) == "answer"
    assert calls == [True, False]
    assert db.read_fallbacks["unavailable"] == 1


def test_writes_without_a_database_raise_storage_unavailable(make_settings, make_user):
    dead = f"host=127.0.0.1 port={free_port()} dbname=pdfcompare user=pdfcompare"
    settings = make_settings(database_url=dead, database_read_urls=(), database_connect_timeout_s=0.5)
    with Database(settings) as db:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="not reachable right now"), db.write(make_user()):
            pass
        with pytest.raises(StorageUnavailableError):
            Storage(db).list_documents(make_user())
        assert time.monotonic() - started < 5


def test_probe(service_settings, pgbouncer):
    assert probe(service_settings, pgbouncer.write_dsn, 3) is None
    assert probe(service_settings, pgbouncer.read_dsn, 3) is None
    problem = probe(service_settings, f"host=127.0.0.1 port={free_port()} dbname=x user=y", 2)
    assert problem is not None and problem.startswith("cannot connect or query: ") and "\n" not in problem


def test_pool_stats(db, make_user):
    with db.read(make_user()):
        pass
    stats = db.pool_stats()
    assert set(stats) == {"write", "read-1"}
    assert stats["read-1"]["pool_max"] == db.settings.database_pool_size
