"""Scenario `common`: what a host looks like after the role, checked from inside and outside."""

import textwrap

import pytest
import testinfra

testinfra_hosts = ["common-target"]
# Units whose journal is printed when a test fails (molecule/conftest.py).
journal_units = ["nftables", "systemd-timesyncd"]

TARGET = "172.31.10.10"
PROBE_SCRIPT = textwrap.dedent(
    """
    import socket, sys
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((sys.argv[1], int(sys.argv[2])))
        print("open")
    except ConnectionRefusedError:
        print("refused")
    except OSError as exc:
        print("error:" + type(exc).__name__)
    """
)


def connect_from(container: str, port: int) -> str:
    """Try a TCP connection from another container to the target: open / refused / error."""
    other = testinfra.get_host(f"docker://{container}")
    result = other.run("python3 -c %s %s %s", PROBE_SCRIPT, TARGET, str(port))
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def test_base_packages_installed(host):
    for name in ("nftables", "netbase", "systemd-timesyncd", "locales", "tzdata", "curl", "sudo"):
        assert host.package(name).is_installed, name


def test_apt_goes_through_the_proxy(host):
    conf = host.file("/etc/apt/apt.conf.d/01pdfcompare-proxy")
    assert conf.exists
    assert conf.contains('Acquire::http::Proxy "http://172.31.10.1:3142";')
    assert conf.contains('Acquire::Retries "3";')


def test_hostname(host):
    assert host.check_output("hostname") == "common-target"


def test_timezone_and_locale(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Paris"
    assert host.check_output("date +%Z") in {"CET", "CEST"}
    assert host.file("/etc/default/locale").contains("^LANG=en_US.UTF-8$")
    assert "en_US.utf8" in host.check_output("locale -a")


def test_timesync_configured(host):
    assert host.service("systemd-timesyncd").is_enabled
    conf = host.file("/etc/systemd/timesyncd.conf.d/pdfcompare.conf")
    assert conf.contains("^NTP=ntp1.example.internal ntp2.example.internal$")


def test_sysctl_profiles_of_the_hosts_groups(host):
    conf = host.file("/etc/sysctl.d/60-pdfcompare.conf")
    assert conf.mode == 0o644
    lines = {
        line.split("=")[0].strip(): line.split("=", 1)[1].strip()
        for line in conf.content_string.splitlines()
        if "=" in line and not line.startswith("#")
    }
    # postgresql + lb profiles and the extra key; nothing from the redis profile.
    assert lines["vm.swappiness"] == "1"
    assert lines["net.core.somaxconn"] == "8192"
    assert lines["vm.max_map_count"] == "262144"
    assert "vm.overcommit_memory" not in lines


def test_nftables_enabled_and_ruleset_loaded(host):
    assert host.service("nftables").is_enabled
    ruleset = host.check_output("nft list table inet pdfcompare")
    assert "policy drop" in ruleset
    assert 'tcp dport 22 accept comment "ssh"' in ruleset
    assert 'ip saddr 172.31.10.11 tcp dport 8080 accept comment "web-test"' in ruleset


def test_dropin_file_validated_and_private(host):
    dropin = host.file("/etc/nftables.d/common-web-test.nft")
    assert dropin.mode == 0o640
    assert host.run("nft -c -f /etc/nftables.d/common-web-test.nft").rc == 0


def test_listeners_are_up_locally(host):
    # The services run: whatever a remote probe sees below is the firewall's doing.
    assert host.socket("tcp://0.0.0.0:8080").is_listening
    assert host.socket("tcp://0.0.0.0:9090").is_listening
    assert host.socket("tcp://0.0.0.0:22").is_listening


@pytest.mark.parametrize("container", ["common-probe", "common-outsider"])
def test_ssh_reachable_from_anywhere(container):
    assert connect_from(container, 22) == "open"


def test_allowed_group_reaches_its_port():
    assert connect_from("common-probe", 8080) == "open"


def test_port_not_allowed_is_rejected():
    assert connect_from("common-probe", 9090) == "refused"


def test_host_outside_the_group_is_rejected():
    assert connect_from("common-outsider", 8080) == "refused"
