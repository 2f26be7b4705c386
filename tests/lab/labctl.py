#!/usr/bin/env python3
"""Lab harness: real systemd hosts as Docker containers on one machine.

The lab and the Molecule scenarios run every role against containers that boot
``/lib/systemd/systemd`` as PID 1, so services, units, timers and firewalls
behave as they do on a VM. This tool prepares everything they need:

    labctl.py docker            make sure a Docker engine runs (installs docker.io when absent)
    labctl.py aptcache          make sure apt-cacher-ng runs on the host (port 3142)
    labctl.py images [-d 13 12] build pdfcompare-lab/debian:13 and :12 with debootstrap
    labctl.py prepare           all three above
    labctl.py up [-i INV]       create the inventory's hosts as systemd containers
    labctl.py down [-i INV]     remove them and their network
    labctl.py status [-i INV]   show what runs and where
    labctl.py secrets           create the lab's random secrets (ansible-vault file; adds missing ones)
    labctl.py run-options       print the container options (used by docs and tests)

Only the Python standard library is needed for docker/aptcache/images; ``up``,
``down`` and ``status`` read the inventory through ``ansible-inventory`` from the
project's venv (the Makefile takes care of that).

Images are rebuilt only when their recipe changes: the recipe's hash is stored
as the image label ``pdfcompare.recipe``.

Exit codes: 0 ok, 1 failure (one line on stderr says what and what to do).
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INVENTORY = ROOT / "inventories" / "lab" / "hosts.yml"
LABEL = "pdfcompare-lab"
IMAGE_REPO = "pdfcompare-lab/debian"
SUITES = {"13": "trixie", "12": "bookworm"}
APT_CACHE_PORT = 3142
MIRROR = "http://deb.debian.org/debian"

# Lab secrets: random values in an ansible-vault file next to the lab inventory (gitignored); the
# vault password lives in inventories/lab/.secrets/ and is read by tests/lab/vault-password, which
# ansible.cfg names as vault identity "lab". Real sites keep their own vault; nothing has a default.
SECRETS_DIR = ROOT / "inventories" / "lab" / ".secrets"
VAULT_PASSWORD_FILE = SECRETS_DIR / "vault-password"
VAULT_FILE = ROOT / "inventories" / "lab" / "group_vars" / "all" / "vault.yml"
VAULT_ID = "lab"
# The lab's certificate authority (role pki, pki_ca_dir in inventories/lab/group_vars/all/lab.yml).
PKI_DIR = SECRETS_DIR / "pki"
# Every secret variable the roles require (their argument_specs mark them required + no_log).
SECRETS = [
    "postgresql_app_password",
    "postgresql_replication_password",
    "pgbouncer_admin_password",
    "pgbouncer_stats_password",
    "pgbackrest_repo_cipher_pass",
    "redis_app_password",
    "redis_admin_password",
    "app_cookie_secret",
    "pki_ca_passphrase",
    "grafana_admin_password",
    "patroni_restapi_password",
]

# The container options known to work on these machines (``--privileged`` does
# not: a capability is missing from the bounding set). Molecule's shared config
# (.config/molecule/config.yml) uses the same list; a test keeps them in step.
RUN_OPTIONS = [
    "--cap-add", "SYS_ADMIN",
    "--cap-add", "NET_ADMIN",
    "--security-opt", "seccomp=unconfined",
    "--security-opt", "apparmor=unconfined",
    "--cgroupns=host",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs", "/run",
    "--tmpfs", "/run/lock",
]
COMMAND = "/lib/systemd/systemd"

# --- image recipe -----------------------------------------------------------
# Everything that shapes the image is in these constants; their hash decides
# whether an existing image is current.
RECIPE_VERSION = 5
PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "python3", "python3-apt", "sudo",
    "iproute2", "procps", "ca-certificates", "gnupg",
]
# Units that make no sense in a container (no consoles, no kernel mounts).
MASKED_UNITS = [
    "getty.target", "console-getty.service", "systemd-firstboot.service",
    "sys-kernel-config.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
    "dev-hugepages.mount", "systemd-remount-fs.service", "systemd-udevd.service",
    "systemd-udev-trigger.service", "systemd-modules-load.service",
]
POST_SCRIPT = r"""
set -eu
cat > /etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: {suite} {suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -f /etc/apt/sources.list
# The package mirror these machines reach serves snapshots whose Release files
# are past their Valid-Until date; a lab image has to accept them.
printf 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n' \
  > /etc/apt/apt.conf.d/99pdfcompare-lab
printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n' \
  > /etc/dpkg/dpkg.cfg.d/01pdfcompare-lab-nodoc
# Lab images only: dpkg skips its fsync calls (a crashed lab host is recreated, never repaired),
# which makes the roles' package installs much faster in containers; apt fetches no translations.
echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/02pdfcompare-lab-unsafe-io
echo 'Acquire::Languages "none";' > /etc/apt/apt.conf.d/98pdfcompare-lab-no-translations
for unit in {masked}; do ln -sf /dev/null "/etc/systemd/system/$unit"; done
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /var/tmp/* /var/lib/apt/periodic/*
# An empty package index must look stale, or `apt: update_cache, cache_valid_time` trusts it.
touch -d '2000-01-01' /var/lib/apt/lists
"""


def recipe_hash(suite: str) -> str:
    text = json.dumps(
        {"v": RECIPE_VERSION, "suite": suite, "pkgs": PACKAGES, "masked": MASKED_UNITS,
         "post": POST_SCRIPT, "variant": "minbase"},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- helpers ------------------------------------------------------------------
class LabError(Exception):
    """A failure the operator can act on; printed as one line."""


def log(msg: str) -> None:
    print(f"[lab] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, check: bool = True, capture: bool = False, **kw) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(cmd, text=True, capture_output=capture, **kw)
    except FileNotFoundError as exc:
        raise LabError(f"{cmd[0]} is not installed (run `make venv` for the Ansible tools)") from exc
    if check and res.returncode != 0:
        detail = (res.stderr or "").strip().splitlines()[-1:] if capture else []
        raise LabError(f"command failed ({res.returncode}): {' '.join(cmd)} {' '.join(detail)}")
    return res


def have_systemd() -> bool:
    return Path("/run/systemd/system").is_dir()


def apt_install(*pkgs: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"installing {' '.join(pkgs)} from Debian")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *pkgs], env=env)


def wait_for(predicate, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")


# --- docker engine ------------------------------------------------------------
def docker_ok() -> bool:
    return shutil.which("docker") is not None and run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], check=False, capture=True
    ).returncode == 0


def ensure_docker() -> None:
    if docker_ok():
        return
    if not Path("/usr/sbin/dockerd").exists():
        apt_install("docker.io")
    if docker_ok():
        return
    if have_systemd():
        run(["systemctl", "start", "docker"])
    else:
        log("starting dockerd (no systemd on this host; log: /var/log/pdfcompare-dockerd.log)")
        with open("/var/log/pdfcompare-dockerd.log", "ab") as out:
            subprocess.Popen(["/usr/sbin/dockerd"], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True)
    wait_for(docker_ok, "the Docker engine", 60)
    log("docker engine is running")


# --- apt cache ----------------------------------------------------------------
def aptcache_ok() -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", APT_CACHE_PORT)) == 0


ACNG_BACKEND = Path("/etc/apt-cacher-ng/backends_debian")
ACNG_BACKEND_TEXT = (
    "# Written by pdfcompare's tests/lab/labctl.py: the package's default backend\n"
    "# (ftp.debian.org) is not reachable from every network; deb.debian.org is.\n"
    f"{MIRROR}/\n"
)


def stop_aptcache() -> None:
    if have_systemd():
        run(["systemctl", "stop", "apt-cacher-ng"], check=False)
    else:
        run(["pkill", "-x", "apt-cacher-ng"], check=False)
        wait_for(lambda: not aptcache_ok(), "apt-cacher-ng to stop", 15)


def ensure_aptcache() -> None:
    if not Path("/usr/sbin/apt-cacher-ng").exists():
        apt_install("apt-cacher-ng")
    if not ACNG_BACKEND.exists() or ACNG_BACKEND.read_text() != ACNG_BACKEND_TEXT:
        ACNG_BACKEND.write_text(ACNG_BACKEND_TEXT)
        log(f"pointed apt-cacher-ng at {MIRROR} ({ACNG_BACKEND})")
        if aptcache_ok():
            stop_aptcache()
    if not aptcache_ok():
        if have_systemd():
            run(["systemctl", "start", "apt-cacher-ng"])
        else:
            rundir = Path("/run/apt-cacher-ng")
            rundir.mkdir(exist_ok=True)
            shutil.chown(rundir, "apt-cacher-ng", "apt-cacher-ng")
            log("starting apt-cacher-ng (no systemd on this host)")
            # The daemon must not inherit our stdout/stderr: a CI runner waits for them to close.
            run(["runuser", "-u", "apt-cacher-ng", "--", "/usr/sbin/apt-cacher-ng",
                 "-c", "/etc/apt-cacher-ng", "ForeGround=0",
                 f"pidfile={rundir}/pid", f"SocketPath={rundir}/socket",
                 "LogDir=/var/log/apt-cacher-ng"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(aptcache_ok, "apt-cacher-ng on port 3142", 30)
    log(f"apt cache listening on port {APT_CACHE_PORT} (cache: /var/cache/apt-cacher-ng)")


# --- images -------------------------------------------------------------------
def image_name(version: str) -> str:
    return f"{IMAGE_REPO}:{version}"


def image_recipe(version: str) -> str | None:
    res = run(["docker", "image", "inspect", "--format",
               '{{ index .Config.Labels "pdfcompare.recipe" }}', image_name(version)],
              check=False, capture=True)
    return res.stdout.strip() if res.returncode == 0 else None


def build_image(version: str, *, force: bool = False) -> None:
    suite = SUITES[version]
    want = recipe_hash(suite)
    if not force and image_recipe(version) == want:
        log(f"{image_name(version)} is current (recipe {want})")
        return
    if shutil.which("debootstrap") is None:
        apt_install("debootstrap")
    mirror = f"http://127.0.0.1:{APT_CACHE_PORT}/deb.debian.org/debian" if aptcache_ok() else MIRROR
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"pdfcompare-rootfs-{suite}-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {suite} (minbase) from {mirror} ...")
        res = run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                   suite, str(rootfs), mirror], check=False, capture=True)
        if res.returncode != 0:
            tail = (res.stdout + res.stderr).strip().splitlines()[-5:]
            raise LabError(f"debootstrap {suite} failed: {' | '.join(tail)}")
        script = POST_SCRIPT.replace("{suite}", suite).replace("{masked}", " ".join(MASKED_UNITS))
        run(["chroot", str(rootfs), "/bin/sh", "-c", script])
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        run(["docker", "import",
             "--change", f'CMD ["{COMMAND}"]',
             "--change", "ENV container=docker",
             "--change", f"LABEL pdfcompare.recipe={want} pdfcompare.suite={suite}",
             "-", image_name(version)], stdin=tar.stdout, capture=True)
        tar.wait()
    log(f"built {image_name(version)} in {time.monotonic() - started:.0f}s (recipe {want})")


# --- lab hosts ----------------------------------------------------------------
def venv_bin(name: str) -> str:
    for folder in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    return name


def vault_password() -> str:
    """The lab's vault password, created (random, mode 0600) on first use.

    Ansible may ask for it from several processes at once (ansible-lint does): the file is written
    under a temporary name and linked into place, so every caller reads the same complete value."""
    SECRETS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not VAULT_PASSWORD_FILE.exists():
        fd, tmp = tempfile.mkstemp(dir=SECRETS_DIR, prefix=".vault-password.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
            os.link(tmp, VAULT_PASSWORD_FILE)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return VAULT_PASSWORD_FILE.read_text().strip()


def vault_args() -> list[str]:
    return ["--vault-id", f"{VAULT_ID}@{ROOT / 'tests' / 'lab' / 'vault-password'}"]


def read_secrets() -> dict[str, str]:
    """The lab's secrets as a dict (decrypted with ansible-vault); {} when there is no vault yet."""
    if not VAULT_FILE.exists():
        return {}
    vault_password()
    res = run([venv_bin("ansible-vault"), "view", *vault_args(), str(VAULT_FILE)], capture=True)
    return _parse_simple_yaml(res.stdout)


def _parse_simple_yaml(text: str) -> dict[str, str]:
    """The vault holds `name: "value"` lines only (values are URL-safe tokens)."""
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith(("#", "---")):
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip().strip('"')
    return out


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def ensure_secrets() -> None:
    """Create the vault with a random value for every secret; add only the missing ones."""
    vault_password()
    current = read_secrets()
    missing = [name for name in SECRETS if name not in current]
    if not missing:
        log(f"lab secrets are complete ({_shown(VAULT_FILE)}, {len(current)} values)")
        return
    current.update({name: secrets.token_urlsafe(24) for name in missing})
    body = "---\n# Lab secrets, generated by tests/lab/labctl.py secrets. Never commit, never reuse.\n"
    body += "".join(f'{key}: "{value}"\n' for key, value in sorted(current.items()))
    VAULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=SECRETS_DIR, delete=False) as fh:
        fh.write(body)
        plain = Path(fh.name)
    try:
        run([venv_bin("ansible-vault"), "encrypt", *vault_args(), "--encrypt-vault-id", VAULT_ID,
             "--output", str(VAULT_FILE), str(plain)], capture=True)
    finally:
        plain.unlink()
    VAULT_FILE.chmod(0o600)
    log(f"lab secrets: added {', '.join(missing)} to {_shown(VAULT_FILE)} (ansible-vault)")


def read_inventory(path: Path) -> tuple[dict, dict[str, dict]]:
    res = run([venv_bin("ansible-inventory"), "-i", str(path), "--list"], capture=True,
              env=dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_WARNING="False"))
    data = json.loads(res.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    hosts = {h: v for h, v in hostvars.items() if v.get("ansible_connection") == "community.docker.docker"}
    if not hosts:
        raise LabError(f"{path}: no host uses ansible_connection=community.docker.docker; nothing to start")
    any_vars = next(iter(hosts.values()))
    net = {"name": any_vars.get("lab_network", "pdfcompare-lab"),
           "subnet": any_vars.get("lab_subnet", "172.30.0.0/24")}
    return net, hosts


def published_ports(host: str, hostvars: dict) -> list[str]:
    """The host's ``lab_publish`` entries (``[ADDRESS:]HOST_PORT:CONTAINER_PORT``), loopback only.

    The lab is reachable from the machine that runs it, never from its network: an entry without an
    address is published on 127.0.0.1."""
    specs = []
    for spec in hostvars.get("lab_publish", []) or []:
        parts = str(spec).split(":")
        if len(parts) == 2:
            parts = ["127.0.0.1", *parts]
        if len(parts) != 3 or not all(p.isdigit() for p in parts[1:]):
            raise LabError(f"{host}: lab_publish entry {spec!r} is not [ADDRESS:]HOST_PORT:CONTAINER_PORT")
        if not ipaddress.ip_address(parts[0]).is_loopback:
            raise LabError(f"{host}: lab_publish entry {spec!r} must use a loopback address")
        specs.append(":".join(parts))
    return specs


def current_publish(name: str) -> list[str]:
    res = run(["docker", "inspect", "--format", "{{json .HostConfig.PortBindings}}", name],
              check=False, capture=True)
    bindings = json.loads(res.stdout or "null") or {}
    return sorted(f"{b['HostIp'] or '0.0.0.0'}:{b['HostPort']}:{port.split('/')[0]}"
                  for port, items in bindings.items() for b in items or [])


def container_state(name: str) -> str | None:
    res = run(["docker", "inspect", "--format", "{{.State.Status}}", name], check=False, capture=True)
    return res.stdout.strip() if res.returncode == 0 else None


def ensure_network(net: dict) -> None:
    if run(["docker", "network", "inspect", net["name"]], check=False, capture=True).returncode == 0:
        return
    gateway = str(next(ipaddress.ip_network(net["subnet"]).hosts()))
    run(["docker", "network", "create", "--driver", "bridge", "--subnet", net["subnet"],
         "--gateway", gateway, "--label", LABEL, net["name"]], capture=True)
    log(f"created network {net['name']} ({net['subnet']}, gateway {gateway})")


def systemd_ready(name: str) -> bool:
    res = run(["docker", "exec", name, "systemctl", "is-system-running"], check=False, capture=True)
    return res.stdout.strip() in {"running", "degraded"}


def lab_up(inventory: Path) -> None:
    ensure_docker()
    net, hosts = read_inventory(inventory)
    ensure_network(net)
    default_version = os.environ.get("LAB_DEBIAN", "13")
    started = []
    for host, hv in sorted(hosts.items()):
        version = str(hv.get("lab_debian", default_version))
        if image_recipe(version) is None:
            raise LabError(f"image {image_name(version)} is missing: run `make lab-images` first")
        state = container_state(host)
        if state is not None:
            current = run(["docker", "inspect", "--format", "{{.Config.Image}}", host],
                          check=False, capture=True).stdout.strip()
            if current != image_name(version):
                log(f"warning: {host} runs {current}, not {image_name(version)}; "
                    "`make lab-down` first to switch releases")
            if current_publish(host) != sorted(published_ports(host, hv)):
                log(f"warning: {host} does not publish {published_ports(host, hv)} as the inventory "
                    "says (lab_publish); `make lab-down lab` recreates it")
        if state == "running":
            continue
        if state is not None:
            run(["docker", "start", host], capture=True)
        else:
            addr = hv.get("common_private_address")
            if not addr:
                raise LabError(f"{inventory}: host {host} has no common_private_address")
            publish = [arg for spec in published_ports(host, hv) for arg in ("-p", spec)]
            run(["docker", "run", "-d", "--name", host, "--hostname", host,
                 "--network", net["name"], "--ip", addr,
                 "--label", LABEL, "--label", f"{LABEL}.network={net['name']}",
                 *publish, *RUN_OPTIONS, image_name(version), COMMAND], capture=True)
        started.append(host)
    for host in started:
        wait_for(lambda h=host: systemd_ready(h), f"systemd in {host}", 90)
    log(f"{len(hosts)} lab hosts up ({len(started)} started now)")


def lab_down(inventory: Path) -> None:
    """Remove the inventory's lab hosts and network (other labs and scenarios are left alone)."""
    if not docker_ok():
        log("docker engine not running; nothing to remove")
        return
    net, _ = read_inventory(inventory)
    res = run(["docker", "ps", "-aq", "--filter", f"label={LABEL}.network={net['name']}"], capture=True)
    ids = res.stdout.split()
    if ids:
        run(["docker", "rm", "-f", *ids], capture=True)
    run(["docker", "network", "rm", net["name"]], check=False, capture=True)
    # Cached facts describe hosts that no longer exist (only this inventory's: others may be in use).
    facts = ROOT / ".cache" / "ansible-facts"
    for host in read_inventory(inventory)[1]:
        (facts / host).unlink(missing_ok=True)  # ansible.cfg's jsonfile cache: one file per host
    log(f"removed {len(ids)} lab containers and network {net['name']}")


def lab_status(inventory: Path) -> None:
    net, hosts = read_inventory(inventory)
    groups = json.loads(run([venv_bin("ansible-inventory"), "-i", str(inventory), "--list"],
                            capture=True).stdout)
    def members(group: str) -> set[str]:
        body = groups.get(group, {})
        found = set(body.get("hosts", []))
        for child in body.get("children", []):
            found |= members(child)
        return found

    member: dict[str, list[str]] = {h: [] for h in hosts}
    for group in groups:
        if group in {"_meta", "all", "ungrouped"}:
            continue
        for h in members(group):
            member.setdefault(h, []).append(group)
    print(f"network {net['name']} {net['subnet']}")
    print(f"{'host':8} {'address':14} {'state':10} {'image':24} groups")
    for host, hv in sorted(hosts.items()):
        state = container_state(host) or "absent"
        image = run(["docker", "inspect", "--format", "{{.Config.Image}}", host],
                    check=False, capture=True).stdout.strip() or "-"
        print(f"{host:8} {hv.get('common_private_address', '?'):14} {state:10} {image:24} "
              f"{','.join(sorted(member.get(host, [])))}")
    print(access_text(hosts))


def access_text(hosts: dict[str, dict]) -> str:
    """How a person on this machine opens the lab's app and trusts the lab's CA."""
    https = [(host, spec) for host, hv in sorted(hosts.items()) for spec in published_ports(host, hv)
             if spec.endswith(":443")]
    if not https:
        return "no host publishes HTTPS (lab_publish): the app is reachable only inside the lab network"
    host, spec = https[0]
    address, port, _ = spec.split(":")
    name = "localhost" if ipaddress.ip_address(address).is_loopback else address
    url = f"https://{name}:{port}"
    ca = _shown(PKI_DIR / "ca.crt")
    return "\n".join([
        "",
        f"The app: {url}  (through {host}'s nginx; the lab's CA signed its certificate)",
        f"The lab CA: {ca}" + ("" if (PKI_DIR / "ca.crt").exists() else " (made by the first deploy)"),
        f"  check from this machine:  curl --cacert {ca} {url}/health",
        f"  trust it on this machine: cp {ca} /usr/local/share/ca-certificates/pdfcompare-lab-ca.crt"
        " && update-ca-certificates",
        "  trust it in a browser:    import it as a certificate authority (Chromium: Settings > Privacy and"
        " security > Security > Manage certificates > Authorities; Firefox: Settings > Privacy & Security >"
        " View Certificates > Authorities > Import)",
        f"  from another machine:     ssh -L {port}:127.0.0.1:{port} <this machine>, then open {url}",
        *monitoring_lines(hosts),
    ])


# Container ports of the monitoring tier that lab_publish may put on this machine's loopback.
MONITORING_PORTS = {"9090": "Prometheus", "9093": "Alertmanager", "3000": "Grafana"}


def monitoring_lines(hosts: dict[str, dict]) -> list[str]:
    """Where a person on this machine opens Prometheus, Alertmanager and Grafana (lab_publish)."""
    lines = []
    for host, hv in sorted(hosts.items()):
        for spec in published_ports(host, hv):
            address, port, container_port = spec.split(":")
            if container_port in MONITORING_PORTS:
                name = "localhost" if ipaddress.ip_address(address).is_loopback else address
                lines.append(f"{MONITORING_PORTS[container_port] + ':':14} http://{name}:{port}  ({host})")
    if lines:
        lines = ["", "Monitoring (Grafana's user admin, password grafana_admin_password:"
                     " ansible-vault view inventories/lab/group_vars/all/vault.yml):", *lines]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("docker", help="ensure a running Docker engine")
    sub.add_parser("aptcache", help="ensure apt-cacher-ng on port 3142")
    for name in ("images", "prepare"):
        p = sub.add_parser(
            name, help="build base images" if name == "images" else "docker + aptcache + images"
        )
        p.add_argument("-d", "--debian", nargs="+", default=["13", "12"], choices=sorted(SUITES))
        p.add_argument("--force", action="store_true", help="rebuild even when the recipe is unchanged")
    for name in ("up", "down", "status"):
        p = sub.add_parser(name)
        p.add_argument("-i", "--inventory", type=Path, default=DEFAULT_INVENTORY)
    sub.add_parser("secrets", help="create the lab's random secrets (ansible-vault), adding missing ones")
    sub.add_parser("run-options", help="print the docker run options used for systemd containers")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "docker":
            ensure_docker()
        elif args.cmd == "aptcache":
            ensure_aptcache()
        elif args.cmd in ("images", "prepare"):
            if os.geteuid() != 0:
                raise LabError("building images needs root (debootstrap, chroot)")
            ensure_docker()
            if args.cmd == "prepare":
                ensure_aptcache()
            for version in args.debian:
                build_image(version, force=args.force)
        elif args.cmd == "up":
            lab_up(args.inventory)
        elif args.cmd == "down":
            lab_down(args.inventory)
        elif args.cmd == "status":
            lab_status(args.inventory)
        elif args.cmd == "secrets":
            ensure_secrets()
        elif args.cmd == "run-options":
            print(" ".join([*RUN_OPTIONS, COMMAND]))
    except LabError as exc:
        print(f"labctl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
