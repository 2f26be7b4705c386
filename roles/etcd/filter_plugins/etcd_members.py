"""Membership helpers of role etcd: initial-cluster strings from the inventory or etcdctl's member list."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _host(address: str) -> str:
    """An address as it goes in a URL (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


def etcd_initial_cluster(hosts: list[str], hostvars: dict, peer_port: int) -> str:
    """`name=https://address:peer_port,...` for the inventory hosts, in order."""
    entries = []
    for host in hosts:
        address = hostvars.get(host, {}).get("common_private_address")
        if not address:
            raise AnsibleFilterError(f"etcd member {host} has no common_private_address")
        entries.append(f"{host}=https://{_host(str(address))}:{int(peer_port)}")
    return ",".join(entries)


def etcd_urls(hosts: list[str], hostvars: dict, port: int) -> list[str]:
    """`https://address:port` of every host (client URLs of the members), in order."""
    urls = []
    for host in hosts:
        address = hostvars.get(host, {}).get("common_private_address")
        if not address:
            raise AnsibleFilterError(f"etcd member {host} has no common_private_address")
        urls.append(f"https://{_host(str(address))}:{int(port)}")
    return urls


def etcd_joining_cluster(member_list: dict, name: str, peer_url: str, names: dict | None = None) -> str:
    """initial-cluster for a member joining a running cluster.

    `member_list` is `etcdctl member list -w json` after `etcdctl member add`: every started member
    with its name, and added but not yet started ones without a name, recognised by their peer URL
    (this host's, or one of `names`, peer URL -> inventory name). This host is appended when it is
    not listed yet (a dry run, before the add).
    """
    names = names or {}
    entries = []
    found = False
    for member in member_list.get("members", []):
        urls = member.get("peerURLs") or []
        if not urls:
            continue
        member_name = member.get("name") or ""
        if peer_url in urls:
            member_name, found = name, True
        elif not member_name:
            member_name = next((names[url] for url in urls if url in names), "")
            if not member_name:
                raise AnsibleFilterError(f"etcd member {urls[0]} is added but not started and not in the inventory: "
                                         "start it or `etcdctl member remove` it first")
        entries.append(f"{member_name}={urls[0]}")
    if not found:
        entries.append(f"{name}={peer_url}")
    return ",".join(entries)


def etcd_member_of(member_list: dict, peer_url: str) -> bool:
    """True when a member with this peer URL is in `etcdctl member list -w json`."""
    return any(peer_url in (member.get("peerURLs") or []) for member in member_list.get("members", []))


class FilterModule:
    def filters(self):
        return {
            "etcd_initial_cluster": etcd_initial_cluster,
            "etcd_urls": etcd_urls,
            "etcd_joining_cluster": etcd_joining_cluster,
            "etcd_member_of": etcd_member_of,
        }
