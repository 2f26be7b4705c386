"""The dashboards of role grafana (roles/grafana/files/dashboards/*.json): well formed, on the
provisioned datasource, and - against a real Prometheus - every query parses and every metric it
reads exists in the scraped data. The live check runs in scenario `monitoring`'s verify and, with
PDFCOMPARE_PROMETHEUS_URL=http://<prometheus>:9090, against any Prometheus (the full lab)."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = sorted((ROOT / "roles" / "grafana" / "files" / "dashboards").glob("*.json"))
DATASOURCE_UID = "pdfcompare-prometheus"
# Grafana's variables, replaced by plain values before a query goes to Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
_FUNCTIONS_AND_KEYWORDS = {
    "abs", "absent", "avg", "bool", "by", "ceil", "changes", "clamp_max", "clamp_min", "count",
    "delta", "deriv", "exp", "floor", "group_left", "group_right", "histogram_quantile", "idelta",
    "ignoring", "increase", "irate", "label_replace", "max", "min", "offset", "on", "or", "and",
    "unless", "predict_linear", "quantile", "rate", "resets", "round", "scalar", "sort",
    "sort_desc", "stddev", "sum", "time", "topk", "bottomk", "vector", "without", "avg_over_time",
    "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "inf", "nan",
}


@dataclass
class Query:
    dashboard: str
    panel: str
    expr: str
    metrics: list[str] = field(default_factory=list)


def metric_names(expr: str) -> list[str]:
    """The metric names a PromQL expression reads (label matchers, strings, grouping clauses and
    durations removed; functions and keywords are not metrics)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = []
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        follows = text[match.end():].lstrip()[:1]
        if word.lower() in _FUNCTIONS_AND_KEYWORDS or follows == "(":
            continue
        if re.fullmatch(r"[0-9.e+-]+", word):
            continue
        names.append(word)
    return sorted(set(names))


def dashboard_queries() -> list[Query]:
    queries = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                queries.append(Query(board["title"], panel["title"], expr, metric_names(expr)))
    return queries


def dashboard_jobs() -> dict[str, str]:
    """Dashboard title -> the Prometheus job whose metrics it shows (its tag "job:<job>")."""
    jobs = {}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        jobs[board["title"]] = next(t.split(":", 1)[1] for t in board["tags"] if t.startswith("job:"))
    return jobs


def for_prometheus(expr: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


@dataclass
class LiveReport:
    """What a Prometheus said about the dashboards' queries."""

    unparsable: list[str]
    missing: list[str]
    unchecked_jobs: list[str]
    by_metadata_only: list[str]


def check_against_prometheus(get) -> LiveReport:
    """``get(path_with_query) -> dict`` answers Prometheus's API. Every query is sent to
    /api/v1/query (a parse error answers 400 bad_data); every metric must be a series name or known
    from a target's metadata (counters with labels have no series before their first event). The
    metrics of dashboards whose job has no target in this Prometheus are listed as unchecked."""
    names = set(get("/api/v1/label/__name__/values")["data"])
    metadata = set(get("/api/v1/metadata")["data"])
    jobs_up = {t["labels"]["job"] for t in get("/api/v1/targets")["data"]["activeTargets"]}
    report = LiveReport([], [], [], [])
    jobs = dashboard_jobs()
    for job in sorted(set(jobs.values()) - jobs_up):
        report.unchecked_jobs.append(job)
    for query in dashboard_queries():
        answer = get("/api/v1/query?" + urllib.parse.urlencode({"query": for_prometheus(query.expr)}))
        if answer.get("status") != "success":
            report.unparsable.append(f"{query.dashboard} / {query.panel}: {answer.get('error')}")
        if jobs[query.dashboard] not in jobs_up:
            continue
        for metric in query.metrics:
            family = re.sub(r"_(bucket|sum|count|total)$", "", metric)
            if metric in names:
                continue
            if metric in metadata or family in metadata:
                report.by_metadata_only.append(metric)
                continue
            report.missing.append(f"{query.dashboard} / {query.panel}: {metric}")
    return report


def prometheus_getter(base_url: str):
    def get(path: str) -> dict:
        try:
            with urllib.request.urlopen(base_url.rstrip("/") + path, timeout=15) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.load(error)
    return get


# --- static checks ---------------------------------------------------------------------------------

def test_there_are_dashboards_for_every_tier():
    assert {json.loads(p.read_text())["uid"] for p in DASHBOARDS} == {
        "pdfcompare-hosts", "pdfcompare-postgresql", "pdfcompare-pgbouncer", "pdfcompare-nginx",
        "pdfcompare-redis", "pdfcompare-app"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_uses_the_provisioned_datasource(path: Path):
    board = json.loads(path.read_text())
    assert board["panels"], path.name
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID
            assert metric_names(target["expr"]), f"{panel['title']}: no metric in {target['expr']}"


def test_metric_names_are_read_from_expressions():
    assert metric_names('sum by (le) (rate(pdfcompare_compare_duration_seconds_bucket{a="b"}[5m]))') == [
        "pdfcompare_compare_duration_seconds_bucket"]
    assert metric_names("pg_replication_lag_seconds and on (instance) pg_replication_is_replica == 1") == [
        "pg_replication_is_replica", "pg_replication_lag_seconds"]
    assert metric_names('time() - x_seconds{unit=~"a.*"}') == ["x_seconds"]


@pytest.mark.skipif(not os.environ.get("PDFCOMPARE_PROMETHEUS_URL"),
                    reason="PDFCOMPARE_PROMETHEUS_URL not set")
def test_dashboards_against_a_live_prometheus():
    report = check_against_prometheus(prometheus_getter(os.environ["PDFCOMPARE_PROMETHEUS_URL"]))
    print(f"not checked (no target of these jobs): {report.unchecked_jobs}")
    assert report.unparsable == []
    assert report.missing == []


def test_the_app_dashboard_reads_metrics_the_app_exports():
    """Every metric of the App dashboard is one the app registers (its /metrics text, without a
    Prometheus): a renamed metric in app/pdfcompare/metrics.py fails here, not on a blank panel."""
    import pdfcompare.metrics  # noqa: F401  (registers the app's metrics)
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families
    from prometheus_client.registry import REGISTRY

    exported = {family.name for family in text_string_to_metric_families(generate_latest(REGISTRY).decode())}
    app_job = "pdfcompare"
    titles = [title for title, job in dashboard_jobs().items() if job == app_job]
    assert titles, f"no dashboard is tagged job:{app_job}"
    checked, missing = set(), []
    for query in dashboard_queries():
        if query.dashboard not in titles:
            continue
        for metric in query.metrics:
            checked.add(metric)
            family = re.sub(r"_(bucket|sum|count|total|created)$", "", metric)
            if metric not in exported and family not in exported:
                missing.append(f"{query.dashboard} / {query.panel}: {metric}")
    assert len(checked) >= 8, checked  # the App dashboard's eight panels each read at least one
    assert missing == []
