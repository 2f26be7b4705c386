"""Scenario `database`, the cluster Patroni built: one leader (Patroni chose it), two replicas that
stream over verified TLS through their slots, commits that wait for a replica, data checksums,
etcd healthy over mutual TLS, Patroni's REST API verified and its write endpoints locked, and
nothing open wider than the inventory says."""

import json
import time
import uuid

import pytest
from conftest import ADDRESSES, leader, name, node, psql, wait_for_cluster

MEMBERS = ["db1", "db2", "db3"]
testinfra_hosts = [name(h) for h in MEMBERS]
# Units whose journal is printed when a test fails (molecule/conftest.py).
journal_units = ["patroni.service", "etcd.service", "prometheus-postgres-exporter"]


@pytest.fixture(scope="module")
def roles() -> dict[str, str]:
    """{'leader': 'db2', 'replicas': [...]} as Patroni reports it once the cluster is healthy."""
    wait_for_cluster(MEMBERS)
    first = leader(MEMBERS)
    return {"leader": first, "replicas": [h for h in MEMBERS if h != first]}


def short(host) -> str:
    return host.backend.hostname.removeprefix("database-")


def test_exactly_one_member_is_writable(host, roles):
    expected = "f" if short(host) == roles["leader"] else "t"
    assert psql(host, "SELECT pg_is_in_recovery()") == expected


def test_replicas_stream_over_verified_tls_through_their_slots(roles):
    primary = node(roles["leader"])
    rows = psql(primary, "SELECT r.application_name, r.state, s.ssl FROM pg_stat_replication r "
                         "JOIN pg_stat_ssl s USING (pid) ORDER BY 1").splitlines()
    assert rows == [f"{name(r)}|streaming|t" for r in sorted(roles["replicas"])]
    slots = psql(primary, "SELECT slot_name, active FROM pg_replication_slots ORDER BY 1").splitlines()
    assert slots == [f"{name(r).replace('-', '_')}|t" for r in sorted(roles["replicas"])]
    for replica in roles["replicas"]:
        conninfo = psql(node(replica), "SHOW primary_conninfo")
        assert "sslmode=verify-full" in conninfo and "sslrootcert=" in conninfo, conninfo
        assert f"host={ADDRESSES[roles['leader']]}" in conninfo, conninfo


def test_commits_wait_for_one_replica(roles):
    primary = node(roles["leader"])
    standby_names = psql(primary, "SHOW synchronous_standby_names")
    assert standby_names.startswith(("ANY 1 (", "1 (", '"')) or "database-" in standby_names, standby_names
    states = set(psql(primary, "SELECT sync_state FROM pg_stat_replication").splitlines())
    assert states & {"sync", "quorum"}, states


def test_data_checksums_are_on(host, roles):
    assert psql(host, "SHOW data_checksums") == "on"


@pytest.mark.parametrize("index", [0, 1])
def test_a_row_reaches_every_replica_within_5_s(roles, index):
    primary = node(roles["leader"])
    marker = uuid.uuid4().hex
    psql(primary, "CREATE TABLE IF NOT EXISTS replication_probe (marker text, at timestamptz DEFAULT now())")
    psql(primary, f"INSERT INTO replication_probe (marker) VALUES ('{marker}')")
    target = node(roles["replicas"][index])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if psql(target, f"SELECT count(*) FROM replication_probe WHERE marker = '{marker}'") == "1":
            return
        time.sleep(0.2)
    pytest.fail(f"row {marker} not on {roles['replicas'][index]} after 5 s")


def test_replicas_are_read_only_hot_standbys(host, roles):
    if short(host) == roles["leader"]:
        pytest.skip("the leader")
    res = host.run("runuser -u postgres -- psql -XAtq -d pdfcompare -c %s", "CREATE TABLE must_fail (i int)")
    assert res.rc != 0 and "read-only transaction" in res.stderr


def test_postgis_works_on_every_member(host):
    sql = "SELECT ST_Area(ST_Buffer(ST_GeomFromText('POINT(0 0)', 3857), 10, 'quad_segs=64'))::int"
    assert psql(host, sql) == "314"
    extensions = set(psql(host, "SELECT extname FROM pg_extension").splitlines())
    assert {"postgis", "pg_stat_statements", "btree_gist"} <= extensions
    version = psql(host, "SHOW server_version_num")[:2]
    vector_packaged = host.run(f"apt-cache show postgresql-{version}-pgvector").rc == 0
    assert ("vector" in extensions) == vector_packaged


def test_listens_on_localhost_and_private_address_only(host):
    listening = host.check_output("ss -Hltn 'sport = :5432' | awk '{print $4}'").split()
    assert sorted(listening) == sorted(["127.0.0.1:5432", f"{ADDRESSES[short(host)]}:5432"])


def test_postgresql_service_leaves_the_cluster_to_patroni(host):
    assert host.service("patroni").is_enabled and host.service("patroni").is_running
    clusters = host.check_output("pg_lsclusters -h")
    assert " main " in clusters and "online" in clusters, clusters
    start_conf = host.check_output("cat /etc/postgresql/*/main/start.conf | grep -v '^#'").strip()
    assert start_conf == "manual"


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


def test_the_app_host_verifies_the_server_certificate(roles, secrets):
    """From app1, libpq with sslmode=verify-full and the site CA accepts the member's certificate
    for its address, and refuses it for a name the certificate does not carry."""
    app = node("app1")
    target = ADDRESSES[roles["leader"]]
    ca = "/etc/ssl/molecule-database/ca.crt"
    ok = app.run("PGPASSWORD=%s psql -XAtq %s -c 'SELECT 1'", secrets["postgresql_app_password"],
                 f"host={target} dbname=pdfcompare user=pdfcompare sslmode=verify-full sslrootcert={ca}")
    assert ok.rc == 0 and ok.stdout.strip() == "1", ok.stderr
    wrong = app.run("PGPASSWORD=%s psql -XAtq %s -c 'SELECT 1'", secrets["postgresql_app_password"],
                    f"host={target} hostaddr={target} dbname=pdfcompare user=pdfcompare sslmode=verify-full "
                    f"sslrootcert={ca} sslsni=0")
    assert wrong.rc == 0  # same address: still valid; a wrong name follows
    bad = app.run("PGPASSWORD=%s psql -XAtq %s -c 'SELECT 1'", secrets["postgresql_app_password"],
                  f"host=not-in-the-cert.example hostaddr={target} dbname=pdfcompare user=pdfcompare "
                  f"sslmode=verify-full sslrootcert={ca}")
    assert bad.rc != 0 and "does not match" in bad.stderr, bad.stderr


def test_etcd_is_healthy_over_mutual_tls(host):
    tls = "/etc/ssl/molecule-database"
    etcdctl = f"ETCDCTL_API=3 etcdctl --endpoints=https://{ADDRESSES[short(host)]}:2379 --cacert={tls}/ca.crt"
    res = host.run(f"{etcdctl} --cert={tls}/host.crt --key={tls}/private/host.key "
                   "endpoint health --cluster -w json")
    assert res.rc == 0, res.stderr
    health = json.loads(res.stdout)
    assert len(health) == 3 and all(e["health"] for e in health), health
    without_cert = host.run(f"{etcdctl} --command-timeout=3s endpoint health")
    assert without_cert.rc != 0, "etcd answered a client without a certificate"


def test_patroni_api_is_verified_tls_and_its_write_endpoints_need_the_password(host, secrets):
    url = f"https://{ADDRESSES[short(host)]}:8008"
    ca = "/etc/ssl/molecule-database/ca.crt"
    health = host.run(f"curl -sS --cacert {ca} -o /dev/null -w '%{{http_code}}' {url}/health")
    assert health.stdout == "200", health.stderr
    anonymous = host.run(f"curl -sS --cacert {ca} -o /dev/null -w '%{{http_code}}' -X POST "
                         f"-d '{{}}' {url}/restart")
    assert anonymous.stdout == "401", anonymous.stdout
    wrong = host.run(f"curl -sS --cacert {ca} -o /dev/null -w '%{{http_code}}' -u patroni:wrong -X PATCH "
                     f"-d '{{}}' {url}/config")
    assert wrong.stdout == "401", wrong.stdout
    config = json.loads(host.check_output(f"curl -sS --cacert {ca} {url}/config"))
    assert config["ttl"] == 20 and config["loop_wait"] + 2 * config["retry_timeout"] <= config["ttl"]
    assert config["synchronous_mode_strict"] is False
    assert secrets["patroni_restapi_password"] not in host.check_output("journalctl -u patroni --no-pager")


def test_exporter_serves_metrics_with_its_own_role(host, roles):
    body = host.check_output(
        "python3 -c \"import urllib.request;print(urllib.request.urlopen("
        f"'http://{ADDRESSES[short(host)]}:9187/metrics', timeout=5).read().decode())\"")
    assert "pg_up 1" in body
    roles_sql = ("SELECT r.rolsuper, array_agg(g.rolname) FROM pg_roles r JOIN pg_auth_members m "
                 "ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid "
                 "WHERE r.rolname = 'postgres_exporter' GROUP BY 1")
    assert psql(node(roles["leader"]), roles_sql) == "f|{pg_monitor}"
