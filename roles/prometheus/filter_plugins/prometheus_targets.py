"""Scrape targets of role prometheus, built from the inventory and the facts other roles publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """One scrape target: the address Prometheus connects to and the labels it carries."""

    address: str
    instance: str
    host: str

    def static_config(self) -> dict[str, Any]:
        return {"targets": [self.address], "labels": {"instance": self.instance, "host": self.host}}


@dataclass
class Job:
    """A scrape job and the hosts of its group that published nothing for it."""

    name: str
    targets: list[Target] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _endpoints(job: dict[str, Any], host: str, hostvars: dict[str, Any]) -> list[Target] | None:
    """The targets a host publishes for ``job``; None when the fact is missing, [] when disabled."""
    facts = hostvars.get(host, {})
    published = facts.get(job["fact"])
    if published is None:
        return None
    if job["fact"] == "app_endpoints":
        return [Target(_host_port(str(e["address"]), int(e["metrics_port"])), str(e["name"]), host)
                for e in published if e.get("metrics_port")]
    if "key" in job:
        published = published.get(job["key"]) if isinstance(published, dict) else None
        if published is None:
            return []
    if not published or not published.get("port"):
        return []
    return [Target(_host_port(str(published["address"]), int(published["port"])), host, host)]


def _jobs(jobs: list[dict[str, Any]], groups: dict[str, list[str]], hostvars: dict[str, Any]) -> list[Job]:
    built = []
    for spec in jobs:
        job = Job(spec["job"])
        for host in groups.get(spec["group"], []):
            targets = _endpoints(spec, host, hostvars)
            if targets is None:
                job.missing.append(host)
            else:
                job.targets.extend(targets)
        built.append(job)
    return built


def prometheus_scrape_targets(jobs, groups, hostvars):
    """{job: [static_config, ...]} for every job with at least one target."""
    return {job.name: [t.static_config() for t in job.targets] for job in _jobs(jobs, groups, hostvars)
            if job.targets}


def prometheus_missing_targets(jobs, groups, hostvars):
    """["<job>: <host>", ...] for hosts of a job's group that published no endpoint fact."""
    return [f"{job.name}: {host}" for job in _jobs(jobs, groups, hostvars) for host in job.missing]


class FilterModule:
    def filters(self):
        return {"prometheus_scrape_targets": prometheus_scrape_targets,
                "prometheus_missing_targets": prometheus_missing_targets}
