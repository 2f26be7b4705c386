"""Scenario `database`, network partition: the leader is cut off from etcd, the other members and
the app host (nftables on the leader's host, the rest of the scenario network dropped both ways).
Its Patroni cannot renew the leader lock and demotes it; a replica promotes. A probe on every
member tries a write on its own server every 0.2 s: no interval ever sees two members accept a
write, and no acknowledged row (probe or client) is lost. Healed, the old leader rejoins."""

import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from conftest import ADDRESSES, leader, name, node, psql, wait_for_cluster

testinfra_hosts = [name("app1")]
journal_units = ["pgbouncer", "haproxy"]

TTL_S = 20
# psql's answer when no server runs (stopped, or shutting down / starting up as a replica).
SERVER_DOWN = re.compile(r"No such file or directory|Connection refused|shutting down|starting up|"
                         r"not yet accepting connections")
PROBE_SECONDS = 75
PROBE_SCRIPT = r"""
set -u
me=$1; seconds=$2; n=0; end=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$end" ] && [ ! -e /tmp/probe.stop ]; do
  n=$((n + 1))
  # A write counts only when the client saw the commit (killed after 1 s: never acknowledged).
  sql="INSERT INTO split_probe (member, n) VALUES ('$me', $n)"
  if out=$(timeout -s KILL 1 runuser -u postgres -- psql -XAtq -d pdfcompare -c "$sql" 2>&1) \
      && ! echo "$out" | grep -q WARNING; then
    echo "$(date +%s.%N) ok $n"
  else
    echo "$(date +%s.%N) fail $n"
  fi
  sleep 0.2
done > /tmp/probe.log
touch /tmp/probe.done
"""
CUT = """
nft add table inet partition
nft add chain inet partition in '{{ type filter hook input priority -10; policy accept; }}'
nft add chain inet partition out '{{ type filter hook output priority -10; policy accept; }}'
nft add rule inet partition in ip saddr 172.31.20.0/24 ip saddr != {me} drop
nft add rule inet partition out ip daddr 172.31.20.0/24 ip daddr != {me} drop
"""


def start_probes(members):
    (Path("/tmp") / "pdfcompare-probe.sh").write_text(PROBE_SCRIPT)
    for short in members:
        node(short).run("rm -f /tmp/probe.stop /tmp/probe.done /tmp/probe.log")
        container = name(short)
        script = "/tmp/pdfcompare-probe.sh"
        subprocess.run(["docker", "cp", script, f"{container}:/root/probe.sh"], check=True)
        subprocess.run(["docker", "exec", "-d", container, "bash", "/root/probe.sh", short,
                        str(PROBE_SECONDS)], check=True)


def stop_probes(members) -> dict[str, list[tuple[float, str, int]]]:
    for short in members:
        node(short).run("touch /tmp/probe.stop")
    logs = {}
    for short in members:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not node(short).file("/tmp/probe.done").exists:
            time.sleep(0.5)
        lines = node(short).run("cat /tmp/probe.log").stdout.splitlines()
        logs[short] = [(float(t), state, int(n)) for t, state, n in (line.split() for line in lines)]
    return logs


def test_cut_off_leader_demotes_and_never_two_accept_writes(inventory, writer, measurements):
    members = list(inventory.members)
    old = leader(members)
    psql(node(old), "CREATE TABLE IF NOT EXISTS split_probe "
                    "(member text, n int, at timestamptz DEFAULT now())")
    writer.start(old)
    start_probes(members)
    time.sleep(3)
    cut_at = time.time()
    res = node(old).run(CUT.format(me=ADDRESSES[old]))
    assert res.rc == 0, res.stderr
    try:
        survivors = [h for h in members if h != old]
        # Watch both sides until the cut-off leader is read-only and a majority member leads (the
        # majority keeps seeing the old leader until its lock expires, after the ttl).
        deadline = time.monotonic() + 90
        new, demoted_at, stopped_at, took_over_at = None, None, None, None
        while time.monotonic() < deadline and (demoted_at is None or took_over_at is None):
            if demoted_at is None:
                res = node(old).run("runuser -u postgres -- psql -XAtq -d postgres -c %s",
                                    "SELECT pg_is_in_recovery()")
                if res.rc == 0 and res.stdout.strip() == "t":
                    demoted_at = time.time()
                # Patroni's demotion first stops the server: from then on it is no primary.
                elif stopped_at is None and res.rc != 0 and SERVER_DOWN.search(res.stderr):
                    stopped_at = time.time()
            if took_over_at is None:
                try:
                    new = leader(survivors)
                except AssertionError:
                    new = None
                if new not in (None, old):
                    took_over_at = time.time()
            time.sleep(0.3)
        assert took_over_at is not None, f"no member took over from {old} within 90 s"
        time.sleep(3)
        logs = stop_probes(members)
        outcome = writer.stop()
    finally:
        node(old).run("nft delete table inet partition")

    accepted = {m: [t for t, state, _ in entries if state == "ok"] for m, entries in logs.items()}
    buckets: dict[int, set[str]] = defaultdict(set)
    for member, times in accepted.items():
        for t in times:
            buckets[int(t / 0.2)].add(member)
    double = {b * 0.2: sorted(ms) for b, ms in buckets.items() if len(ms) > 1}
    assert not double, f"two members accepted writes in the same 0.2 s: {double}"
    last_old_write = max((t for t in accepted[old] if t >= cut_at), default=cut_at)
    late = last_old_write - cut_at
    assert late <= TTL_S, f"the cut-off leader accepted writes {late:.1f} s after the cut"
    assert demoted_at is not None, f"{old} still runs as a primary 90 s after the cut"

    wait_for_cluster(members, timeout=180)
    current = node(leader(members))
    stored_probe = {(m, int(n)) for m, n in (line.split("|") for line in
                    psql(current, "SELECT member, n FROM split_probe").splitlines())}
    acknowledged = {(m, n) for m, entries in logs.items() for _, state, n in entries if state == "ok"}
    lost_probe = acknowledged - stored_probe
    stored = set(map(int, psql(current, "SELECT n FROM write_probe").split()))
    lost = set(outcome["ok"]) - stored
    assert not lost_probe and not lost, f"rows lost: probe {sorted(lost_probe)}, client {sorted(lost)}"
    stopped_at = stopped_at or demoted_at
    measurements["partition: cut-off leader stops being a primary after (s)"] = round(stopped_at - cut_at, 1)
    measurements["partition: cut-off leader back as a read-only replica after (s)"] = round(
        demoted_at - cut_at, 1)
    measurements["partition: a majority member leads after (s)"] = round(took_over_at - cut_at, 1)
    measurements["partition: its last acknowledged write after the cut (s)"] = round(late, 1)
    measurements["partition: intervals with two writable members / rows lost"] = f"{len(double)} / 0"
    measurements["partition: client writes that got an error"] = len(outcome["failed"])
