"""The harness starts real systemd hosts: two containers (Debian 13 and 12) from a small inventory.

Needs the Docker engine and the base images (`make lab-prepare`; `make test` prepares them before
pytest and sets PDFCOMPARE_REQUIRE_LAB=1, so there this test runs or fails, never skips)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.lab import labctl

LABCTL = Path(labctl.__file__)
NETWORK = "pdfcompare-labtest"
HOSTS = {"labtest13": ("172.31.99.11", "13"), "labtest12": ("172.31.99.12", "12")}


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


def labctl_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LABCTL), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture()
def inventory(tmp_path):
    ready = labctl.docker_ok() and all(labctl.image_recipe(v) for v in ("13", "12"))
    if not ready:
        if os.environ.get("PDFCOMPARE_REQUIRE_LAB") == "1":
            pytest.fail("Docker engine or base images missing although PDFCOMPARE_REQUIRE_LAB=1")
        pytest.skip("needs the Docker engine and base images: run `make lab-prepare`")
    path = tmp_path / "hosts.yml"
    path.write_text(textwrap.dedent(f"""
        all:
          vars:
            ansible_connection: community.docker.docker
            lab_network: {NETWORK}
            lab_subnet: 172.31.99.0/24
          hosts:
            labtest13: {{common_private_address: 172.31.99.11, lab_debian: 13}}
            labtest12: {{common_private_address: 172.31.99.12, lab_debian: 12}}
          children:
            app:
              hosts:
                labtest13:
        """))
    bystander = docker("run", "-d", "--name", "labtest-bystander", "--label", labctl.LABEL,
                       "--label", f"{labctl.LABEL}.network=some-other-lab", "pdfcompare-lab/debian:13",
                       "sleep", "600")
    assert bystander.returncode == 0, bystander.stderr
    yield path
    labctl_run("down", "-i", str(path))
    docker("rm", "-f", "labtest-bystander")


def test_up_status_down(inventory):
    up = labctl_run("up", "-i", str(inventory))
    assert up.returncode == 0, up.stderr
    assert "2 lab hosts up (2 started now)" in up.stderr

    for host, (address, release) in HOSTS.items():
        state = docker("exec", host, "systemctl", "is-system-running").stdout.strip()
        assert state in {"running", "degraded"}, f"{host}: systemd is {state}"
        ip = docker("inspect", "--format",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", host).stdout.strip()
        assert ip == address
        assert docker("exec", host, "hostname").stdout.strip() == host
        version = docker("exec", host, "cat", "/etc/debian_version").stdout.strip()
        assert version.startswith(release) or (release == "13" and version.startswith("trixie"))

    again = labctl_run("up", "-i", str(inventory))
    assert again.returncode == 0 and "(0 started now)" in again.stderr

    status = labctl_run("status", "-i", str(inventory))
    assert status.returncode == 0, status.stderr
    line = next(row for row in status.stdout.splitlines() if row.startswith("labtest13"))
    assert "172.31.99.11" in line and "running" in line and "app" in line

    down = labctl_run("down", "-i", str(inventory))
    assert down.returncode == 0, down.stderr
    assert "removed 2 lab containers" in down.stderr
    for host in HOSTS:
        assert docker("inspect", host).returncode != 0, f"{host} still exists"
    assert docker("network", "inspect", NETWORK).returncode != 0
    assert docker("inspect", "labtest-bystander").returncode == 0, "down removed another lab's container"
