"""Prometheus metrics of one instance (``prometheus-client``), served on their own port.

Every metric is named ``pdfcompare_<what>`` with Prometheus' unit and ``_total`` conventions. They
live in the process's default registry; :func:`start_metrics_server` serves it once per process on
``settings.metrics_address`` (or the instance's address) and ``settings.metrics_port``.

Work done in worker processes is counted in the server process when the job ends (a worker's own
registry dies with it): the jobs call the helpers below from their ``on_finished`` hook.

The helpers (``observe_comparison``, ``count_upload``, ...) are what the UI, the cache, the storage
and the jobs call; they never raise. Gauges that describe state owned elsewhere (Streamlit's active
sessions, the database pools) are read when Prometheus scrapes, through callbacks registered here.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from . import __version__
from .settings import Settings

__all__ = [
    "comparisons_total",
    "compare_duration_seconds",
    "pages_processed_total",
    "upload_bytes_total",
    "uploads_total",
    "errors_total",
    "active_sessions",
    "worker_queue_depth",
    "workers_busy",
    "db_read_fallbacks_total",
    "cache_requests_total",
    "redis_errors_total",
    "ollama_request_duration_seconds",
    "ollama_errors_total",
    "rate_limited_total",
    "build_info",
    "observe_comparison",
    "count_upload",
    "count_error",
    "count_pages",
    "count_cache",
    "count_redis_error",
    "count_db_read_fallback",
    "count_rate_limited",
    "observe_ollama",
    "count_ollama_error",
    "set_build_info",
    "start_forwarding",
    "take_forwarded",
    "replay",
    "register_db_pool_stats",
    "unregister_db_pool_stats",
    "start_metrics_server",
    "stop_metrics_server",
    "COMPARE_BUCKETS",
]

log = logging.getLogger("pdfcompare.metrics")

ComparisonResult = Literal["changed", "unchanged", "failed", "timeout", "cached"]
DocumentKind = Literal["text", "drawing", "scan", "mixed", "unknown"]

# Seconds; from a two-page letter (~0.1 s) to the hard limit's default (600 s).
COMPARE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
OLLAMA_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)

comparisons_total = Counter(
    "pdfcompare_comparisons_total", "Comparisons finished, by result and by kind of document",
    ["result", "kind"])
compare_duration_seconds = Histogram(
    "pdfcompare_compare_duration_seconds", "Wall-clock time of a comparison job (queue wait excluded)",
    buckets=COMPARE_BUCKETS)
pages_processed_total = Counter(
    "pdfcompare_pages_processed_total", "Pages read by comparisons (old + new) and by document ingestion")
upload_bytes_total = Counter("pdfcompare_upload_bytes_total", "Bytes of uploaded PDF files")
uploads_total = Counter("pdfcompare_uploads_total", "Uploaded PDF files")
errors_total = Counter("pdfcompare_errors_total", "Errors shown to users, by type", ["type"])
active_sessions = Gauge("pdfcompare_active_sessions", "Browser sessions connected to this instance")
worker_queue_depth = Gauge("pdfcompare_worker_queue_depth", "Jobs waiting for a worker process")
workers_busy = Gauge("pdfcompare_workers_busy", "Worker processes running a job")
db_read_fallbacks_total = Counter(
    "pdfcompare_db_read_fallbacks_total",
    "Reads sent to the primary instead of a replica (lag: the replica had not replayed the user's last "
    "write; unavailable: the read DSN failed)", ["reason"])
cache_requests_total = Counter(
    "pdfcompare_cache_requests_total", "Redis cache lookups and writes, by operation and result",
    ["operation", "result"])
redis_errors_total = Counter("pdfcompare_redis_errors_total", "Failed Redis calls, by operation",
                             ["operation"])
ollama_request_duration_seconds = Histogram(
    "pdfcompare_ollama_request_duration_seconds", "Duration of Ollama requests (a stream until its end)",
    ["operation"], buckets=OLLAMA_BUCKETS)
ollama_errors_total = Counter("pdfcompare_ollama_errors_total", "Failed Ollama requests, by operation",
                              ["operation"])
rate_limited_total = Counter("pdfcompare_rate_limited_total",
                             "Comparisons refused by the per-user rate limit")
build_info = Gauge("pdfcompare_build_info", "Version of this instance (always 1)",
                   ["version", "instance_name"])


# --- forwarding from worker processes ------------------------------------------------------------

Event = tuple[str, tuple[Any, ...], dict[str, Any]]
_forwarded: list[Event] | None = None


def start_forwarding() -> None:
    """In a worker process: record the helper calls below instead of counting them, so the server
    process can replay them (:func:`take_forwarded`, :func:`replay`); a worker's registry is lost when
    it exits."""
    global _forwarded
    _forwarded = []


def take_forwarded() -> list[Event]:
    """The calls recorded since :func:`start_forwarding` (and forget them)."""
    global _forwarded
    events, _forwarded = (_forwarded or []), ([] if _forwarded is not None else None)
    return events


def replay(events: Iterable[Event]) -> None:
    """Count, in this process, the helper calls a worker process recorded."""
    for name, args, kwargs in events:
        helper = _FORWARDABLE.get(name)
        if helper is not None:
            helper(*args, **kwargs)


_FORWARDABLE: dict[str, Callable[..., None]] = {}


def _forwardable(helper: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(helper)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        if _forwarded is not None:
            _forwarded.append((helper.__name__, args, kwargs))
            return
        helper(*args, **kwargs)

    _FORWARDABLE[helper.__name__] = helper
    return wrapper


def _safely(action: Callable[[], None]) -> None:
    """Metrics never break the caller."""
    try:
        action()
    except Exception:  # noqa: BLE001 - a metric is not worth a failed request
        log.debug("metric update failed", exc_info=True)


@_forwardable
def observe_comparison(result: ComparisonResult, kind: DocumentKind = "text", seconds: float | None = None,
                       pages: int = 0) -> None:
    """Count one finished comparison (``seconds`` = its run time, ``pages`` = old + new pages read)."""
    def action() -> None:
        comparisons_total.labels(result=result, kind=kind).inc()
        if seconds is not None:
            compare_duration_seconds.observe(seconds)
        if pages:
            pages_processed_total.inc(pages)
    _safely(action)


@_forwardable
def count_pages(pages: int) -> None:
    """Count pages read outside a comparison (document ingestion)."""
    _safely(lambda: pages_processed_total.inc(pages) if pages > 0 else None)


@_forwardable
def count_upload(size_bytes: int) -> None:
    """Count one uploaded file of ``size_bytes``."""
    def action() -> None:
        uploads_total.inc()
        upload_bytes_total.inc(max(size_bytes, 0))
    _safely(action)


@_forwardable
def count_error(error_type: str) -> None:
    """Count an error shown to a user (``error_type``: a short stable name, e.g. an exception class)."""
    _safely(lambda: errors_total.labels(type=error_type).inc())


@_forwardable
def count_cache(operation: str, result: Literal["hit", "miss", "error"]) -> None:
    """Count one cache request."""
    _safely(lambda: cache_requests_total.labels(operation=operation, result=result).inc())


@_forwardable
def count_redis_error(operation: str) -> None:
    """Count one failed Redis call."""
    _safely(lambda: redis_errors_total.labels(operation=operation).inc())


@_forwardable
def count_db_read_fallback(reason: Literal["lag", "unavailable"]) -> None:
    """Count one read that went to the primary instead of a replica."""
    _safely(lambda: db_read_fallbacks_total.labels(reason=reason).inc())


@_forwardable
def count_rate_limited() -> None:
    """Count one comparison refused by the rate limit."""
    _safely(rate_limited_total.inc)


@_forwardable
def observe_ollama(operation: str, seconds: float) -> None:
    """Record the duration of one Ollama request (``chat``, ``embed``, ``status``)."""
    _safely(lambda: ollama_request_duration_seconds.labels(operation=operation).observe(seconds))


@_forwardable
def count_ollama_error(operation: str) -> None:
    """Count one failed Ollama request."""
    _safely(lambda: ollama_errors_total.labels(operation=operation).inc())


def set_build_info(instance: str) -> None:
    """Publish this instance's version (a gauge of 1 with the version and instance name as labels)."""
    _safely(lambda: build_info.labels(version=__version__, instance_name=instance).set(1))


def _streamlit_sessions() -> float:
    """Sessions connected to this process's Streamlit runtime; 0 when there is none (tests, CLI)."""
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return 0.0
        manager = getattr(Runtime.instance(), "_session_mgr", None)
        return float(manager.num_active_sessions()) if manager is not None else 0.0
    except Exception:  # noqa: BLE001 - a scrape must not fail because Streamlit changed its internals
        return 0.0


active_sessions.set_function(_streamlit_sessions)


# --- database pools: read at scrape time ------------------------------------------------------------

PoolStatsSource = Callable[[], Mapping[str, Mapping[str, Any]]]
"""Returns ``{pool name: psycopg_pool stats}`` (``pool_size``, ``pool_available``, ``requests_waiting``,
``requests_num``, ``requests_wait_ms``, as ``ConnectionPool.get_stats()`` gives them)."""

_pool_sources: dict[int, PoolStatsSource] = {}
_pool_lock = threading.Lock()


def register_db_pool_stats(source: PoolStatsSource) -> int:
    """Have ``source`` (e.g. ``Database.pool_stats``) read at every scrape; returns a token for
    :func:`unregister_db_pool_stats`."""
    with _pool_lock:
        token = id(source)
        _pool_sources[token] = source
        return token


def unregister_db_pool_stats(token: int) -> None:
    """Stop reading a source registered with :func:`register_db_pool_stats`."""
    with _pool_lock:
        _pool_sources.pop(token, None)


class _DbPoolCollector(Collector):
    """``pdfcompare_db_pool_connections{pool,state}`` and ``pdfcompare_db_pool_wait_seconds``."""

    def collect(self) -> Iterable[Metric]:
        connections = GaugeMetricFamily(
            "pdfcompare_db_pool_connections",
            "Connections of the database pools: idle, used, and requests waiting for one",
            labels=["pool", "state"])
        wait = SummaryMetricFamily(
            "pdfcompare_db_pool_wait_seconds", "Time requests waited for a pool connection",
            labels=["pool"])
        with _pool_lock:
            sources = list(_pool_sources.values())
        for source in sources:
            try:
                stats = source()
            except Exception:  # noqa: BLE001 - a closed pool must not break the scrape
                continue
            for pool, values in stats.items():
                size = int(values.get("pool_size", 0))
                idle = int(values.get("pool_available", 0))
                connections.add_metric([pool, "idle"], idle)
                connections.add_metric([pool, "used"], max(size - idle, 0))
                connections.add_metric([pool, "waiting"], int(values.get("requests_waiting", 0)))
                wait.add_metric([pool], count_value=int(values.get("requests_num", 0)),
                                sum_value=float(values.get("requests_wait_ms", 0)) / 1000.0)
        yield connections
        yield wait

    def describe(self) -> Iterable[Metric]:
        return []


REGISTRY.register(_DbPoolCollector())


# --- the /metrics server ---------------------------------------------------------------------------

_server_lock = threading.Lock()
_server: Any = None
_server_port: int | None = None


def start_metrics_server(settings: Settings, port: int | None = None) -> int | None:
    """Serve /metrics for this process (once: later calls return the running server's port).

    Listens on ``settings.metrics_address`` (empty: ``settings.address``) and ``port`` (default:
    ``settings.metrics_port``; 0 picks a free port, for tests). Returns the port, or None when
    metrics are off (``PDFCOMPARE_METRICS_PORT_OFFSET=0``).
    """
    global _server, _server_port
    with _server_lock:
        if _server is not None:
            return _server_port
        port = settings.metrics_port if port is None else port
        if port is None:
            return None
        address = settings.metrics_address or settings.address
        server, _thread = start_http_server(port, addr=address)
        _server, _server_port = server, server.server_address[1]
        set_build_info(settings.instance)
        log.info("metrics on http://%s:%s/metrics", address, _server_port)
        return _server_port


def stop_metrics_server() -> None:
    """Stop the /metrics server of this process (if one runs)."""
    global _server, _server_port
    with _server_lock:
        if _server is None:
            return
        _server.shutdown()
        _server.server_close()
        _server, _server_port = None, None
