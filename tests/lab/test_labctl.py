"""The lab harness and the lab inventory."""

import ipaddress
import json
import subprocess
import sys
from pathlib import Path

from tests.lab import labctl

ROOT = Path(__file__).resolve().parents[2]
LABCTL = ROOT / "tests" / "lab" / "labctl.py"
GROUPS = {"lb", "app", "postgresql", "etcd", "pgbouncer", "redis", "ollama", "monitoring"}


def inventory() -> dict:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(labctl.DEFAULT_INVENTORY),
         "--list"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def test_recipe_hash_is_stable_and_differs_per_suite():
    assert labctl.recipe_hash("trixie") == labctl.recipe_hash("trixie")
    assert labctl.recipe_hash("trixie") != labctl.recipe_hash("bookworm")


def test_recipe_has_the_packages_roles_rely_on():
    for pkg in ("systemd", "systemd-sysv", "python3", "python3-apt", "sudo", "iproute2", "procps",
                "ca-certificates", "gnupg"):
        assert pkg in labctl.PACKAGES


def test_run_options_never_privileged():
    out = subprocess.run([sys.executable, str(LABCTL), "run-options"], check=True, capture_output=True,
                         text=True).stdout
    assert "--privileged" not in out
    assert out.strip().endswith("/lib/systemd/systemd")
    assert "--cgroupns=host" in out


def test_lab_inventory_has_eight_hosts_in_the_group_vocabulary():
    inv = inventory()
    hostvars = inv["_meta"]["hostvars"]
    assert sorted(hostvars) == ["app1", "app2", "cache1", "db1", "db2", "db3", "lb1", "mon1"]
    assert set(inv) >= GROUPS
    # The inventory names the members, not the leader: Patroni decides which one leads.
    assert sorted(inv["postgresql"]["hosts"]) == ["db1", "db2", "db3"]
    assert sorted(inv["etcd"]["hosts"]) == ["db1", "db2", "db3"]


def test_lab_addresses_are_unique_and_inside_the_subnet():
    hostvars = inventory()["_meta"]["hostvars"]
    subnet = ipaddress.ip_network(next(iter(hostvars.values()))["lab_subnet"])
    gateway = next(subnet.hosts())
    addresses = [ipaddress.ip_address(v["common_private_address"]) for v in hostvars.values()]
    assert len(set(addresses)) == len(addresses)
    assert all(a in subnet and a != gateway for a in addresses)
    assert all(v["ansible_connection"] == "community.docker.docker" for v in hostvars.values())


def test_up_refuses_an_inventory_without_lab_hosts(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n")
    res = subprocess.run([sys.executable, str(LABCTL), "status", "-i", str(inv)],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert "no host uses ansible_connection=community.docker.docker" in res.stderr
    assert "Traceback" not in res.stderr


def isolated_vault(tmp_path, monkeypatch):
    """Point labctl's secrets at a temporary folder (never the real lab vault)."""
    secrets_dir = tmp_path / ".secrets"
    monkeypatch.setattr(labctl, "SECRETS_DIR", secrets_dir)
    monkeypatch.setattr(labctl, "VAULT_PASSWORD_FILE", secrets_dir / "vault-password")
    monkeypatch.setattr(labctl, "VAULT_FILE", tmp_path / "group_vars" / "all" / "vault.yml")
    monkeypatch.setattr(labctl, "vault_args",
                        lambda: ["--vault-id", f"lab@{secrets_dir / 'vault-password'}"])


def test_secrets_are_random_encrypted_and_only_added(tmp_path, monkeypatch):
    isolated_vault(tmp_path, monkeypatch)
    labctl.ensure_secrets()
    raw = labctl.VAULT_FILE.read_text()
    assert raw.startswith("$ANSIBLE_VAULT;1.2;AES256;lab")
    assert oct(labctl.VAULT_FILE.stat().st_mode & 0o777) == "0o600"
    assert oct(labctl.VAULT_PASSWORD_FILE.stat().st_mode & 0o777) == "0o600"
    first = labctl.read_secrets()
    assert set(first) == set(labctl.SECRETS)
    assert all(len(v) >= 24 for v in first.values())
    assert len(set(first.values())) == len(first), "two secrets share a value"
    for value in first.values():
        assert value not in raw

    # A new secret in a later release is added; existing values are kept.
    monkeypatch.setattr(labctl, "SECRETS", [*labctl.SECRETS, "future_role_password"])
    labctl.ensure_secrets()
    second = labctl.read_secrets()
    assert {k: second[k] for k in first} == first
    assert len(second["future_role_password"]) >= 24


def test_the_vault_password_client_prints_the_lab_password():
    script = Path(labctl.__file__).with_name("vault-password")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == labctl.VAULT_PASSWORD_FILE.read_text().strip()


def test_vault_password_is_created_once_by_concurrent_callers(tmp_path, monkeypatch):
    """ansible-lint starts several Ansible processes that each run the password script."""
    isolated_vault(tmp_path, monkeypatch)
    env = dict(__import__("os").environ, PYTHONPATH=str(Path(labctl.__file__).parents[2]))
    code = ("import sys; from pathlib import Path; from tests.lab import labctl; "
            f"labctl.SECRETS_DIR = Path({str(tmp_path / '.secrets')!r}); "
            "labctl.VAULT_PASSWORD_FILE = labctl.SECRETS_DIR / 'vault-password'; "
            "print(labctl.vault_password())")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(8)]
    outputs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(outputs) == 1 and len(outputs.pop()) >= 32
    assert sorted(f.name for f in (tmp_path / ".secrets").iterdir()) == ["vault-password"]


def test_published_ports_stay_on_loopback():
    assert labctl.published_ports("lb1", {"lab_publish": ["8443:443", "127.0.0.1:8080:80"]}) == [
        "127.0.0.1:8443:443", "127.0.0.1:8080:80"]
    for bad in (["0.0.0.0:8443:443"], ["8443"], ["a:b:c"]):
        try:
            labctl.published_ports("lb1", {"lab_publish": bad})
        except labctl.LabError as exc:
            assert "lb1" in str(exc)
        else:
            raise AssertionError(f"{bad} accepted")


def test_lab_publishes_the_balancer_and_says_how_to_open_it():
    hostvars = inventory()["_meta"]["hostvars"]
    assert labctl.published_ports("lb1", hostvars["lb1"]) == ["127.0.0.1:8443:443", "127.0.0.1:8080:80"]
    text = labctl.access_text({"lb1": hostvars["lb1"]})
    assert "https://localhost:8443" in text
    assert "inventories/lab/.secrets/pki/ca.crt" in text
    # The CA that text names is where the lab inventory tells role pki to keep it.
    assert hostvars["lb1"]["pki_ca_dir"] == "{{ inventory_dir }}/.secrets/pki"
    assert labctl.VAULT_FILE.parents[2] / ".secrets" / "pki" == labctl.PKI_DIR
