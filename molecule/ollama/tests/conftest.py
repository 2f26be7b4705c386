"""Fixtures of scenario `ollama`: the scenario's hosts and small helpers to probe them."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import testinfra

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

PREFIX = "ollama-"
ADDRESSES = {"ai1": "172.31.41.11", "app1": "172.31.41.21", "outsider": "172.31.41.90"}
PORT = 11434
URL = f"http://{ADDRESSES['ai1']}:{PORT}"
# Where prepare.yml builds the archive test double (tests/doubles/ollama_archive.py).
ARCHIVE_DIR = ROOT / ".cache" / "molecule-ollama"


def name(short: str) -> str:
    """Container / inventory name of a scenario host: name('ai1') -> 'ollama-ai1'."""
    return PREFIX + short


def node(short: str):
    return testinfra.get_host(f"docker://{name(short)}")


def http_json(short: str, url: str, body: dict | None = None):
    """GET (or POST ``body``) ``url`` from host ``short`` with Python's urllib; returns the JSON answer."""
    script = ("import json,sys,urllib.request\n"
              f"data = {json.dumps(json.dumps(body)) if body is not None else 'None'}\n"
              f"req = urllib.request.Request({url!r}, data=data.encode() if data else None,"
              " headers={'Content-Type': 'application/json'})\n"
              "print(urllib.request.urlopen(req, timeout=10).read().decode())")
    res = node(short).run(f"python3 -c {shlex.quote(script)}")
    assert res.rc == 0, res.stderr
    return json.loads(res.stdout)


def tcp(short: str, address: str, port: int) -> str:
    """From host ``short``: 'open', 'refused' or 'timeout' for a TCP connection."""
    script = ("import socket\ns=socket.socket();s.settimeout(5)\n"
              f"try:\n s.connect(('{address}',{port}));print('open')\n"
              "except ConnectionRefusedError: print('refused')\nexcept OSError: print('timeout')")
    return node(short).run(f"python3 -c {shlex.quote(script)}").stdout.strip()
