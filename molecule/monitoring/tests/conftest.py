"""Fixtures of scenario `monitoring`: the hosts, and Prometheus's and Alertmanager's APIs as seen
from the monitoring host (they listen on its private address only)."""

from __future__ import annotations

import base64
import json
import shlex
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import testinfra

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

PREFIX = "monitoring-"
ADDRESSES = {"mon1": "172.31.40.11", "cache1": "172.31.40.41"}
PROMETHEUS = f"http://{ADDRESSES['mon1']}:9090"
ALERTMANAGER = f"http://{ADDRESSES['mon1']}:9093"
GRAFANA = f"http://{ADDRESSES['mon1']}:3000"


def name(short: str) -> str:
    """Container / inventory name of a scenario host: name('mon1') -> 'monitoring-mon1'."""
    return PREFIX + short


def node(short: str):
    return testinfra.get_host(f"docker://{name(short)}")


def fetch(short: str, url: str, auth: tuple[str, str] | None = None,
          data: dict | None = None) -> tuple[int, str]:
    """GET (or POST a form) ``url`` from host ``short`` with urllib; (status, body)."""
    script = ("import base64,sys,urllib.request,urllib.error\n"
              f"req = urllib.request.Request({url!r}, data={urlencode(data).encode() if data else None!r})\n")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        script += f"req.add_header('Authorization', 'Basic {token}')\n"
    script += ("try:\n r = urllib.request.urlopen(req, timeout=15)\n"
               " print(r.status); print(r.read().decode())\n"
               "except urllib.error.HTTPError as e:\n print(e.code); print(e.read().decode())\n")
    res = node(short).run(f"python3 -c {shlex.quote(script)}")
    assert res.rc == 0, res.stderr
    status, _, body = res.stdout.partition("\n")
    return int(status), body


def prometheus_api(path: str, **params) -> dict:
    """A Prometheus API answer's `data` (fails the test unless status is success)."""
    url = f"{PROMETHEUS}/api/v1/{path}" + (f"?{urlencode(params)}" if params else "")
    status, body = fetch("mon1", url)
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", body[:500]
    return answer["data"]


def wait_for(predicate, timeout: float, what: str, pause: float = 2.0):
    """Until ``predicate()`` returns a truthy value (returned), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(pause)
