"""Scenario `database`, backups: pgBackRest archives the primary's WAL, the timers are on every
database host, playbooks/backup.yml takes a backup and playbooks/restore.yml rebuilds the app
database in a scratch instance whose row counts match the source, and leaves nothing behind.

``run_playbook(name, extra_vars)`` (molecule/database/tests/conftest.py) runs playbooks/<name>
against the scenario's inventory with the lab vault.
"""

import json

import pytest
import testinfra
from conftest import leader, name

testinfra_hosts = ["database-db1", "database-db2", "database-db3"]
# Units whose journal is printed when a test fails (molecule/conftest.py).
journal_units = [
    "pdfcompare-backup@full.service",
    "pdfcompare-backup@diff.service",
    "patroni.service",
]

STANZA = "pdfcompare"
TIMERS = ("pdfcompare-backup-full.timer", "pdfcompare-backup-diff.timer")
SCRATCH_DIR = "/var/lib/postgresql/restore-drill"
SCRATCH_PORT = 5499
PROBE_TABLE = "public.pgbackrest_probe"
PROBE_ROWS = 1234


def db(name: str):
    return testinfra.get_host(f"docker://{name}")


def as_postgres(host, command: str, *args: str):
    return host.run("runuser -u postgres -- " + command, *args)


def psql(host, sql: str, database: str = "pdfcompare") -> str:
    res = as_postgres(host, "psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", database, sql)
    assert res.rc == 0, res.stderr
    return res.stdout.strip()


@pytest.fixture(scope="module")
def primary():
    """The current Patroni leader (backups and archiving run there)."""
    return db(name(leader()))


@pytest.fixture(scope="module")
def probe_table(primary):
    """A table with a known number of rows in the app database, dropped afterwards."""
    psql(
        primary,
        f"DROP TABLE IF EXISTS {PROBE_TABLE}; CREATE TABLE {PROBE_TABLE} AS "
        f"SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, {PROBE_ROWS}) g",
    )
    yield PROBE_TABLE
    psql(primary, f"DROP TABLE IF EXISTS {PROBE_TABLE}")


def labels(primary) -> set:
    """Labels of the backups in the primary's repository (the stanza must be healthy)."""
    res = as_postgres(primary, "pgbackrest --stanza=%s --output=json info", STANZA)
    assert res.rc == 0, res.stderr
    stanza = next(s for s in json.loads(res.stdout) if s["name"] == STANZA)
    assert stanza["status"]["code"] == 0, stanza["status"]
    return {backup["label"] for backup in stanza["backup"]}


def test_pgbackrest_installed_and_configured(host):
    assert host.package("pgbackrest").is_installed
    conf = host.file("/etc/pgbackrest/pgbackrest.conf")
    assert conf.user == "root" and conf.group == "postgres" and conf.mode == 0o640
    assert conf.contains("^repo1-cipher-type=aes-256-cbc$")
    assert conf.contains(f"^\\[{STANZA}\\]$")
    assert not conf.contains("cipher-pass")
    secrets = host.file("/etc/pgbackrest/conf.d/pdfcompare-secrets.conf")
    assert secrets.user == "root" and secrets.group == "postgres" and secrets.mode == 0o640
    assert secrets.contains("^repo1-cipher-pass=..........")
    assert not host.file("/etc/pgbackrest.conf").exists
    assert (
        host.run(
            "/usr/local/sbin/pdfcompare-pgbackrest-validate config %s %s",
            "/etc/pgbackrest/pgbackrest.conf",
            STANZA,
        ).rc
        == 0
    )
    repo = host.file("/var/lib/pgbackrest")
    assert repo.is_directory and repo.user == "postgres" and repo.mode == 0o750


@pytest.mark.parametrize("timer", TIMERS)
def test_backup_timers_enabled_on_every_db_host(host, timer):
    assert host.service(timer).is_enabled
    assert host.service(timer).is_running
    assert timer in host.check_output("systemctl list-timers --all --no-pager 'pdfcompare-backup-*'")


def test_backup_unit_verifies(host):
    res = host.run(
        "systemd-analyze verify --man=no pdfcompare-backup@full.service pdfcompare-backup-full.timer"
    )
    assert res.rc == 0 and "pdfcompare-backup" not in res.stderr, res.stderr


def test_archiving_works_on_the_primary(primary):
    # Switches WAL and waits until the segment is in the repository.
    res = as_postgres(primary, "pgbackrest --stanza=%s --log-level-console=warn check", STANZA)
    assert res.rc == 0, res.stdout + res.stderr
    archiver = psql(
        primary,
        "SELECT archived_count > 0 AND (last_failed_time IS NULL "
        "OR last_archived_time > last_failed_time) FROM pg_stat_archiver",
        "postgres",
    )
    assert archiver == "t"


@pytest.mark.parametrize("index", [0, 1])
def test_backup_unit_skips_itself_on_a_replica(index):
    replica = [h for h in ("db1", "db2", "db3") if h != leader()][index]
    host = db(name(replica))
    assert psql(host, "SELECT pg_is_in_recovery()", "postgres") == "t"
    assert host.run("systemctl start pdfcompare-backup@incr.service").rc == 0
    assert host.check_output("systemctl show -P ConditionResult pdfcompare-backup@incr.service") == "no"


def test_backup_playbook_takes_a_backup(primary, run_playbook):
    before = labels(primary)
    result = run_playbook("backup.yml", {"backup_type": "full"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    after = labels(primary)
    assert len(after - before) == 1, (before, after)
    assert any(label.endswith("F") for label in after - before)
    dumps = primary.run("ls /var/backups/pdfcompare/").stdout.split()
    assert any(name.startswith("pdfcompare-") and name.endswith(".dump") for name in dumps), dumps


def test_pgbackrest_info_lists_a_backup(primary):
    assert labels(primary)
    assert "status: ok" in as_postgres(primary, "pgbackrest --stanza=%s info", STANZA).stdout


def test_restore_drill_matches_row_counts(primary, probe_table, run_playbook):
    result = run_playbook("restore.yml", {})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Row counts as expected" in result.stdout
    # The probe table was restored with its rows (the report prints source and restored counts).
    assert any(
        probe_table in line and line.split()[-2:] == [str(PROBE_ROWS)] * 2
        for line in result.stdout.splitlines()
    ), result.stdout[-4000:]


def test_restore_drill_fails_on_a_wrong_expectation(probe_table, run_playbook):
    result = run_playbook("restore.yml", {"restore_expected_counts": {probe_table: PROBE_ROWS + 1}})
    assert result.returncode != 0
    assert f"{probe_table}: expected {PROBE_ROWS + 1}, restored {PROBE_ROWS}" in result.stdout


def test_scratch_instance_is_gone(primary):
    assert not primary.file(SCRATCH_DIR).exists
    assert not primary.socket(f"unix://{SCRATCH_DIR}/.s.PGSQL.{SCRATCH_PORT}").is_listening
    assert primary.run("pgrep -u postgres -f %s", SCRATCH_DIR).rc == 1
