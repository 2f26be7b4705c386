"""Scenario `database`, replication: db1 is a writable primary with PostGIS, db2 and db3 stream
from it over TLS through their own slots, commits wait for one replica, and nothing is open wider
than the inventory says."""

import time
import uuid

import pytest
from conftest import name, node, psql

testinfra_hosts = [name("db1")]
# Units whose journal is printed when a test fails (molecule/conftest.py).
journal_units = ["postgresql@*-main.service", "prometheus-postgres-exporter"]

REPLICAS = ["db2", "db3"]


def test_primary_is_not_in_recovery(host):
    assert psql(host, "SELECT pg_is_in_recovery()") == "f"


def test_two_replicas_stream_over_tls_through_their_slots(host):
    rows = psql(host, "SELECT r.application_name, r.state, s.ssl FROM pg_stat_replication r "
                      "JOIN pg_stat_ssl s USING (pid) ORDER BY 1").splitlines()
    assert rows == [f"{name(r)}|streaming|t" for r in REPLICAS]
    slots = psql(host, "SELECT slot_name, active FROM pg_replication_slots ORDER BY 1").splitlines()
    assert slots == [f"replica_{name(r).replace('-', '_')}|t" for r in REPLICAS]


def test_commits_wait_for_one_replica(host):
    expected = "ANY 1 (" + ", ".join(f'"{name(h)}"' for h in ("db2", "db3")) + ")"
    assert psql(host, "SHOW synchronous_standby_names") == expected
    assert set(psql(host, "SELECT DISTINCT sync_state FROM pg_stat_replication").splitlines()) == {"quorum"}


@pytest.mark.parametrize("replica", REPLICAS)
def test_a_row_reaches_every_replica_within_5_s(host, replica):
    marker = uuid.uuid4().hex
    psql(host, "CREATE TABLE IF NOT EXISTS replication_probe (marker text, at timestamptz DEFAULT now())")
    psql(host, f"INSERT INTO replication_probe (marker) VALUES ('{marker}')")
    target = host_of(replica)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if psql(target, f"SELECT count(*) FROM replication_probe WHERE marker = '{marker}'") == "1":
            return
        time.sleep(0.2)
    pytest.fail(f"row {marker} not on {replica} after 5 s")


def host_of(short):
    return node(short)


@pytest.mark.parametrize("replica", REPLICAS)
def test_replicas_are_read_only_hot_standbys(replica):
    target = host_of(replica)
    assert psql(target, "SELECT pg_is_in_recovery()") == "t"
    res = target.run("runuser -u postgres -- psql -XAtq -d pdfcompare -c %s",
                     "CREATE TABLE must_fail (i int)")
    assert res.rc != 0 and "read-only transaction" in res.stderr


@pytest.mark.parametrize("replica", REPLICAS)
def test_standby_config_has_no_password(replica):
    target = host_of(replica)
    conf = target.check_output("cat /etc/postgresql/*/main/conf.d/60-standby.conf")
    conninfo = next(line for line in conf.splitlines() if line.startswith("primary_conninfo"))
    assert "passfile=/var/lib/postgresql/.pgpass" in conninfo and "password=" not in conninfo
    pgpass = target.file("/var/lib/postgresql/.pgpass")
    assert (pgpass.user, pgpass.mode) == ("postgres", 0o600)


def test_postgis_works_on_primary_and_replica(host):
    sql = "SELECT ST_Area(ST_Buffer(ST_GeomFromText('POINT(0 0)', 3857), 10, 'quad_segs=64'))::int"
    assert psql(host, sql) == "314"
    assert psql(host_of("db2"), sql) == "314"
    extensions = set(psql(host, "SELECT extname FROM pg_extension").splitlines())
    assert {"postgis", "pg_stat_statements"} <= extensions
    version = host.check_output("pg_lsclusters -h | cut -d' ' -f1")
    vector_packaged = host.run(f"apt-cache show postgresql-{version}-pgvector").rc == 0
    assert ("vector" in extensions) == vector_packaged


def test_listens_on_localhost_and_private_address_only(host):
    listening = host.check_output("ss -Hltn 'sport = :5432' | awk '{print $4}'").split()
    assert sorted(listening) == sorted(["127.0.0.1:5432", "172.31.20.31:5432"])


def test_authentication_is_scram_over_tls_from_inventory_hosts_only(host):
    hba = psql(host, "SELECT type, database[1], user_name[1], address, auth_method FROM pg_hba_file_rules "
                     "WHERE type <> 'local' AND address NOT IN ('127.0.0.1', '::1')").splitlines()
    assert hba, "no TCP rules at all"
    for rule in hba:
        kind, _db, _user, address, method = rule.split("|")
        assert kind == "hostssl" and method == "scram-sha-256", rule
        assert address.startswith("172.31.20."), rule
    app_sources = {r.split("|")[3] for r in hba if r.split("|")[1] == "pdfcompare"}
    assert app_sources == {"172.31.20.21"}
    assert psql(host, "SHOW password_encryption") == "scram-sha-256"
    assert psql(host, "SHOW ssl") == "on"


def test_exporter_serves_metrics_with_its_own_role(host):
    body = host.check_output(
        "python3 -c \"import urllib.request;print(urllib.request.urlopen("
        "'http://172.31.20.31:9187/metrics', timeout=5).read().decode())\"")
    assert "pg_up 1" in body
    roles = psql(host, "SELECT r.rolsuper, array_agg(g.rolname) FROM pg_roles r JOIN pg_auth_members m "
                       "ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid "
                       "WHERE r.rolname = 'postgres_exporter' GROUP BY 1")
    assert roles == "f|{pg_monitor}"
