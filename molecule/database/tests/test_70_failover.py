"""Scenario `database`, failover: the primary (db2) is killed under a write load through PgBouncer.
failover.yml promotes the most advanced replica, re-points the others and PgBouncer; no write
that was acknowledged is lost. Then db2 comes back and db4 leaves the inventory: the next
database.yml run rewinds db2 into a replica and drops db4's slot."""

import subprocess
import time

from conftest import name, node, primary_of, psql

testinfra_hosts = [name("db1")]
journal_units = ["postgresql@*-main.service", "pgbouncer"]


def test_failover_after_the_primary_dies(inventory, run_playbook, writer, measurements):
    writer.start("db2")
    time.sleep(2)
    killed = time.monotonic()
    subprocess.run(["docker", "kill", name("db2")], check=True, capture_output=True)
    result = run_playbook("failover.yml")
    playbook_done = time.monotonic()
    outcome = writer.stop()
    assert result.returncode == 0, result.tail

    survivors = ["db1", "db3", "db4"]
    new = primary_of(survivors)
    assert len(new) == 1, f"primaries after failover: {new}"
    new_primary = node(new[0])
    streaming = psql(new_primary, "SELECT application_name FROM pg_stat_replication "
                                  "WHERE state = 'streaming' ORDER BY 1").splitlines()
    assert streaming == [name(h) for h in survivors if h != new[0]]

    stored = set(map(int, psql(new_primary, "SELECT n FROM write_probe").split()))
    lost = set(outcome["ok"]) - stored
    assert not lost, f"acknowledged rows lost in the failover: {sorted(lost)}"
    psql(new_primary, "INSERT INTO write_probe (n) VALUES (-1)")

    measurements["failover: new primary"] = name(new[0])
    measurements["failover: kill to playbook done (s)"] = round(playbook_done - killed, 1)
    measurements["failover: longest gap between acknowledged writes (s)"] = round(outcome["longest_gap"], 1)
    measurements["failover: writes that got an error / rows lost"] = f"{len(outcome['failed'])} / {len(lost)}"
    assert f"postgresql_primary_host: {name(new[0])}" in inventory.topology_file.read_text()


def test_old_primary_rejoins_and_removed_replica_loses_its_slot(inventory, run_playbook):
    new_primary = primary_of(["db1", "db3", "db4"])[0]
    # A replica leaves the cluster: stopped, then taken out of the inventory.
    leaver = next(h for h in ("db4", "db3") if h != new_primary)
    members = [h for h in ("db1", "db2", "db3", "db4") if h != leaver]
    subprocess.run(["docker", "start", name("db2")], check=True, capture_output=True)
    subprocess.run(["docker", "exec", name(leaver), "systemctl", "stop", "postgresql"], check=True)
    if leaver in inventory.replicas:
        inventory.replicas.remove(leaver)
    else:
        inventory.primary = inventory.replicas.pop(0)
    inventory.write()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and node("db2").run(
            "systemctl is-system-running").stdout.strip() not in ("running", "degraded"):
        time.sleep(1)
    result = run_playbook("database.yml")
    assert result.returncode == 0, result.tail

    assert primary_of(members) == [new_primary]
    primary = node(new_primary)
    streaming = psql(primary, "SELECT application_name FROM pg_stat_replication "
                              "WHERE state = 'streaming' ORDER BY 1").splitlines()
    assert streaming == [name(h) for h in members if h != new_primary]
    slots = psql(primary, "SELECT slot_name FROM pg_replication_slots").split()
    assert f"replica_database_{leaver}" not in slots
    rewind = result.stdout.split("Rewind the data directory to the primary's timeline", 1)[-1][:600]
    assert f"changed: [{name('db2')}]" in rewind, "db2 was not rewound with pg_rewind"
    # Every row the failover test wrote is on the rejoined db2 as well.
    assert psql(node("db2"), "SELECT count(*) FROM write_probe WHERE n = -1") == "1"
