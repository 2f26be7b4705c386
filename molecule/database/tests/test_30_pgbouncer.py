"""Scenario `database`, PgBouncer: on app1 the pooler listens on 127.0.0.1:6432 only, holds SCRAM
verifiers and no password, sends the write alias to the leader and the read alias to the
replicas (read-only) through the local HAProxy, and its console answers the admin and stats users.

``secrets`` (molecule/database/tests/conftest.py) is the dict of the lab's vault secrets.
"""

import re
import time
import uuid

import pytest

testinfra_hosts = ["database-app1"]
# Units whose journal is printed when a test fails (molecule/conftest.py).
journal_units = ["pgbouncer", "prometheus-pgbouncer-exporter"]

PORT = 6432
WRITE_ALIAS = "pdfcompare"
READ_ALIAS = "pdfcompare_ro"
APP_USER = "pdfcompare"
ADMIN_USER = "pgbouncer_admin"
STATS_USER = "pgbouncer_stats"
PGPASS = "/root/.pgpass-test-30"
PROBE_TABLE = "public.pgbouncer_probe"
VERIFIER = re.compile(r'^"[^"]+" "SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+"$')


def pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@pytest.fixture(scope="module")
def pgpass(host, secrets):
    """A pgpass file for the test's psql calls, so no password is on a command line; removed after."""
    users = {
        APP_USER: secrets["postgresql_app_password"],
        ADMIN_USER: secrets["pgbouncer_admin_password"],
        STATS_USER: secrets["pgbouncer_stats_password"],
    }
    content = "".join(f"127.0.0.1:{PORT}:*:{user}:{pgpass_field(pw)}\n" for user, pw in users.items())
    res = host.run("umask 077 && printf %s %s > %s", "%s", content, PGPASS)
    assert res.rc == 0, res.stderr
    yield PGPASS
    host.run("rm -f %s", PGPASS)


def psql(host, pgpass, database: str, user: str, sql: str, password: str | None = None):
    """Run one statement through PgBouncer over TCP; returns the CommandResult."""
    dsn = f"host=127.0.0.1 port={PORT} dbname={database} user={user} connect_timeout=5"
    prefix = "PGPASSWORD=%s " if password is not None else ""
    args = ([password] if password is not None else []) + [pgpass, dsn, sql]
    return host.run(prefix + "PGPASSFILE=%s psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", *args)


def query(host, pgpass, database: str, user: str, sql: str) -> str:
    res = psql(host, pgpass, database, user, sql)
    assert res.rc == 0, res.stderr
    return res.stdout.strip()


def test_pgbouncer_running_and_enabled(host):
    service = host.service("pgbouncer")
    assert service.is_running
    assert service.is_enabled
    assert host.check_output("systemctl show -p User --value pgbouncer") == "postgres"


def test_listens_on_loopback_only(host):
    assert host.socket(f"tcp://127.0.0.1:{PORT}").is_listening
    listeners = host.check_output(f"ss -Hltn 'sport = :{PORT}'").splitlines()
    local = sorted(line.split()[3] for line in listeners)
    assert local == [f"127.0.0.1:{PORT}"], local


def test_config_files_owned_and_private(host):
    for path in ("/etc/pgbouncer/pgbouncer.ini", "/etc/pgbouncer/userlist.txt"):
        f = host.file(path)
        assert (f.user, f.group, f.mode) == ("root", "postgres", 0o640), path


def test_userlist_holds_scram_verifiers_and_no_password(host, secrets):
    content = host.file("/etc/pgbouncer/userlist.txt").content_string
    entries = [line for line in content.splitlines() if line and not line.startswith(";")]
    bad = [n for n, line in enumerate(entries, 1) if not VERIFIER.match(line)]
    assert entries and not bad, f"userlist entries {bad} are not SCRAM verifiers"
    users = {line.split('"')[1] for line in entries}
    assert users == {APP_USER, ADMIN_USER, STATS_USER}
    for name, value in secrets.items():
        assert str(value) not in content, f"secret {name} is in userlist.txt"


def test_no_secret_in_the_ini(host, secrets):
    content = host.file("/etc/pgbouncer/pgbouncer.ini").content_string
    for name, value in secrets.items():
        assert str(value) not in content, f"secret {name} is in pgbouncer.ini"


def test_aliases_lead_to_the_local_haproxy(host):
    """The write alias goes to HAProxy's leader port, the read alias to its replica port: PgBouncer
    never names a member, so a failover needs no change here."""
    ini = host.file("/etc/pgbouncer/pgbouncer.ini").content_string
    write = next(x for x in ini.splitlines() if x.startswith(f"{WRITE_ALIAS} ="))
    read = next(x for x in ini.splitlines() if x.startswith(f"{READ_ALIAS} ="))
    assert re.search(r"host=127\.0\.0\.1 port=5000 ", write), write
    assert re.search(r"host=127\.0\.0\.1 port=5001 ", read), read
    assert "connect_query='SET default_transaction_read_only = on'" in read
    assert "server_tls_sslmode = verify-ca" in ini and "server_tls_ca_file = " in ini


def test_write_alias_reaches_the_primary(host, pgpass):
    assert query(host, pgpass, WRITE_ALIAS, APP_USER, "SELECT pg_is_in_recovery()") == "f"
    assert query(host, pgpass, WRITE_ALIAS, APP_USER, "SHOW ssl") == "on"


def test_read_alias_reaches_a_replica(host, pgpass):
    row = query(
        host,
        pgpass,
        READ_ALIAS,
        APP_USER,
        "SELECT pg_is_in_recovery(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    )
    assert row == "t|t"


def test_write_then_read_through_the_replicas_within_5s(host, pgpass):
    marker = uuid.uuid4().hex
    query(
        host,
        pgpass,
        WRITE_ALIAS,
        APP_USER,
        f"CREATE TABLE IF NOT EXISTS {PROBE_TABLE} (marker text PRIMARY KEY, at timestamptz DEFAULT now())",
    )
    try:
        query(host, pgpass, WRITE_ALIAS, APP_USER, f"INSERT INTO {PROBE_TABLE} (marker) VALUES ('{marker}')")
        deadline = time.monotonic() + 5
        seen = ""
        while time.monotonic() < deadline:
            res = psql(
                host,
                pgpass,
                READ_ALIAS,
                APP_USER,
                f"SELECT count(*) FROM {PROBE_TABLE} WHERE marker = '{marker}'",
            )
            seen = res.stdout.strip()
            if res.rc == 0 and seen == "1":
                break
            time.sleep(0.25)
        assert seen == "1", "the row written through the write alias did not reach the read alias in 5 s"
    finally:
        query(host, pgpass, WRITE_ALIAS, APP_USER, f"DROP TABLE IF EXISTS {PROBE_TABLE}")


def test_read_alias_refuses_writes(host, pgpass):
    res = psql(host, pgpass, READ_ALIAS, APP_USER, "CREATE TEMP TABLE pgbouncer_ro_probe (x int)")
    assert res.rc != 0
    assert "read-only transaction" in res.stderr
    assert query(host, pgpass, READ_ALIAS, APP_USER, "SHOW default_transaction_read_only") == "on"


def test_wrong_password_is_refused(host, pgpass):
    res = psql(host, pgpass, WRITE_ALIAS, APP_USER, "SELECT 1", password="not-the-password")
    # PGPASSWORD wins over the pgpass file.
    assert res.rc != 0
    assert "authentication failed" in res.stderr


def test_admin_console_show_pools(host, pgpass):
    pools = query(host, pgpass, "pgbouncer", ADMIN_USER, "SHOW POOLS")
    databases = {line.split("|")[0] for line in pools.splitlines()}
    assert {WRITE_ALIAS, READ_ALIAS} <= databases
    assert "transaction" in pools


def test_stats_user_reads_but_cannot_control(host, pgpass):
    assert WRITE_ALIAS in query(host, pgpass, "pgbouncer", STATS_USER, "SHOW POOLS")
    res = psql(host, pgpass, "pgbouncer", STATS_USER, f"PAUSE {WRITE_ALIAS}")
    assert res.rc != 0
    assert "admin access needed" in res.stderr


def test_pool_settings(host, pgpass):
    rows = query(host, pgpass, "pgbouncer", ADMIN_USER, "SHOW CONFIG").splitlines()
    config = dict(line.split("|")[:2] for line in rows)
    assert config["pool_mode"] == "transaction"
    assert config["max_client_conn"] == "1000"
    assert config["default_pool_size"] == "25"
    assert config["reserve_pool_size"] == "10"
    assert config["reserve_pool_timeout"] in {"5", "5.0"}
    assert config["auth_type"] == "scram-sha-256"
    assert config["server_tls_sslmode"] == "verify-ca"


def exporter_expected(host) -> bool:
    # Debian 12's packaged exporter (1.7) cannot read PgBouncer 1.18: the role installs none there.
    return host.system_info.codename != "bookworm"


def test_exporter_runs_as_its_own_user(host):
    if not exporter_expected(host):
        assert not host.package("prometheus-pgbouncer-exporter").is_installed
        pytest.skip("no exporter on Debian 12")
    assert host.service("prometheus-pgbouncer-exporter").is_running
    user = host.check_output("systemctl show -p User --value prometheus-pgbouncer-exporter")
    assert user == "pgbouncer-exporter"
    pgpass_file = host.file("/etc/pgbouncer-exporter/pgpass")
    assert (pgpass_file.user, pgpass_file.mode) == ("pgbouncer-exporter", 0o600)
    assert "--pgBouncer.connectionString" in host.check_output("ps -o args= -C prometheus-pgbouncer-exporter")


def test_exporter_scrapes_pgbouncer(host):
    if not exporter_expected(host):
        pytest.skip("no exporter on Debian 12")
    address = host.check_output("hostname -I").split()[0]
    deadline = time.monotonic() + 15
    metrics = ""
    while time.monotonic() < deadline:
        metrics = host.run("curl -fsS http://%s:9127/metrics", address).stdout
        if "pgbouncer_up 1" in metrics:
            break
        time.sleep(1)
    assert "pgbouncer_up 1" in metrics
    assert f'name="{READ_ALIAS}"' in metrics
