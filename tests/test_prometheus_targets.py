"""Scrape targets of role prometheus come from the inventory and the facts the roles publish."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "prometheus_targets", ROOT / "roles" / "prometheus" / "filter_plugins" / "prometheus_targets.py")
targets = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = targets  # dataclasses look their module up
_spec.loader.exec_module(targets)

JOBS = [
    {"job": "node", "group": "all", "fact": "exporters_endpoints", "key": "node"},
    {"job": "redis", "group": "redis", "fact": "exporters_endpoints", "key": "redis"},
    {"job": "postgres", "group": "postgresql", "fact": "postgresql_exporter_endpoint"},
    {"job": "pgbouncer", "group": "pgbouncer", "fact": "pgbouncer_exporter_endpoint"},
    {"job": "pdfcompare", "group": "app", "fact": "app_endpoints"},
]
GROUPS = {"all": ["app1", "db1", "cache1"], "redis": ["cache1"], "postgresql": ["db1"],
          "pgbouncer": ["app1"], "app": ["app1"]}
HOSTVARS = {
    "app1": {"exporters_endpoints": {"node": {"address": "10.0.0.21", "port": 9100}},
             "pgbouncer_exporter_endpoint": {},
             "app_endpoints": [
                 {"name": "app1-8501", "address": "10.0.0.21", "port": 8501, "metrics_port": 9501},
                 {"name": "app1-8502", "address": "10.0.0.21", "port": 8502, "metrics_port": 9502}]},
    "db1": {"exporters_endpoints": {"node": {"address": "10.0.0.31", "port": 9100}},
            "postgresql_exporter_endpoint": {"address": "10.0.0.31", "port": 9187}},
    "cache1": {"exporters_endpoints": {"node": {"address": "fd00::41", "port": 9100},
                                       "redis": {"address": "fd00::41", "port": 9121}}},
}


def test_every_published_endpoint_becomes_a_target_named_after_its_host_or_instance():
    got = targets.prometheus_scrape_targets(JOBS, GROUPS, HOSTVARS)
    assert got["node"] == [
        {"targets": ["10.0.0.21:9100"], "labels": {"instance": "app1", "host": "app1"}},
        {"targets": ["10.0.0.31:9100"], "labels": {"instance": "db1", "host": "db1"}},
        {"targets": ["[fd00::41]:9100"], "labels": {"instance": "cache1", "host": "cache1"}},
    ]
    assert got["redis"] == [
        {"targets": ["[fd00::41]:9121"], "labels": {"instance": "cache1", "host": "cache1"}}]
    assert got["postgres"] == [{"targets": ["10.0.0.31:9187"], "labels": {"instance": "db1", "host": "db1"}}]
    assert [c["labels"]["instance"] for c in got["pdfcompare"]] == ["app1-8501", "app1-8502"]
    assert got["pdfcompare"][1]["targets"] == ["10.0.0.21:9502"]


def test_a_disabled_exporter_is_no_target_and_not_missing():
    got = targets.prometheus_scrape_targets(JOBS, GROUPS, HOSTVARS)
    assert "pgbouncer" not in got  # the release has no working exporter: it published {}
    assert targets.prometheus_missing_targets(JOBS, GROUPS, HOSTVARS) == []


def test_hosts_that_published_nothing_are_reported():
    hostvars = {**HOSTVARS, "db1": {}}
    assert targets.prometheus_missing_targets(JOBS, GROUPS, hostvars) == ["node: db1", "postgres: db1"]


def test_a_new_app_instance_is_a_new_target():
    more = HOSTVARS["app1"]["app_endpoints"] + [
        {"name": "app1-8503", "address": "10.0.0.21", "port": 8503, "metrics_port": 9503}]
    hostvars = {**HOSTVARS, "app1": {**HOSTVARS["app1"], "app_endpoints": more}}
    got = targets.prometheus_scrape_targets(JOBS, GROUPS, hostvars)
    assert [c["labels"]["instance"] for c in got["pdfcompare"]] == ["app1-8501", "app1-8502", "app1-8503"]
