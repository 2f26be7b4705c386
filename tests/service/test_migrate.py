"""Migrations on empty databases of their own (fresh_database), through PgBouncer in transaction mode."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest
from pdfcompare.storage import Migration, MigrationError, load_migrations, migrate, schema_status
from pdfcompare.storage.migrate import MIGRATION_LOCK

SHIPPED = [m.label for m in load_migrations()]


def test_shipped_migrations_are_numbered_from_one_without_gaps():
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert SHIPPED[0] == "0001_initial"


def test_migrate_applies_everything_once_and_is_idempotent(fresh_database):
    fresh = fresh_database()
    before = schema_status(fresh.settings)
    assert (before.current, before.pending) == (0, tuple(SHIPPED))
    assert migrate(fresh.settings) == SHIPPED
    assert migrate(fresh.settings) == []
    assert migrate(fresh.direct_settings) == []  # directly, with prepared statements: same answer
    after = schema_status(fresh.settings)
    assert (after.current, after.latest, after.pending) == (len(SHIPPED), len(SHIPPED), ())


def test_a_changed_migration_is_refused(fresh_database):
    fresh = fresh_database()
    first = Migration(1, "first", "CREATE TABLE first_table (id int);")
    assert migrate(fresh.settings, [first]) == ["0001_first"]
    edited = Migration(1, "first", "CREATE TABLE first_table (id bigint);")
    with pytest.raises(MigrationError, match="0001_first was changed after it was applied"):
        migrate(fresh.settings, [edited, Migration(2, "second", "CREATE TABLE second_table (id int);")])
    assert schema_status(fresh.settings, [first]).current == 1  # nothing after the refusal ran


def test_a_failing_migration_leaves_nothing_behind(fresh_database, postgres_cluster):
    fresh = fresh_database()
    good = Migration(1, "good", "CREATE TABLE good_table (id int);")
    bad = Migration(2, "bad", "CREATE TABLE half_table (id int); SELECT 1 / 0;")
    with pytest.raises(MigrationError, match="migration 0002_bad failed .*division by zero"):
        migrate(fresh.settings, [good, bad])
    with postgres_cluster.superuser(database=fresh.name) as su:
        assert su.execute("SELECT to_regclass('good_table') IS NOT NULL, to_regclass('half_table') IS NULL"
                          ).fetchone() == (True, True)
        assert su.execute("SELECT array_agg(version) FROM schema_migrations").fetchone()[0] == [1]


def test_concurrent_migrations_are_serialised_by_the_advisory_lock(fresh_database, postgres_cluster):
    fresh = fresh_database()
    slow = [Migration(1, "slow", "SELECT pg_sleep(1.5); CREATE TABLE once_only (id int);"),
            Migration(2, "after", "CREATE TABLE after_slow (id int);")]
    results: dict[str, list[str] | BaseException] = {}

    def run(name: str) -> None:
        try:
            results[name] = migrate(fresh.settings, slow)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[name] = exc

    first = threading.Thread(target=run, args=("first",))
    first.start()
    with postgres_cluster.superuser(database=fresh.name) as su:
        lock_held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        deadline = time.monotonic() + 10
        while su.execute(lock_held).fetchone()[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        second = threading.Thread(target=run, args=("second",))
        second.start()
        waiting = 0
        deadline = time.monotonic() + 10
        while waiting == 0 and time.monotonic() < deadline:
            waiting = su.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                                 "AND (classid::bigint << 32 | objid::bigint) = %s",
                                 (MIGRATION_LOCK,)).fetchone()[0]
            time.sleep(0.02)
    first.join(30)
    second.join(30)
    assert waiting == 1, "the second migrate never waited for the first one's lock"
    assert all(isinstance(r, list) for r in results.values()), results
    # each migration applied exactly once, in order (a run may apply some, the other run the rest)
    applied = results["first"] + results["second"]
    assert sorted(applied) == ["0001_slow", "0002_after"], results
    with postgres_cluster.superuser(database=fresh.name) as su:
        order = su.execute("SELECT array_agg(version ORDER BY applied_at) FROM schema_migrations").fetchone()
    assert order == ([1, 2],)


def test_migrate_creates_btree_gist_itself_when_the_database_role_did_not(fresh_database, postgres_cluster):
    fresh = fresh_database()
    with postgres_cluster.superuser(database=fresh.name) as su:
        su.execute("DROP EXTENSION btree_gist")
    assert migrate(fresh.settings) == SHIPPED  # trusted extension: the database owner may create it


def test_schema_status_and_migrate_fail_clearly_without_a_database(make_settings):
    from tests.service.servers import free_port

    settings = make_settings(database_url=f"host=127.0.0.1 port={free_port()} dbname=x user=y",
                             database_connect_timeout_s=1)
    with pytest.raises(MigrationError, match="cannot connect to the database"):
        migrate(settings)
    with pytest.raises(MigrationError, match="cannot connect"):
        schema_status(settings)
    with pytest.raises(MigrationError, match="PDFCOMPARE_DATABASE_URL is not set"):
        migrate(make_settings(database_url=""))


def test_pdfcompare_migrate_command(fresh_database, tmp_path):
    fresh = fresh_database()
    config = tmp_path / "pdfcompare.env"
    config.write_text(f"PDFCOMPARE_DATABASE_URL={fresh.settings.database_url}\n"
                      f"PDFCOMPARE_DATABASE_PASSWORD={fresh.settings.database_password}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PDFCOMPARE_")}
    command = [sys.executable, "-m", "pdfcompare", "migrate", "--config", str(config)]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"applied {len(SHIPPED)} migration(s): {', '.join(SHIPPED)}"
    assert migrate(fresh.settings) == []


def test_migration_tables_exist_on_the_replica_too(service_settings, postgres_cluster):
    with postgres_cluster.superuser(replica=True) as replica:
        assert replica.execute("SELECT pg_is_in_recovery(), max(version) FROM schema_migrations").fetchone() \
            == (True, len(SHIPPED))
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), postgres_cluster.superuser(replica=True) as r:
        r.execute("CREATE TABLE nope (id int)")
