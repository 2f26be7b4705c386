"""Fixtures of scenario `database`.

The tests go beyond converge: they add a member by inventory, take and restore backups, switch
over, and kill or cut off the leader to watch Patroni fail over by itself. For that they run the
project's playbooks themselves, against an inventory written here that names the scenario's
containers exactly as Molecule's does, so the membership can change between steps (db4 joins).
Which member leads is Patroni's decision: the tests ask it (``leader()``), never assume it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from tests.lab import labctl  # noqa: E402

PREFIX = "database-"
ADDRESSES = {"db1": "172.31.20.31", "db2": "172.31.20.32", "db3": "172.31.20.33",
             "db4": "172.31.20.34", "app1": "172.31.20.21"}
# Seconds one playbook run may take before the test fails (bounded, never hangs CI).
PLAYBOOK_TIMEOUT = 900


def name(short: str) -> str:
    """Container / inventory name of a scenario host: name('db1') -> 'database-db1'."""
    return PREFIX + short


def node(short: str):
    return testinfra.get_host(f"docker://{name(short)}")


def psql(target, sql: str, database: str = "pdfcompare") -> str:
    """Run SQL as the postgres superuser on a DB host (unix socket, peer); fails the test on error."""
    res = target.run("runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d %s -c %s", database, sql)
    assert res.rc == 0, f"{target.backend.hostname}: {sql}: {res.stderr}"
    return res.stdout.strip()


class Inventory:
    """The scenario's inventory with a membership the tests can change."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "hosts.yml"
        self.members = ["db1", "db2", "db3"]
        self.etcd = ["db1", "db2", "db3"]
        self.write()

    def write(self) -> None:
        spare = [h for h in ("db1", "db2", "db3", "db4") if h not in self.members]
        data = {"all": {
            "vars": {
                "ansible_connection": "docker",  # Mitogen's transport, like the scenario (.config/molecule)
                "common_apt_proxy": "http://172.31.20.1:3142",
                "postgresql_memory_mb": 512,
                "pki_ca_dir": str(ROOT / "inventories" / "lab" / ".secrets" / "pki-molecule-database"),
                "pki_site_name": "molecule-database",
            },
            "hosts": {name(h): {"common_private_address": a} for h, a in ADDRESSES.items()},
            "children": {
                "postgresql": {"hosts": {name(h): None for h in self.members}},
                "etcd": {"hosts": {name(h): None for h in self.etcd}},
                "spare": {"hosts": {name(h): None for h in spare}},
                "app": {"hosts": {name("app1"): None}},
                "pgbouncer": {"children": {"app": None}},
            },
        }}
        self.path.write_text(yaml.safe_dump(data, sort_keys=False))


def cluster(members=("db1", "db2", "db3", "db4")) -> list[dict]:
    """Patroni's view of the cluster (`patronictl list -f json`), asked of the first member that
    answers: [{"Member": ..., "Role": "Leader" | "Sync Standby" | "Quorum Standby" | "Replica",
    "State": ..., "TL": ..., "Lag in MB": ...}, ...]."""
    for short in members:
        res = node(short).run("runuser -u postgres -- patronictl -c /etc/patroni/config.yml list -f json")
        if res.rc == 0 and res.stdout.strip().startswith("["):
            return json.loads(res.stdout)
    raise AssertionError("no member answered `patronictl list`")


def leader(members=("db1", "db2", "db3", "db4")) -> str:
    """Short name of the member Patroni reports as leader (fails unless there is exactly one)."""
    leaders = [m["Member"] for m in cluster(members) if m["Role"] == "Leader"]
    assert len(leaders) == 1, f"leaders: {leaders}"
    return leaders[0].removeprefix(PREFIX)


def wait_for_cluster(members: list[str], timeout: float = 120) -> list[dict]:
    """Wait until exactly one leader runs and every other member streams; returns the view."""
    deadline = time.monotonic() + timeout
    view: list[dict] = []
    while time.monotonic() < deadline:
        try:
            view = cluster(members)
        except AssertionError:
            view = []
        names = sorted(m["Member"].removeprefix(PREFIX) for m in view)
        leaders = [m for m in view if m["Role"] == "Leader" and m["State"] == "running"]
        # Patroni 4 says "streaming", Patroni 3 "running" for a replica that follows the leader.
        streaming = [m for m in view if m["Role"] != "Leader" and m["State"] in ("streaming", "running")
                     and isinstance(m.get("Lag in MB"), int) and m["Lag in MB"] < 16]
        if names == sorted(members) and len(leaders) == 1 and len(streaming) == len(members) - 1:
            return view
        time.sleep(1)
    raise AssertionError(f"cluster not healthy after {timeout} s: {view}")


@pytest.fixture(scope="session")
def secrets() -> dict[str, str]:
    values = labctl.read_secrets()
    missing = set(labctl.SECRETS) - set(values)
    assert not missing, f"lab vault lacks {missing}: run `make lab-secrets`"
    return values


@pytest.fixture(scope="session")
def inventory(tmp_path_factory) -> Inventory:
    return Inventory(tmp_path_factory.mktemp("database-inventory"))


@pytest.fixture(scope="session")
def run_playbook(inventory):
    """run_playbook(name, extra_vars=None) -> CompletedProcess of playbooks/<name> (output kept)."""

    def run(playbook: str, extra_vars: dict | None = None) -> subprocess.CompletedProcess:
        cmd = [labctl.venv_bin("ansible-playbook"), "-i", str(inventory.path),
               *labctl.vault_args(), "-e", f"@{labctl.VAULT_FILE}"]
        if extra_vars:
            cmd += ["-e", yaml.safe_dump(extra_vars, default_flow_style=True).strip()]
        cmd.append(str(ROOT / "playbooks" / playbook))
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
                   PROFILE_TASKS_TASK_OUTPUT_LIMIT="all")
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT,
                                env=env, cwd=ROOT)
        log = inventory.folder / f"{len(list(inventory.folder.glob('*.log'))):02d}-{playbook}.log"
        log.write_text(result.stdout + result.stderr)
        # The tail of the run shows in the test report when an assertion on it fails.
        result.tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        return result

    return run


MEASUREMENTS: dict[str, float] = {}


@pytest.fixture(scope="session")
def measurements() -> dict[str, float]:
    """Figures the tests measure (times, sizes); printed at the end and kept in .cache/measurements/."""
    return MEASUREMENTS


def pytest_terminal_summary(terminalreporter):
    if not MEASUREMENTS:
        return
    debian = os.environ.get("LAB_DEBIAN", "13")
    terminalreporter.section(f"database scenario measurements (Debian {debian})")
    for key, value in MEASUREMENTS.items():
        terminalreporter.write_line(f"{key}: {value}")
    out = ROOT / ".cache" / "measurements"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"database-debian{debian}.yml").write_text(yaml.safe_dump(MEASUREMENTS, sort_keys=False))


WRITER_SCRIPT = r"""
set -u
max=$1; seconds=$2; n=0; end=$((SECONDS + seconds))
export PGPASSFILE=/root/.pgpass-writer PGCONNECT_TIMEOUT=5
while [ "$SECONDS" -lt "$end" ] && [ "$n" -lt "$max" ] && [ ! -e /tmp/writer.stop ]; do
  n=$((n + 1))
  if psql -XAtq -h 127.0.0.1 -p 6432 -U pdfcompare -d pdfcompare \
       -c "INSERT INTO write_probe (n) VALUES ($n)" >/dev/null 2>>/tmp/writer.err; then
    echo "$(date +%s.%N) ok $n"
  else
    echo "$(date +%s.%N) fail $n"
  fi
  sleep 0.1
done > /tmp/writer.log
touch /tmp/writer.done
"""


class Writer:
    """Writes numbered rows through PgBouncer's write alias on app1 in the background (bounded:
    at most 3000 rows and 300 s), to measure what clients see during a switchover or failover."""

    def __init__(self, secrets: dict[str, str]):
        self.app = node("app1")
        self.password = secrets["postgresql_app_password"]

    def start(self, primary: str) -> None:
        psql(node(primary), "CREATE TABLE IF NOT EXISTS write_probe (n int, at timestamptz DEFAULT now()); "
                            "TRUNCATE write_probe; "
                            "GRANT INSERT, SELECT ON write_probe TO pdfcompare")
        self.app.run("rm -f /tmp/writer.stop /tmp/writer.done /tmp/writer.log /tmp/writer.err")
        escaped = self.password.replace("\\", "\\\\").replace(":", "\\:")
        res = self.app.run("umask 077 && printf '127.0.0.1:6432:pdfcompare:pdfcompare:%s\\n' %s "
                           "> /root/.pgpass-writer", "%s", escaped)
        assert res.rc == 0, res.stderr
        (Path("/tmp") / "pdfcompare-writer.sh").write_text(WRITER_SCRIPT)
        subprocess.run(["docker", "cp", "/tmp/pdfcompare-writer.sh", f"{name('app1')}:/root/writer.sh"],
                       check=True)
        subprocess.run(["docker", "exec", "-d", name("app1"), "bash", "/root/writer.sh", "3000", "300"],
                       check=True)
        deadline = time.monotonic() + 30
        def log() -> str:
            return self.app.run("cat /tmp/writer.log").stdout

        while time.monotonic() < deadline and " ok " not in log():
            time.sleep(0.5)
        assert " ok " in log(), self.app.run("cat /tmp/writer.err").stdout

    def stop(self) -> dict:
        """Stop writing; returns ok row numbers, failed ones and the longest gap between successes."""
        time.sleep(2)
        self.app.run("touch /tmp/writer.stop")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.app.file("/tmp/writer.done").exists:
            time.sleep(0.5)
        lines = [line.split() for line in self.app.run("cat /tmp/writer.log").stdout.splitlines()]
        oks = [(float(t), int(n)) for t, state, n in lines if state == "ok"]
        fails = [int(n) for t, state, n in lines if state == "fail"]
        gaps = [b[0] - a[0] for a, b in zip(oks, oks[1:], strict=False)]
        self.app.run("rm -f /root/.pgpass-writer /root/writer.sh")
        return {"ok": [n for _, n in oks], "ok_times": [t for t, _ in oks], "failed": fails,
                "longest_gap": max(gaps, default=0.0),
                "errors": self.app.run("sort /tmp/writer.err | uniq -c | sort -rn | head -5").stdout}


@pytest.fixture()
def writer(secrets) -> Writer:
    return Writer(secrets)


def primary_of(members) -> list[str]:
    """Members that run as primary (not in recovery), asked of PostgreSQL itself."""
    return [h for h in members if node(h).run(
        "runuser -u postgres -- psql -XAtq -c 'SELECT pg_is_in_recovery()'").stdout.strip() == "f"]


def changed_tasks(result) -> list[str]:
    """'role : task' names that reported changed in a playbook run (its default output)."""
    tasks, current = [], None
    for line in result.stdout.splitlines():
        match = re.match(r"^TASK \[(.+?)\]", line)
        if match:
            current = match.group(1)
        elif line.startswith("changed: [") and current and current not in tasks:
            tasks.append(current)
    return tasks


# Until the pgBackRest repository moves off the database hosts (issue 10, item 5), each host has its
# own repository: the first database.yml run after a promotion creates the stanza in the new
# leader's repository and takes its first backup there. Nothing else may change.
PER_HOST_BACKUP_TASKS = ("pgbackrest : Create the stanza", "pgbackrest : Take a full backup")


def unexpected_changes(result) -> list[str]:
    return [t for t in changed_tasks(result) if not t.startswith(PER_HOST_BACKUP_TASKS)]
