"""Scenario `database`, planned switchover to db2 under a steady write load through PgBouncer:
no write is refused and none is lost, db2 becomes a writable primary, db1 (rewound), db3 and db4
stream from it, the new primary is recorded next to the inventory, and a following database.yml
run (what site.yml runs) changes nothing."""

import re

from conftest import name, node, primary_of, psql

testinfra_hosts = [name("db2")]
journal_units = ["postgresql@*-main.service", "pgbouncer"]

MEMBERS = ["db1", "db2", "db3", "db4"]


def test_switchover_to_db2(host, inventory, run_playbook, writer, measurements):
    writer.start("db1")
    result = run_playbook("switchover.yml", {"postgresql_switchover_target": name("db2")})
    outcome = writer.stop()
    assert result.returncode == 0, result.tail

    assert primary_of(MEMBERS) == ["db2"]
    rows = psql(host, "SELECT application_name, state FROM pg_stat_replication ORDER BY 1").splitlines()
    assert rows == [f"{name(h)}|streaming" for h in ("db1", "db3", "db4")]

    assert outcome["failed"] == [], f"writes refused during the switchover: {outcome}"
    stored = set(map(int, psql(host, "SELECT n FROM write_probe").split()))
    lost = set(outcome["ok"]) - stored
    assert not lost, f"committed rows lost: {sorted(lost)}"
    held = re.search(r"Writes were held for ([0-9.]+) s", result.stdout)
    measurements["switchover: writes refused"] = len(outcome["failed"])
    measurements["switchover: longest wait of a client write (s)"] = round(outcome["longest_gap"], 1)
    if held:
        measurements["switchover: PgBouncer pause, as the playbook reports (s)"] = float(held.group(1))
    measurements["switchover: rows written during the run / lost"] = f"{len(outcome['ok'])} / {len(lost)}"

    assert inventory.topology_file.is_file()
    assert f"postgresql_primary_host: {name('db2')}" in inventory.topology_file.read_text()


def test_site_run_after_switchover_keeps_db2_and_changes_nothing(host, run_playbook):
    result = run_playbook("database.yml")
    assert result.returncode == 0, result.tail
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.M)
    changed = {h: int(c) for h, c in recap if int(c)}
    assert not changed, f"database.yml after the switchover changed: {changed}\n{result.tail}"
    assert primary_of(MEMBERS) == ["db2"]


def test_old_primary_is_a_replica_and_read_only():
    db1 = node("db1")
    assert psql(db1, "SELECT pg_is_in_recovery()") == "t"
    res = db1.run("runuser -u postgres -- psql -XAtq -d pdfcompare -c %s",
                  "INSERT INTO write_probe (n) VALUES (0)")
    assert res.rc != 0 and "read-only" in res.stderr
