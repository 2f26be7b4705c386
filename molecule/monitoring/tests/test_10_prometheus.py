"""Prometheus and Alertmanager: private address only, every generated target up, the stack's rules
loaded, job metrics from the textfile directory, and an alert that reaches the receiver."""

import json
import time

import pytest
from conftest import ADDRESSES, ALERTMANAGER, PROMETHEUS, fetch, node, prometheus_api, wait_for

journal_units = ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter",
                 "prometheus-redis-exporter", "alert-sink-test-double"]
SINK = "/var/lib/alert-sink/alerts.jsonl"


@pytest.mark.parametrize("unit", ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter"])
def test_services_run_enabled(unit):
    service = node("mon1").service(unit)
    assert service.is_running and service.is_enabled


def test_prometheus_and_alertmanager_listen_on_the_private_address_only():
    lines = node("mon1").run("ss -ltnH").stdout.splitlines()
    local = {line.split()[3] for line in lines if line.strip()}
    mon1 = ADDRESSES["mon1"]
    for port in (9090, 9093, 9100):
        assert {a for a in local if a.endswith(f":{port}")} == {f"{mon1}:{port}"}, local
    assert not any(a.endswith(":9094") for a in local), "Alertmanager's cluster port must be closed"


def test_configuration_files_are_the_roles():
    mon1 = node("mon1")
    assert "generated from the inventory" in mon1.file("/etc/prometheus/prometheus.yml").content_string
    assert mon1.run("promtool check config /etc/prometheus/prometheus.yml").rc == 0
    assert mon1.run("amtool check-config /etc/prometheus/alertmanager.yml").rc == 0
    assert mon1.file("/etc/prometheus/alertmanager.yml").mode == 0o640


def test_every_generated_target_is_up():
    def all_up():
        targets = prometheus_api("targets")["activeTargets"]
        found = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
        return found if found and all(h == "up" for h in found.values()) else None
    found = wait_for(all_up, 60, "every target up")
    assert set(found) == {("prometheus", "monitoring-mon1"), ("alertmanager", "monitoring-mon1"),
                          ("node", "monitoring-mon1"), ("node", "monitoring-cache1"),
                          ("redis", "monitoring-cache1")}


def test_the_stacks_rules_are_loaded():
    groups = prometheus_api("rules")["groups"]
    alerts = {rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"}
    assert {"InstanceDown", "SystemdUnitFailed", "HostDiskWillFill", "PostgresqlReplicationLag",
            "BackupTooOld", "PgbouncerPoolSaturated", "RedisMemoryHigh", "AppCompareErrors"} <= alerts
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])


def test_redis_is_read_through_its_exporter():
    query = 'redis_up{instance="monitoring-cache1"}'
    result = wait_for(lambda: prometheus_api("query", query=query)["result"], 30, "redis_up")
    assert result[0]["value"][1] == "1"


def test_a_job_result_reaches_prometheus_through_the_textfile_directory():
    cache1 = node("cache1")
    res = cache1.run("SERVICE_RESULT=exit-code EXIT_STATUS=3 "
                     "/usr/local/sbin/pdfcompare-job-metrics demo-job.service")
    assert res.rc == 0, res.stderr
    query = 'pdfcompare_job_last_failed{unit="demo-job",instance="monitoring-cache1"}'
    result = wait_for(lambda: prometheus_api("query", query=query)["result"], 30, query)
    assert result[0]["value"][1] == "1"
    cache1.run("rm -f /var/lib/prometheus/node-exporter/job-demo-job.prom")


def test_prometheus_is_refused_to_hosts_outside_the_monitoring_group():
    script = f"import urllib.request; urllib.request.urlopen('{PROMETHEUS}/-/ready', timeout=5)"
    res = node("cache1").run(f'python3 -c "{script}"')
    assert res.rc != 0


def sink_alerts() -> list[dict]:
    text = node("mon1").run(f"cat {SINK} 2>/dev/null").stdout
    return [alert | {"notification_status": line["status"]}
            for line in map(json.loads, text.splitlines()) for alert in line.get("alerts", [])]


def test_a_stopped_exporter_raises_instance_down_at_the_receiver():
    cache1 = node("cache1")
    node("mon1").run(f"truncate -s 0 {SINK}")  # only notifications from now on count
    started = time.time()
    cache1.run("systemctl stop prometheus-redis-exporter")
    try:
        def fired():
            return [a for a in sink_alerts() if a["labels"].get("alertname") == "InstanceDown"
                    and a["labels"].get("instance") == "monitoring-cache1"
                    and a["labels"].get("job") == "redis"
                    and a["status"] == "firing"]
        alerts = wait_for(fired, 120, "InstanceDown for the Redis exporter at the receiver")
        assert alerts[0]["labels"]["severity"] == "critical"
        assert "is down" in alerts[0]["annotations"]["summary"]
        status, body = fetch("mon1", f"{ALERTMANAGER}/api/v2/alerts")
        assert status == 200 and "InstanceDown" in body
        print(f"InstanceDown reached the receiver {time.time() - started:.0f} s after the stop")
    finally:
        cache1.run("systemctl start prometheus-redis-exporter")
    wait_for(lambda: prometheus_api("query", query='up{job="redis"} == 1')["result"], 60,
             "redis exporter up again")
