"""Scenario `database`, adding a replica: with ~100 MB in the database, db4 joins
postgresql_replicas in the inventory and database.yml (what site.yml runs) makes it a streaming
replica; the healthy replicas are neither rebuilt nor restarted. The clone and catch-up times are
recorded for docs/database.md."""

import re
import time

from conftest import name, node, psql

testinfra_hosts = [name("db1")]
journal_units = ["postgresql@*-main.service"]

BULK_MB = 100


def start_times() -> dict[str, str]:
    return {h: psql(node(h), "SELECT pg_postmaster_start_time()") for h in ("db1", "db2", "db3")}


def test_db4_joins_by_inventory(host, inventory, run_playbook, measurements):
    psql(host, "DROP TABLE IF EXISTS bulk; CREATE TABLE bulk AS SELECT g AS id, "
               "repeat(md5(g::text), 3) AS payload FROM generate_series(1, 900000) g")
    size_mb = int(psql(host, "SELECT pg_database_size('pdfcompare') / 1048576"))
    assert size_mb >= BULK_MB, f"database is only {size_mb} MB"
    before = start_times()

    inventory.replicas.append("db4")
    inventory.write()
    started = time.monotonic()
    result = run_playbook("database.yml")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.tail

    rows = psql(host, "SELECT application_name, state FROM pg_stat_replication ORDER BY 1").splitlines()
    assert rows == [f"{name(h)}|streaming" for h in ("db2", "db3", "db4")]
    assert "replica_database_db4" in psql(host, "SELECT slot_name FROM pg_replication_slots")
    assert start_times() == before, "a healthy member was restarted or rebuilt"
    # The new replica has everything: same row count as the primary, in recovery.
    db4 = node("db4")
    assert psql(db4, "SELECT pg_is_in_recovery()") == "t"
    assert psql(db4, "SELECT count(*) FROM bulk") == "900000"

    clone = re.search(r"Copy the primary with pg_basebackup.*?-+\s+([0-9.]+)s", result.stdout)
    measurements["database size (MB)"] = size_mb
    measurements["add replica: database.yml run (s), incl. packages"] = round(elapsed, 1)
    if clone:
        measurements["add replica: pg_basebackup of the database (s)"] = float(clone.group(1))


def test_new_replica_catches_up_with_a_100_mb_write(host, measurements):
    """Catch-up: write ~100 MB more on the primary and time until every replica has replayed it."""
    started = time.monotonic()
    psql(host, "INSERT INTO bulk SELECT g, repeat(md5(g::text), 3) FROM generate_series(900001, 1800000) g")
    lsn = psql(host, "SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lagging = psql(host, "SELECT count(*) FROM pg_stat_replication "
                             f"WHERE replay_lsn IS NULL OR replay_lsn < '{lsn}'")
        if lagging == "0":
            break
        time.sleep(0.2)
    else:
        raise AssertionError("replicas did not replay a 100 MB write within 120 s")
    measurements["catch-up: 100 MB insert committed and replayed on 3 replicas (s)"] = round(
        time.monotonic() - started, 1)
    # Keep the backup tests that follow small.
    psql(host, "DROP TABLE bulk")
