"""Scenario `database`, automatic failover: the leader's container is killed (`docker kill`, no
clean shutdown) under a write load through PgBouncer. Nobody runs a playbook: Patroni promotes a
synchronous replica once the leader lock expires, HAProxy on app1 follows, and writes resume.
No acknowledged write is lost. Then the old leader comes back (its Patroni starts at boot), rewinds
itself and streams again, and database.yml (what site.yml runs) changes nothing and starts no
second primary."""

import subprocess
import time

import pytest
from conftest import leader, name, node, primary_of, psql, unexpected_changes, wait_for_cluster

testinfra_hosts = [name("app1")]
journal_units = ["pgbouncer", "haproxy"]

# The time to the first write is a figure (target 25 s, Patroni's ttl of 20 s is the floor; see
# docs/database.md for what adds to it); this bound only catches a failover that does not happen.
KILL_BOUND_S = 60
STATE: dict[str, str] = {}


@pytest.mark.light
def test_leader_killed_writes_resume_without_a_playbook(inventory, writer, measurements):
    old = leader(inventory.members)
    STATE["old"] = old
    writer.start(old)
    time.sleep(3)
    killed_at = time.time()
    subprocess.run(["docker", "kill", name(old)], check=True, capture_output=True)
    survivors = [h for h in inventory.members if h != old]
    # Bounded wait for the first acknowledged write after the kill (the writer logs epoch times).
    deadline = time.monotonic() + 90
    resumed = None
    while time.monotonic() < deadline and resumed is None:
        log = writer.app.run("cat /tmp/writer.log").stdout.split("\n")
        resumed = next((float(t) for t, state, _ in (line.split() for line in log if line)
                        if state == "ok" and float(t) > killed_at + 0.5), None)
        time.sleep(0.5)
    outcome = writer.stop()
    assert resumed is not None, f"no write succeeded within 90 s of the kill: {outcome['errors']}"

    new = leader(survivors)
    assert new != old
    assert primary_of(survivors) == [new]
    stored = set(map(int, psql(node(new), "SELECT n FROM write_probe").split()))
    lost = set(outcome["ok"]) - stored
    assert not lost, f"acknowledged rows lost in the failover: {sorted(lost)}"
    took = resumed - killed_at
    measurements["failover (docker kill of the leader): first write after (s)"] = round(took, 1)
    measurements["failover: writes that got an error / acknowledged rows lost"] = (
        f"{len(outcome['failed'])} / {len(lost)}")
    assert took <= KILL_BOUND_S, f"writes resumed {took:.1f} s after the kill"


@pytest.mark.light
def test_old_leader_rejoins_by_itself_and_site_run_changes_nothing(inventory, run_playbook):
    old = STATE["old"]
    subprocess.run(["docker", "start", name(old)], check=True, capture_output=True)
    wait_for_cluster(inventory.members, timeout=180)
    new = leader(inventory.members)
    assert new != old
    assert psql(node(old), "SELECT pg_is_in_recovery()") == "t"

    result = run_playbook("database.yml")
    assert result.returncode == 0, result.tail
    unexpected = unexpected_changes(result)
    assert not unexpected, f"database.yml after the failover changed: {unexpected}"
    assert leader(inventory.members) == new
    assert primary_of(inventory.members) == [new]
    # Every acknowledged row of the failover test is on the rejoined member as well.
    marker = psql(node(new), "INSERT INTO write_probe (n) VALUES (-70) RETURNING n")
    assert marker == "-70"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if psql(node(old), "SELECT count(*) FROM write_probe WHERE n = -70") == "1":
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{old} does not replay the new leader's writes")
