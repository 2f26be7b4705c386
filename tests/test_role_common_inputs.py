"""Role `common` refuses bad input before it touches a host (runs ansible-playbook on localhost,
stopping at the checks: nothing on this machine is changed)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_play(tmp_path: Path, play: str, inventory: str) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(textwrap.dedent(play))
    (tmp_path / "hosts.yml").write_text(textwrap.dedent(inventory))
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
         str(tmp_path / "play.yml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
             "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
             "ANSIBLE_FORCE_COLOR": "0", "HOME": str(tmp_path),
             "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )


INVENTORY = """
    all:
      hosts:
        localhost: {ansible_connection: local, common_private_address: 127.0.0.1}
        web1: {ansible_connection: local, common_private_address: web1.example.net}
      children:
        monitoring:
          hosts:
            web1:
    """

ALLOW = """
    - hosts: localhost
      gather_facts: false
      tasks:
        - ansible.builtin.include_role:
            name: common
            tasks_from: firewall_allow
          vars:
            common_firewall_rule: {rule}
    """


def test_source_host_without_an_ip_address_is_refused(tmp_path):
    res = run_play(tmp_path, ALLOW.format(rule="{name: web, ports: [80], groups: [monitoring]}"), INVENTORY)
    assert res.returncode != 0
    assert "Host web1 (a source of firewall rule web) needs common_private_address set to an IP" in res.stdout
    assert "web1.example.net" in res.stdout


def test_literal_source_that_is_a_name_is_refused(tmp_path):
    res = run_play(tmp_path, ALLOW.format(rule="{name: web, ports: [80], sources: [intranet.example.net]}"),
                   INVENTORY)
    assert res.returncode != 0
    assert "source intranet.example.net is not an IP address or CIDR" in res.stdout


def test_malformed_site_rule_is_refused_with_its_name(tmp_path):
    play = """
    - hosts: localhost
      gather_facts: false
      tasks:
        - ansible.builtin.include_role:
            name: common
            tasks_from: assert
          vars:
            common_firewall_allow:
              - {name: "Bad Name", ports: [80], groups: [monitoring]}
    """
    res = run_play(tmp_path, play, INVENTORY)
    assert res.returncode != 0
    assert "common_firewall_allow: rule Bad Name needs a name of" in res.stdout


def test_wrong_type_is_refused_by_the_argument_spec(tmp_path):
    play = """
    - hosts: localhost
      gather_facts: false
      roles:
        - role: common
          vars:
            common_firewall_ssh_port: twenty-two
    """
    res = run_play(tmp_path, play, INVENTORY)
    assert res.returncode != 0
    assert "common_firewall_ssh_port" in res.stdout
    assert "Validating arguments against arg spec" in res.stdout
