"""The app instances, Redis and the firewall between the tiers."""

import json
import shlex

import pytest
from conftest import name, node

journal_units = ["pdf-compare@8501", "pdf-compare@8502", "redis-server"]
APP_HOSTS = ["app1", "app2"]
PORTS = [8501, 8502]


@pytest.mark.parametrize("short", APP_HOSTS)
def test_instances_run_hardened_under_their_target(short):
    host = node(short)
    assert host.service("pdf-compare.target").is_running
    for port in PORTS:
        unit = f"pdf-compare@{port}"
        assert host.service(unit).is_running and host.service(unit).is_enabled
        props = host.run(f"systemctl show {unit} -p User -p NoNewPrivileges -p ProtectSystem -p PrivateTmp "
                         "-p MemoryMax -p Restart").stdout
        for expected in ("User=pdfcompare", "NoNewPrivileges=yes", "ProtectSystem=strict",
                         "PrivateTmp=yes", "Restart=on-failure"):
            assert expected in props, props
        assert "MemoryMax=infinity" not in props


@pytest.mark.parametrize("short", APP_HOSTS)
def test_every_instance_is_healthy_with_database_and_redis(short):
    for port in PORTS:
        res = node(short).run(f"pdfcompare healthcheck --port {port} --json")
        assert res.rc == 0, res.stdout + res.stderr
        checks = {c["name"]: c["status"] for c in json.loads(res.stdout)["checks"]}
        assert checks["server"] == "ok" and checks["database"] == "ok" and checks["redis"] == "ok", checks


def test_configuration_file_is_private_to_the_app():
    config = node("app1").file("/etc/pdfcompare/pdfcompare.env")
    assert (config.user, config.group, config.mode) == ("root", "pdfcompare", 0o640)


def tcp(short: str, address: str, port: int) -> str:
    """From host `short`: 'open', 'refused' or 'timeout' for a TCP connection."""
    script = ("import socket,sys\ns=socket.socket();s.settimeout(5)\n"
              f"try:\n s.connect(('{address}',{port}));print('open')\n"
              "except ConnectionRefusedError: print('refused')\nexcept OSError: print('timeout')")
    return node(short).run(f"python3 -c {shlex.quote(script)}").stdout.strip()


def test_instances_are_reachable_from_the_balancer_only():
    assert tcp("lb1", "172.31.30.21", 8501) == "open"
    assert tcp("client", "172.31.30.21", 8501) == "refused"
    assert tcp("cache1", "172.31.30.22", 8502) == "refused"


def test_redis_refuses_unauthenticated_clients_and_serves_the_app_user():
    script = ("import redis\nr=redis.Redis(host='172.31.30.41',port=6379,socket_timeout=5)\n"
              "try:\n r.ping();print('open')\nexcept redis.AuthenticationError: print('auth-required')\n"
              "except redis.ResponseError as e: print('refused', e)")
    res = node("app1").run(f"/opt/pdfcompare/venv/bin/python -c {shlex.quote(script)}")
    assert res.stdout.strip() == "auth-required" or res.stdout.startswith("refused"), res.stdout + res.stderr
    assert "redis" in node("app1").run("pdfcompare healthcheck --port 8501").stdout


def test_redis_is_unreachable_from_the_balancer_and_outsiders():
    assert tcp("app1", "172.31.30.41", 6379) == "open"
    assert tcp("lb1", "172.31.30.41", 6379) == "refused"
    assert tcp("client", "172.31.30.41", 6379) == "refused"


def test_database_is_reached_through_pgbouncer_only():
    assert tcp("app1", "127.0.0.1", 6432) == "open"
    assert tcp("lb1", "172.31.30.31", 5432) == "refused"
    env = node("app1").run("grep -E '^PDFCOMPARE_DATABASE_(URL|READ_URLS)=' "
                           "/etc/pdfcompare/pdfcompare.env").stdout
    assert "@127.0.0.1:6432/pdfcompare" in env and "@127.0.0.1:6432/pdfcompare_ro" in env, env
    assert name("db1") not in env
