"""The app instances behind the balancer, read from the app hosts' published endpoints.

Each app host publishes the fact `app_endpoints` (role app, entry point `facts`): one entry per
Streamlit instance, ``{name: "app1-8501", address: "10.0.0.21", port: 8501, metrics_port: 9501}``.
The balancer needs them as one list, in a stable order (inventory order, then as published), and
it must refuse input that would produce a wrong upstream before anything is changed:

    __nginx_instances: "{{ nginx_app_hosts | nginx_app_instances(hostvars) }}"
    __nginx_instance_problems: "{{ nginx_app_hosts | nginx_instance_problems(hostvars) }}"

`nginx_instance_problems` returns one sentence per problem, naming the host and the variable;
`nginx_app_instances` returns only the well-formed instances (the role asserts that there are no
problems before it uses them).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HOW_TO_PUBLISH = (
    "run `include_role: {name: app, tasks_from: facts}` on the app hosts before the balancer's play, "
    "as playbooks/lb.yml does"
)


@dataclass(frozen=True)
class Instance:
    """One Streamlit instance as the balancer sees it."""

    host: str
    name: str
    address: str
    port: int

    @property
    def server(self) -> str:
        """``address:port`` as nginx writes it (IPv6 addresses in brackets, like $upstream_addr)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    def as_dict(self) -> dict:
        return {**asdict(self), "server": self.server}


def _published(hostvars: Mapping, host: str) -> tuple[object, str | None]:
    """The host's app_endpoints, or a problem sentence when it cannot be read."""
    if host not in hostvars:
        return None, f"host {host} of nginx_app_hosts is not in the inventory"
    try:
        host_vars = hostvars[host]
        if "app_endpoints" not in host_vars:
            return None, f"host {host}: fact app_endpoints is not set ({HOW_TO_PUBLISH})"
        return host_vars["app_endpoints"], None
    except Exception as exc:  # an undefined variable inside the host's values
        return None, f"host {host}: app_endpoints cannot be evaluated ({exc})"


def _valid_address(value: object) -> bool:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def _valid_port(value: object) -> bool:
    try:
        port = int(str(value))
    except ValueError:
        return False
    return 0 < port < 65536 and not isinstance(value, bool)


def _entry(host: str, number: int, endpoint: object) -> tuple[Instance | None, list[str]]:
    """One app_endpoints entry as an Instance, or the problems that keep it out of the upstream."""
    where = f"host {host}: app_endpoints entry {number}"
    if not isinstance(endpoint, Mapping):
        return None, [f"{where} is not a dict with name, address and port"]
    name, address, port = endpoint.get("name"), endpoint.get("address"), endpoint.get("port")
    found = []
    if not address:
        found.append(f"{where} has no address (set common_private_address for {host} in the inventory)")
    elif not _valid_address(address):
        found.append(f"{where}: address {address!r} is not an IP address (common_private_address)")
    if not name or not NAME_PATTERN.match(str(name)):
        found.append(f"{where}: name {name!r} must be letters, digits, '.', '_' or '-'")
    if not _valid_port(port):
        found.append(f"{where}: port {port!r} is not a TCP port")
    if found:
        return None, found
    return Instance(host=host, name=str(name), address=str(address), port=int(str(port))), []


def collect(hosts: Iterable[str], hostvars: Mapping) -> tuple[list[Instance], list[str]]:
    """Every well-formed instance of `hosts`, and one sentence per problem found."""
    hosts = list(hosts or [])
    instances: list[Instance] = []
    problems: list[str] = []
    if not hosts:
        problems.append(
            "nginx_app_hosts is empty (default: the hosts of group app): the balancer would have no upstream"
        )
    for host in hosts:
        endpoints, problem = _published(hostvars, host)
        if problem:
            problems.append(problem)
            continue
        if not isinstance(endpoints, list) or not endpoints:
            problems.append(f"host {host}: app_endpoints is empty or not a list (no app instance to balance)")
            continue
        for number, endpoint in enumerate(endpoints, start=1):
            instance, found = _entry(host, number, endpoint)
            problems.extend(found)
            if instance:
                instances.append(instance)
    problems.extend(_duplicates(instances))
    return instances, problems


def _duplicates(instances: list[Instance]) -> list[str]:
    problems = []
    by_name: dict[str, list[Instance]] = {}
    by_server: dict[str, list[Instance]] = {}
    for instance in instances:
        by_name.setdefault(instance.name, []).append(instance)
        by_server.setdefault(instance.server, []).append(instance)
    for name, same in by_name.items():
        if len(same) > 1:
            hosts = ", ".join(i.host for i in same)
            problems.append(f"instance name {name} is published more than once (app_endpoints of {hosts})")
    for server, same in by_server.items():
        if len(same) > 1:
            owners = ", ".join(f"{i.host} {i.name}" for i in same)
            problems.append(f"address {server} is published by more than one instance ({owners})")
    return problems


def nginx_app_instances(hosts: Iterable[str], hostvars: Mapping) -> list[dict]:
    """The well-formed instances as dicts: host, name, address, port, server."""
    instances, _ = collect(hosts, hostvars)
    return [instance.as_dict() for instance in instances]


def nginx_instance_problems(hosts: Iterable[str], hostvars: Mapping) -> list[str]:
    """One sentence per problem with the published endpoints; [] when the upstream can be built."""
    _, problems = collect(hosts, hostvars)
    return problems


class FilterModule:
    def filters(self):
        return {
            "nginx_app_instances": nginx_app_instances,
            "nginx_instance_problems": nginx_instance_problems,
        }
