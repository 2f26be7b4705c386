"""/metrics over HTTP from the server started by ``Services.start()``: after an upload, an ingest and a
comparison in a worker process, the listed metrics move."""

from __future__ import annotations

import urllib.request

from pdfcompare import __version__, metrics
from pdfcompare.jobs import ENGINE_VERSION, IngestDocument, RenderPage, RunComparison, normalize_options
from pdfcompare.service import Services
from pdfcompare.workers import PRELOAD
from prometheus_client.parser import text_string_to_metric_families

from tests.engine.pdfgen import paragraph, text_pdf
from tests.service import servers


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode()
    values = {}
    for family in text_string_to_metric_families(text):
        values[("family", (("family", family.name),))] = 1.0
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return values


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_comparison_moves_the_metrics(make_settings, make_user) -> None:
    port = servers.free_port()
    settings = make_settings(port=port - 1, metrics_port_offset=1, metrics_address="127.0.0.1", workers=1,
                             instance_name="metrics-test")
    services = Services.create(settings)
    services.workers.preload = [*PRELOAD, "pytest"]
    services.start()
    try:
        assert services.metrics_port == port
        before = scrape(port)
        user = make_user("metrics")
        storage = services.storage
        old_pdf = text_pdf([[paragraph(300 + k) for k in range(3)]] * 2)
        new_pdf = text_pdf([[paragraph(300), "A sentence that is new in this version.", paragraph(302)]] * 2)
        ids = []
        for name, data in (("old.pdf", old_pdf), ("new.pdf", new_pdf)):
            metrics.count_upload(len(data))
            document = storage.add_document(user, name, data)
            services.workers.submit(IngestDocument(user.id, document.id)).result(timeout=60)
            ids.append(document.id)
        assert services.cache.allow_compare(user.id).allowed
        record = storage.create_comparison(user, ids[0], ids[1], normalize_options(), ENGINE_VERSION)
        result = services.workers.submit(RunComparison(user.id, record.id)).result(timeout=120)
        assert result.changed and not result.cached
        assert RenderPage(user.id, record.id, "new", 1).cached(services.cache) is None
        after = scrape(port)
    finally:
        services.close()

    def moved(name: str, by: float | None = None, **labels: str) -> None:
        delta = value(after, name, **labels) - value(before, name, **labels)
        assert (delta == by) if by is not None else delta > 0, (name, labels, delta)

    moved("pdfcompare_comparisons_total", 1, result="changed", kind="text")
    moved("pdfcompare_compare_duration_seconds_count", 1)
    moved("pdfcompare_compare_duration_seconds_sum")
    moved("pdfcompare_pages_processed_total", 4 + 4)  # ingest 2 + 2 pages, compare 2 + 2 pages
    moved("pdfcompare_uploads_total", 2)
    moved("pdfcompare_upload_bytes_total", len(old_pdf) + len(new_pdf))
    # counted in the worker process, forwarded to this one
    moved("pdfcompare_cache_requests_total", 1, operation="result_get", result="miss")
    moved("pdfcompare_cache_requests_total", 1, operation="png_get", result="miss")
    assert value(after, "pdfcompare_build_info", version=__version__, instance_name="metrics-test") == 1
    assert ("pdfcompare_workers_busy", ()) in after and ("pdfcompare_worker_queue_depth", ()) in after
    assert value(after, "pdfcompare_active_sessions") == 0  # no Streamlit runtime in tests
    pool_states = {dict(labels)["state"] for (name, labels) in after
                   if name == "pdfcompare_db_pool_connections"}
    assert pool_states == {"idle", "used", "waiting"}
    assert value(after, "pdfcompare_db_pool_wait_seconds_count", pool="write") > 0
    # the other listed metrics are served too (labelled ones get samples once something happens)
    for name in ("pdfcompare_rate_limited", "pdfcompare_errors", "pdfcompare_redis_errors",
                 "pdfcompare_db_read_fallbacks", "pdfcompare_ollama_request_duration_seconds",
                 "pdfcompare_ollama_errors", "pdfcompare_cache_requests", "pdfcompare_comparisons"):
        assert value(after, "family", family=name) == 1, name
    assert services.metrics_port is None  # closed with the services


def test_the_metrics_server_is_off_when_the_offset_is_zero(make_settings) -> None:
    assert metrics.start_metrics_server(make_settings(metrics_port_offset=0)) is None


def test_helpers_called_in_a_worker_are_replayed_in_the_server() -> None:
    metrics.start_forwarding()
    try:
        metrics.count_error("ForwardedError")
        metrics.count_cache("forward_op", result="hit")
        events = metrics.take_forwarded()
    finally:
        metrics._forwarded = None
    assert [e[0] for e in events] == ["count_error", "count_cache"]
    from prometheus_client import REGISTRY

    before = REGISTRY.get_sample_value("pdfcompare_errors_total", {"type": "ForwardedError"}) or 0.0
    metrics.replay(events)
    assert REGISTRY.get_sample_value("pdfcompare_errors_total", {"type": "ForwardedError"}) == before + 1
    assert REGISTRY.get_sample_value("pdfcompare_cache_requests_total",
                                     {"operation": "forward_op", "result": "hit"}) >= 1
