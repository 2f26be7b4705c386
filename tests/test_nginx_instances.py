"""The nginx role's instance filter builds the upstream from the app hosts' app_endpoints and names
every problem (host and variable) before the role changes anything."""

import importlib.util
import sys

import pytest

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    "nginx_instances", ROOT / "roles" / "nginx" / "filter_plugins" / "nginx_instances.py"
)
nginx_instances = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = nginx_instances  # dataclasses look their module up there
_spec.loader.exec_module(nginx_instances)


def endpoints(short: str, address: str, ports=(8501, 8502)):
    return [{"name": f"{short}-{p}", "address": address, "port": p, "metrics_port": p + 1000} for p in ports]


HOSTVARS = {
    "app1": {"app_endpoints": endpoints("app1", "10.0.0.21")},
    "app2": {"app_endpoints": endpoints("app2", "10.0.0.22")},
}


def test_instances_in_inventory_order_with_servers():
    instances = nginx_instances.nginx_app_instances(["app1", "app2"], HOSTVARS)
    assert [i["name"] for i in instances] == ["app1-8501", "app1-8502", "app2-8501", "app2-8502"]
    assert instances[0] == {"host": "app1", "name": "app1-8501", "address": "10.0.0.21", "port": 8501,
                            "server": "10.0.0.21:8501"}
    assert nginx_instances.nginx_instance_problems(["app1", "app2"], HOSTVARS) == []


def test_ipv6_servers_are_bracketed_like_upstream_addr():
    hostvars = {"app1": {"app_endpoints": endpoints("app1", "fd00::21", ports=(8501,))}}
    assert nginx_instances.nginx_app_instances(["app1"], hostvars)[0]["server"] == "[fd00::21]:8501"


def test_string_ports_are_accepted():
    hostvars = {"app1": {"app_endpoints": [{"name": "a-1", "address": "10.0.0.1", "port": "8501"}]}}
    assert nginx_instances.nginx_app_instances(["app1"], hostvars)[0]["port"] == 8501


@pytest.mark.parametrize(
    ("hosts", "hostvars", "expected"),
    [
        ([], {}, "nginx_app_hosts is empty"),
        (["ghost"], {}, "host ghost of nginx_app_hosts is not in the inventory"),
        (["app1"], {"app1": {}}, "host app1: fact app_endpoints is not set"),
        (["app1"], {"app1": {"app_endpoints": []}}, "host app1: app_endpoints is empty"),
        (["app1"], {"app1": {"app_endpoints": "[]"}}, "host app1: app_endpoints is empty or not a list"),
        (["app1"], {"app1": {"app_endpoints": [{"name": "a-1", "address": "", "port": 8501}]}},
         "host app1: app_endpoints entry 1 has no address (set common_private_address for app1"),
        (["app1"], {"app1": {"app_endpoints": [{"name": "a-1", "address": "app1.example", "port": 8501}]}},
         "is not an IP address"),
        (["app1"], {"app1": {"app_endpoints": [{"name": "a 1", "address": "10.0.0.1", "port": 8501}]}},
         "name 'a 1' must be letters"),
        (["app1"], {"app1": {"app_endpoints": [{"name": "a-1", "address": "10.0.0.1", "port": 0}]}},
         "port 0 is not a TCP port"),
        (["app1"], {"app1": {"app_endpoints": [{"name": "a-1", "address": "10.0.0.1", "port": True}]}},
         "port True is not a TCP port"),
        (["app1", "app2"], {"app1": {"app_endpoints": endpoints("app1", "10.0.0.21")},
                            "app2": {"app_endpoints": endpoints("app1", "10.0.0.22")}},
         "instance name app1-8501 is published more than once (app_endpoints of app1, app2)"),
        (["app1", "app2"], {"app1": {"app_endpoints": endpoints("app1", "10.0.0.21")},
                            "app2": {"app_endpoints": endpoints("app2", "10.0.0.21")}},
         "address 10.0.0.21:8501 is published by more than one instance (app1 app1-8501, app2 app2-8501)"),
    ],
)
def test_problems_name_the_host_and_the_variable(hosts, hostvars, expected):
    problems = nginx_instances.nginx_instance_problems(hosts, hostvars)
    assert any(expected in p for p in problems), problems


def test_malformed_entries_are_left_out_of_the_upstream():
    hostvars = {"app1": {"app_endpoints": [{"name": "a-1", "address": "", "port": 8501},
                                           {"name": "a-2", "address": "10.0.0.1", "port": 8502}]}}
    assert [i["name"] for i in nginx_instances.nginx_app_instances(["app1"], hostvars)] == ["a-2"]
