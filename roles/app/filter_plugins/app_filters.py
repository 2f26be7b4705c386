"""Filters of role `app`: instance ports, the published endpoints, EnvironmentFile values, which
running instances are older than the deployed code or configuration, and release names.

    __app_ports: "{{ app_base_port | app_instance_ports(app_instances) }}"
    app_endpoints: "{{ inventory_hostname_short | app_endpoints(address, base_port, instances, offset) }}"
    __app_port_problems: "{{ app_base_port | app_port_problems(app_instances, offset, reserved) }}"
    PDFCOMPARE_DATABASE_PASSWORD={{ postgresql_app_password | app_env_value }}
    __app_restart: "{{ systemctl_show.stdout | app_instances_to_restart(stamp) }}"

Every function is pure (no Ansible objects needed), so tests/test_role_app_inputs.py calls them
directly.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import quote

MAX_INSTANCES = 64
LOWEST_PORT = 1024
HIGHEST_PORT = 65535
UNIT_ID = re.compile(r"^pdf-compare@(\d+)\.service$")
# `systemctl show --timestamp=us+utc`: "Mon 2026-11-30 11:20:48.598281 UTC" (the day name may be
# localised, the rest is not).
TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}) UTC")
RUNNING_STATES = {"active", "activating", "reloading"}


@dataclass(frozen=True)
class Endpoint:
    """One Streamlit instance as the balancer and Prometheus see it."""

    name: str
    address: str
    port: int
    metrics_port: int | None


def _int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} must be a number, got {value!r}") from None


def app_instance_ports(base_port: object, instances: object) -> list[int]:
    """The instance ports: base_port, base_port + 1, ... (instances of them)."""
    base, count = _int(base_port, "app_base_port"), _int(instances, "app_instances")
    return [base + n for n in range(max(count, 0))]


def app_metrics_ports(base_port: object, instances: object, offset: object) -> list[int]:
    """The metrics ports (instance port + offset); [] when the offset is 0 (no metrics server)."""
    shift = _int(offset, "app_metrics_port_offset")
    if shift == 0:
        return []
    return [port + shift for port in app_instance_ports(base_port, instances)]


def app_endpoints(hostname_short: str, address: str, base_port: object, instances: object,
                  metrics_offset: object) -> list[dict]:
    """What the host publishes as `app_endpoints`: one dict per instance, in port order."""
    shift = _int(metrics_offset, "app_metrics_port_offset")
    return [
        asdict(Endpoint(name=f"{hostname_short}-{port}", address=str(address), port=port,
                        metrics_port=(port + shift) if shift else None))
        for port in app_instance_ports(base_port, instances)
    ]


def app_port_problems(base_port: object, instances: object, metrics_offset: object,
                      reserved: Mapping[str, object] | None = None) -> list[str]:
    """One sentence per problem with the instance and metrics ports; [] when they are usable.

    `reserved` maps other services' names to the ports they use on the host (PgBouncer's port
    from its published endpoint, app_reserved_ports)."""
    problems: list[str] = []
    try:
        base = _int(base_port, "app_base_port")
        count = _int(instances, "app_instances")
        shift = _int(metrics_offset, "app_metrics_port_offset")
    except ValueError as exc:
        return [str(exc)]
    if not 1 <= count <= MAX_INSTANCES:
        problems.append(f"app_instances must be 1 to {MAX_INSTANCES}, got {count}")
        count = max(1, min(count, MAX_INSTANCES))
    if not LOWEST_PORT <= base <= HIGHEST_PORT:
        return [*problems, f"app_base_port must be {LOWEST_PORT} to {HIGHEST_PORT}, got {base}"]
    ports = app_instance_ports(base, count)
    if ports[-1] > HIGHEST_PORT:
        problems.append(
            f"app_base_port {base} + app_instances {count} runs past port {HIGHEST_PORT} (last: {ports[-1]})")
    metrics = [port + shift for port in ports] if shift else []
    if shift < 0:
        problems.append(f"app_metrics_port_offset must be 0 (no metrics) or positive, got {shift}")
    elif metrics and (metrics[0] < LOWEST_PORT or metrics[-1] > HIGHEST_PORT):
        problems.append(
            f"app_metrics_port_offset {shift} puts the metrics ports at {metrics[0]}-{metrics[-1]}, "
            f"outside {LOWEST_PORT}-{HIGHEST_PORT}")
    both = sorted(set(ports) & set(metrics))
    if both:
        problems.append(
            f"app_metrics_port_offset {shift} is smaller than app_instances {count}: port(s) "
            f"{', '.join(map(str, both))} would be both an instance port and a metrics port")
    for name, value in (reserved or {}).items():
        try:
            port = _int(value, f"the port of {name}")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if port in ports:
            problems.append(
                f"instance port {port} (app_base_port {base}, app_instances {count}) is the port of {name}")
        if port in metrics:
            problems.append(
                f"metrics port {port} (instance port + app_metrics_port_offset {shift}) "
                f"is the port of {name}")
    return problems


def app_is_ip(value: object) -> bool:
    """True for an IPv4/IPv6 address or network (CIDR); host names are not addresses."""
    try:
        ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return False
    return True


def app_invalid_addresses(values: Iterable[object]) -> list[str]:
    """The entries that are not IP addresses or CIDRs."""
    return [str(value) for value in values or [] if not app_is_ip(value)]


def _env_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(item) for item in value)
    return str(value)


def _env_problem(text: str) -> str | None:
    if any(char in text for char in "\n\r\0"):
        return "a line break or NUL"
    if "'" in text and ('"' in text or "\\" in text):
        return "a single quote together with a double quote or a backslash"
    return None


def app_env_value(value: object) -> str:
    """A value for a `KEY=<value>` line that systemd's EnvironmentFile parser and the app's own
    reader (pdfcompare.settings.read_env_file: strips one pair of outer quotes, no escapes) both
    read as the same text:

    - plain (unquoted) when it has no backslash, no leading or trailing blank and does not start
      with a quote;
    - else in single quotes (literal for systemd) when it has no single quote;
    - else in double quotes when it has neither a double quote nor a backslash (systemd unescapes
      only after a backslash there).

    Lists are joined with commas, booleans written true/false, None as empty. A value that fits
    none of these (see app_env_problems) raises ValueError."""
    text = _env_text(value)
    problem = _env_problem(text)
    if problem:
        raise ValueError(f"an EnvironmentFile value cannot contain {problem}")
    if "\\" not in text and text == text.strip() and not text.startswith(("'", '"')):
        return text
    if "'" not in text:
        return f"'{text}'"
    return f'"{text}"'


def app_env_problems(settings: Mapping[str, object]) -> list[str]:
    """The names of the settings whose values cannot be written to the EnvironmentFile (never the
    values: they may be secrets), each with the reason."""
    return [f"{key} contains {problem}" for key, value in settings.items()
            if (problem := _env_problem(_env_text(value)))]


def app_redis_url(endpoint: Mapping | None) -> str:
    """The app's Redis URL from the redis role's published `redis_endpoint`
    ({address, port, tls, tls_port, username, key_prefix}): rediss:// on the TLS port when TLS is
    on, the user in the URL, no password (that is PDFCOMPARE_REDIS_PASSWORD). "" without one."""
    if not endpoint:
        return ""
    tls = bool(endpoint.get("tls")) and endpoint.get("tls_port") not in (None, "", 0)
    scheme, port = ("rediss", endpoint["tls_port"]) if tls else ("redis", endpoint["port"])
    address = str(endpoint["address"])
    host = f"[{address}]" if ":" in address else address
    user = endpoint.get("username") or ""
    userinfo = f"{quote(str(user), safe='')}@" if user else ""
    return f"{scheme}://{userinfo}{host}:{_int(port, 'redis_endpoint port')}"


def app_instances_to_restart(show_output: str, stamp: object) -> list[int]:
    """Ports of the running instances that started before `stamp` (epoch seconds: the newest
    modification time of the code, configuration and unit they run), from the output of
    `systemctl show --timestamp=us+utc -p Id,ActiveState,ActiveEnterTimestamp pdf-compare@P.service ...`.
    Stopped and failed instances are not listed (starting them picks up everything)."""
    limit = float(stamp)
    ports = []
    for unit in _show_blocks(show_output):
        match = UNIT_ID.match(unit.get("Id", ""))
        if not match or unit.get("ActiveState") not in RUNNING_STATES:
            continue
        found = TIMESTAMP.search(unit.get("ActiveEnterTimestamp", ""))
        started = (datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
                   .timestamp() if found else 0.0)
        if started < limit:
            ports.append(int(match.group(1)))
    return sorted(ports)


def _show_blocks(text: str) -> list[dict[str, str]]:
    blocks, current = [], {}
    for line in (text or "").splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    return blocks


def app_wheelhouse_tag(python_version: str, arch: str) -> str:
    """The wheelhouse subdirectory of a Python version and CPU architecture: cp313-x86_64."""
    major, minor = str(python_version).split(".")[:2]
    return f"cp{major}{minor}-{arch}"


def app_wheelhouse_targets(platforms: Iterable[str]) -> list[dict]:
    """Distinct (python version, architecture) pairs from "3.13.5 x86_64" lines, one per host."""
    seen: dict[tuple[str, str], dict] = {}
    for line in platforms:
        version, arch = str(line).split()
        seen.setdefault((version, arch), {"python_version": version, "arch": arch,
                                          "tag": app_wheelhouse_tag(version, arch)})
    return [seen[key] for key in sorted(seen)]


def app_release_id(version: str, *parts: object) -> str:
    """A release directory name: the app version and a digest of everything the venv is built
    from (wheel digest, lock digest, Python version, install source)."""
    digest = hashlib.sha256("\n".join(str(part) for part in parts).encode()).hexdigest()[:12]
    return f"{version}-{digest}"


class FilterModule:
    def filters(self):
        return {
            "app_instance_ports": app_instance_ports,
            "app_metrics_ports": app_metrics_ports,
            "app_endpoints": app_endpoints,
            "app_port_problems": app_port_problems,
            "app_env_value": app_env_value,
            "app_env_problems": app_env_problems,
            "app_is_ip": app_is_ip,
            "app_invalid_addresses": app_invalid_addresses,
            "app_redis_url": app_redis_url,
            "app_instances_to_restart": app_instances_to_restart,
            "app_wheelhouse_tag": app_wheelhouse_tag,
            "app_wheelhouse_targets": app_wheelhouse_targets,
            "app_release_id": app_release_id,
        }
