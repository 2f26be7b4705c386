"""Grafana (the vendor package's layout, here the grafana-test-double .deb): private address only,
no anonymous access, the admin from the vault, the datasource reaching Prometheus, the dashboards
provisioned - and every dashboard query checked against the scenario's real Prometheus."""

import json

from conftest import ADDRESSES, GRAFANA, PROMETHEUS, fetch, node

from tests.lab import labctl
from tests.test_grafana_dashboards import check_against_prometheus

journal_units = ["grafana-server", "prometheus"]
# The scenario's test password (molecule.yml) unless the lab vault generates one.
ADMIN = ("admin", labctl.read_secrets()["grafana_admin_password"])


def test_grafana_runs_on_the_private_address_only():
    mon1 = node("mon1")
    assert mon1.service("grafana-server").is_running and mon1.service("grafana-server").is_enabled
    lines = mon1.run("ss -ltnH 'sport = :3000'").stdout.splitlines()
    assert {line.split()[3] for line in lines if line.strip()} == {f"{ADDRESSES['mon1']}:3000"}


def test_configuration_closes_sign_up_and_anonymous_access():
    ini = node("mon1").file("/etc/grafana/grafana.ini")
    assert (ini.user, ini.group, ini.mode) == ("root", "grafana", 0o640)
    text = ini.content_string
    assert "allow_sign_up = false" in text
    assert "[auth.anonymous]\nenabled = false" in text
    status, _ = fetch("mon1", f"{GRAFANA}/api/search")
    assert status == 401


def test_the_admin_signs_in_and_the_datasource_reaches_prometheus():
    status, body = fetch("mon1", f"{GRAFANA}/api/datasources/uid/pdfcompare-prometheus", auth=ADMIN)
    assert status == 200, body
    assert json.loads(body)["url"] == PROMETHEUS
    status, body = fetch("mon1", f"{GRAFANA}/api/datasources/uid/pdfcompare-prometheus/health", auth=ADMIN)
    assert status == 200 and json.loads(body)["status"] == "OK", body
    assert fetch("mon1", f"{GRAFANA}/api/datasources", auth=("admin", "wrong-password"))[0] == 401


def test_the_dashboards_are_provisioned_in_their_folder():
    status, body = fetch("mon1", f"{GRAFANA}/api/search?type=dash-db", auth=ADMIN)
    assert status == 200
    found = {d["uid"]: d["folderTitle"] for d in json.loads(body)}
    assert found == {uid: "PDF Compare" for uid in (
        "pdfcompare-hosts", "pdfcompare-postgresql", "pdfcompare-pgbouncer", "pdfcompare-nginx",
        "pdfcompare-redis", "pdfcompare-app")}


def test_every_dashboard_query_parses_and_reads_scraped_metrics():
    def get(path: str) -> dict:
        return json.loads(fetch("mon1", PROMETHEUS + path)[1])
    report = check_against_prometheus(get)
    print(f"not checked here (no target of these jobs in this scenario): {report.unchecked_jobs}")
    print(f"known from target metadata only (no series yet): {sorted(set(report.by_metadata_only))}")
    assert report.unparsable == []
    assert report.missing == [], "metrics the dashboards read that no target exports"
    assert {"node", "redis"}.isdisjoint(report.unchecked_jobs)
