"""Scenario `database`, adding a member: with ~100 MB in the database, db4 joins group postgresql
in the inventory and database.yml (what site.yml runs) makes it a streaming replica (Patroni clones
it and gives it a slot); the running members are neither rebuilt nor restarted. The clone and
catch-up times are recorded for docs/database.md."""

import time

import pytest
from conftest import leader, name, node, psql, wait_for_cluster

testinfra_hosts = [name("db1")]
# Slow (a database.yml run with a clone, or with two members leaving): `make test-extended`.
pytestmark = pytest.mark.extended
journal_units = ["patroni.service"]

BULK_MB = 100


def start_times() -> dict[str, str]:
    return {h: psql(node(h), "SELECT pg_postmaster_start_time()") for h in ("db1", "db2", "db3")}


def test_db4_joins_by_inventory(inventory, run_playbook, measurements):
    primary = node(leader())
    psql(primary, "DROP TABLE IF EXISTS bulk; CREATE TABLE bulk AS SELECT g AS id, "
                  "repeat(md5(g::text), 3) AS payload FROM generate_series(1, 900000) g")
    size_mb = int(psql(primary, "SELECT pg_database_size('pdfcompare') / 1048576"))
    assert size_mb >= BULK_MB, f"database is only {size_mb} MB"
    before = start_times()

    inventory.members.append("db4")
    inventory.write()
    started = time.monotonic()
    result = run_playbook("database.yml")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.tail

    wait_for_cluster(inventory.members, timeout=60)
    streaming = psql(primary, "SELECT application_name, state FROM pg_stat_replication "
                              "ORDER BY 1").splitlines()
    assert f"{name('db4')}|streaming" in streaming
    assert "database_db4" in psql(primary, "SELECT slot_name FROM pg_replication_slots")
    assert start_times() == before, "a running member was restarted or rebuilt"
    db4 = node("db4")
    assert psql(db4, "SELECT pg_is_in_recovery()") == "t"
    assert psql(db4, "SELECT count(*) FROM bulk") == "900000"
    measurements["database size (MB)"] = size_mb
    measurements["add member: database.yml run incl. packages and clone (s)"] = round(elapsed, 1)


def test_new_replica_catches_up_with_a_100_mb_write(measurements):
    """Catch-up: write ~100 MB more on the leader and time until every replica has replayed it."""
    primary = node(leader())
    started = time.monotonic()
    psql(primary, "INSERT INTO bulk SELECT g, repeat(md5(g::text), 3) "
                  "FROM generate_series(900001, 1800000) g")
    lsn = psql(primary, "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lagging = psql(primary, "SELECT count(*) FROM pg_stat_replication "
                                f"WHERE replay_lsn IS NULL OR replay_lsn < '{lsn}'")
        if lagging == "0":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("replicas did not replay a 100 MB write within 120 s")
    measurements["catch-up: 100 MB insert committed and replayed on 3 replicas (s)"] = round(
        time.monotonic() - started, 1)
    psql(primary, "DROP TABLE bulk")
