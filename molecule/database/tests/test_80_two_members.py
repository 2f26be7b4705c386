"""Scenario `database`, a two-member cluster: two replicas leave (Patroni stopped and disabled, then
taken out of group postgresql, as docs/database.md says), database.yml runs, and the leader of the
remaining pair is killed under a write load. The survivor promotes and keeps taking writes
(synchronous_mode_strict is off), with no acknowledged write lost."""

import subprocess
import time

import pytest
from conftest import leader, name, node, primary_of, psql, wait_for_cluster

testinfra_hosts = [name("app1")]
# Slow (a database.yml run with a clone, or with two members leaving): `make test-extended`.
pytestmark = pytest.mark.extended
journal_units = ["pgbouncer", "haproxy"]


def test_two_member_cluster_survives_the_loss_of_its_leader(inventory, run_playbook, writer, measurements):
    first = leader(inventory.members)
    partner = next(h for h in inventory.members if h != first)
    leaving = [h for h in inventory.members if h not in (first, partner)]
    for short in leaving:
        assert node(short).run("systemctl disable --now patroni").rc == 0
    inventory.members = [first, partner]
    inventory.write()
    result = run_playbook("database.yml")
    assert result.returncode == 0, result.tail
    wait_for_cluster(inventory.members, timeout=120)

    writer.start(first)
    time.sleep(3)
    killed_at = time.time()
    subprocess.run(["docker", "kill", name(first)], check=True, capture_output=True)
    deadline = time.monotonic() + 90
    resumed = None
    while time.monotonic() < deadline and resumed is None:
        log = writer.app.run("cat /tmp/writer.log").stdout.split("\n")
        resumed = next((float(t) for t, state, _ in (line.split() for line in log if line)
                        if state == "ok" and float(t) > killed_at + 0.5), None)
        time.sleep(0.5)
    time.sleep(3)
    outcome = writer.stop()
    assert resumed is not None, f"the survivor took no write within 90 s: {outcome['errors']}"
    assert primary_of([partner]) == [partner]
    stored = set(map(int, psql(node(partner), "SELECT n FROM write_probe").split()))
    lost = set(outcome["ok"]) - stored
    assert not lost, f"acknowledged rows lost: {sorted(lost)}"
    after_kill = [t for t in outcome["ok_times"] if t > resumed]
    assert after_kill, "no write after the first one on the survivor"
    took = round(resumed - killed_at, 1)
    measurements["two members: leader killed, first write on the survivor after (s)"] = took
    measurements["two members: acknowledged rows lost"] = len(lost)
    subprocess.run(["docker", "start", name(first)], check=True, capture_output=True)
