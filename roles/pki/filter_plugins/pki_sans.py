"""Subject alternative names of a host certificate, in the form community.crypto reports them."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError

PREFIXES = ("DNS", "IP", "URI", "email", "RID", "dirName", "otherName")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalize_san(entry: str) -> str:
    """One SAN as `TYPE:value`: DNS names lower-cased, IP addresses in their compressed form."""
    if not isinstance(entry, str) or ":" not in entry:
        raise AnsibleFilterError(f"subject alternative name {entry!r} is not of the form TYPE:value (DNS:, IP:, ...)")
    kind, value = entry.split(":", 1)
    if kind not in PREFIXES or not value:
        raise AnsibleFilterError(f"subject alternative name {entry!r}: type must be one of {', '.join(PREFIXES)}")
    if kind == "DNS":
        return f"DNS:{value.lower()}"
    if kind == "IP":
        try:
            return f"IP:{ipaddress.ip_address(value).compressed}"
        except ValueError as exc:
            raise AnsibleFilterError(f"subject alternative name {entry!r}: {exc}") from exc
    return f"{kind}:{value}"


def pki_normalize_sans(entries: list[str]) -> list[str]:
    """Normalised SANs, duplicates removed, order kept."""
    result: list[str] = []
    for entry in entries or []:
        name = normalize_san(entry)
        if name not in result:
            result.append(name)
    return result


def pki_host_sans(hostname: str, address: str | None, extra: list[str] | None = None) -> list[str]:
    """The SANs of a host: its name (and short name), its private address, then `extra`.

    An inventory name that is an IP address becomes an IP SAN and has no short name.
    """
    entries: list[str] = []
    if _is_ip(hostname):
        entries.append(f"IP:{hostname}")
    else:
        entries.append(f"DNS:{hostname}")
        entries.append(f"DNS:{hostname.split('.', 1)[0]}")
    if address:
        if not _is_ip(str(address)):
            raise AnsibleFilterError(f"common_private_address {address!r} of {hostname} is not an IP address")
        entries.append(f"IP:{address}")
    return pki_normalize_sans(entries + list(extra or []))


class FilterModule:
    def filters(self):
        return {"pki_host_sans": pki_host_sans, "pki_normalize_sans": pki_normalize_sans}
