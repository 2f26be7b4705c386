"""Fixtures of scenario `web`.

The tests act from `web-client`, a host outside the site, as browsers do: through the balancer over
HTTPS, verified against the site CA, with the Streamlit protocol client of tests/streamlit_client.py
(a real websocket session running the app's script, real uploads). The client runs in a venv on
web-client built from the wheelhouse the app role made on the controller (no network needed).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

PREFIX = "web-"
BASE_URL = "https://web-lb1"
CA_ON_CLIENT = "/etc/ssl/molecule-web/ca.crt"
CLIENT_DIR = "/opt/browser"
CLIENT_PYTHON = f"{CLIENT_DIR}/venv/bin/python"
INSTANCES = {"web-app1-8501", "web-app1-8502", "web-app2-8501", "web-app2-8502"}
# Basic auth users of the scenario (molecule.yml); test credentials, not site secrets.
USERS = {"alice": "alice-test-password", "bob": "bob-test-password"}
# Seconds one client command may take (bounded: never hangs CI).
CLIENT_TIMEOUT = 240


def name(short: str) -> str:
    """Container / inventory name of a scenario host: name('lb1') -> 'web-lb1'."""
    return PREFIX + short


def node(short: str):
    return testinfra.get_host(f"docker://{name(short)}")


def instance_host(instance: str) -> tuple[str, int]:
    """'web-app2-8502' -> ('app2', 8502)."""
    host, _, port = instance.rpartition("-")
    return host.removeprefix(PREFIX), int(port)


def _docker(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=True)


@pytest.fixture(scope="session", autouse=True)
def client_ready() -> None:
    """A venv with Streamlit (for its protocol classes) and the protocol client on web-client; every
    test gets it, whichever runs first (a fresh client container has neither)."""
    client = node("client")
    if not client.file(CLIENT_PYTHON).exists:
        wheelhouse = ROOT / ".cache" / "app" / "wheelhouse"
        version = client.run("python3 -c 'import sys; print(*sys.version_info[:2], sep=\"\")'").stdout.strip()
        tag = f"cp{version}-x86_64"
        assert (wheelhouse / tag).is_dir(), f"no wheelhouse {wheelhouse / tag}: converge builds it"
        client.run(f"mkdir -p {CLIENT_DIR}")
        _docker("cp", str(wheelhouse / tag), f"{name('client')}:{CLIENT_DIR}/wheelhouse")
        res = client.run(f"python3 -m venv {CLIENT_DIR}/venv && {CLIENT_DIR}/venv/bin/pip install -q "
                         f"--no-index --find-links {CLIENT_DIR}/wheelhouse streamlit")
        assert res.rc == 0, res.stderr
    for script in ("streamlit_client.py",):
        _docker("cp", str(ROOT / "tests" / script), f"{name('client')}:{CLIENT_DIR}/{script}")
    _docker("cp", str(Path(__file__).parent / "browsers.py"), f"{name('client')}:{CLIENT_DIR}/browsers.py")


def run_on_client(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a shell command on web-client (bounded), returning the completed process."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    return subprocess.run(["docker", "exec", name("client"), "bash", "-c",
                           f"cd {CLIENT_DIR} && {exports} {command}"],
                          capture_output=True, text=True, timeout=CLIENT_TIMEOUT)


def browse(*args: str, user: str | None = "alice") -> dict:
    """One browser visit with the protocol client's command-line mode; returns its JSON report."""
    env = {"BROWSER_AUTH": f"{user}:{USERS[user]}"} if user else {}
    auth = ["--basic-auth-env", "BROWSER_AUTH"] if user else []
    cmd = " ".join(shlex.quote(a) for a in [CLIENT_PYTHON, "streamlit_client.py", BASE_URL, "--cafile",
                                           CA_ON_CLIENT, "--timeout", "60", *auth, *args])
    res = run_on_client(cmd, env)
    lines = [line for line in res.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report from the client (rc {res.returncode}): {res.stderr[-2000:]}"
    return json.loads(lines[-1])


def browsers(*args: str) -> dict:
    """Run browsers.py (several concurrent sessions) on web-client; returns its JSON report."""
    env = {f"BROWSER_AUTH_{u.upper()}": f"{u}:{p}" for u, p in USERS.items()}
    cmd = " ".join(shlex.quote(a) for a in [CLIENT_PYTHON, "browsers.py", BASE_URL, "--cafile", CA_ON_CLIENT,
                                           *args])
    res = run_on_client(cmd, env)
    assert res.returncode == 0, f"browsers.py failed: {res.stdout[-2000:]} {res.stderr[-2000:]}"
    return json.loads(res.stdout.splitlines()[-1])


ADDRESSES = {"lb1": "172.31.30.11", "app1": "172.31.30.21", "app2": "172.31.30.22",
             "cache1": "172.31.30.41", "db1": "172.31.30.31", "client": "172.31.30.90"}


def wait_healthy(short: str, port: int, timeout: float = 120) -> None:
    """Until the instance answers its health endpoint (from its own host)."""
    host = node(short)
    address = ADDRESSES[short]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.run(f"curl -fsS --max-time 3 http://{address}:{port}/_stcore/health").stdout.strip() == "ok":
            return
        time.sleep(1)
    raise AssertionError(f"{short}:{port} not healthy after {timeout:.0f} s")


MEASUREMENTS: dict[str, object] = {}


@pytest.fixture(scope="session")
def measurements() -> dict[str, object]:
    """Figures the tests measure; printed at the end and kept in .cache/measurements/."""
    return MEASUREMENTS


def pytest_terminal_summary(terminalreporter):
    if not MEASUREMENTS:
        return
    import os

    import yaml

    debian = os.environ.get("LAB_DEBIAN", "13")
    terminalreporter.section(f"web scenario measurements (Debian {debian})")
    for key, value in MEASUREMENTS.items():
        terminalreporter.write_line(f"{key}: {value}")
    out = ROOT / ".cache" / "measurements"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"web-debian{debian}.yml").write_text(yaml.safe_dump(MEASUREMENTS, sort_keys=False))
