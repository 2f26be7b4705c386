"""The Redis cache against a real redis-server: hits and misses, the rate limit, and a Redis that is
down, stopped mid-test or hanging (calls return fast, never raise, and are counted)."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pdfcompare import cache as cache_module
from pdfcompare.cache import Cache, RateDecision
from pdfcompare.settings import Settings
from prometheus_client import REGISTRY

from tests.service import servers


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture()
def redis_settings(redis_server: servers.RedisServer) -> Settings:
    return Settings(redis_url=redis_server.url, redis_password=redis_server.password, metrics_port_offset=0,
                    instance_name="cache-test", rate_limit_per_minute=3)


@pytest.fixture()
def cache(redis_settings: Settings) -> Iterator[Cache]:
    c = Cache(redis_settings)
    yield c
    c.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.monotonic_ns()}"


def test_results_miss_then_hit_and_are_stored_compressed(cache: Cache, redis_server) -> None:
    key = Cache.result_key("a" * 64, unique("b"), "opts", "0.1.0")
    misses = sample("pdfcompare_cache_requests_total", operation="result_get", result="miss")
    hits = sample("pdfcompare_cache_requests_total", operation="result_get", result="hit")
    assert cache.get_result(key) is None
    report = '{"schema": "pdfcompare.report/1", "changes": []}' * 50
    assert cache.put_result(key, report)
    assert cache.get_result(key) == report
    assert sample("pdfcompare_cache_requests_total", operation="result_get", result="miss") == misses + 1
    assert sample("pdfcompare_cache_requests_total", operation="result_get", result="hit") == hits + 1
    with redis_server.client(admin=True) as admin:
        raw = admin.get(key)
        ttl = admin.ttl(key)
    assert zlib.decompress(raw).decode() == report and len(raw) < len(report)
    assert 0 < ttl <= cache.settings.cache_ttl_s
    assert key.startswith("pdfcompare:result:0.1.0:opts:")


def test_workspace_lsn_progress_and_png_round_trip(cache: Cache) -> None:
    user = unique("user:alice")
    assert cache.load_workspace(user) is None
    assert cache.save_workspace(user, {"old": 1, "new": 2, "options": {"ocr": "off"}})
    assert cache.load_workspace(user) == {"old": 1, "new": 2, "options": {"ocr": "off"}}
    assert cache.get_lsn(user) is None
    cache.set_lsn(user, "0/16B3748")
    assert cache.get_lsn(user) == "0/16B3748"
    cache.set_progress(987654, {"stage": "pages", "done": 3, "total": 9})
    assert cache.get_progress(987654) == {"stage": "pages", "done": 3, "total": 9}
    key = Cache.png_key(987654, "new", 2, 100)
    assert cache.get_png(key) is None
    assert cache.put_png(key, b"\x89PNG...")
    assert cache.get_png(key) == b"\x89PNG..."
    assert cache.ping() is None


def test_the_rate_limit_is_a_sliding_window_per_user_shared_by_instances(redis_settings: Settings) -> None:
    one, two = Cache(redis_settings), Cache(redis_settings)  # two instances of the app
    user, other = unique("user:carol"), unique("user:dave")
    limited = sample("pdfcompare_rate_limited_total")
    decisions = [one.allow_compare(user), two.allow_compare(user), one.allow_compare(user),
                 two.allow_compare(user), one.allow_compare(user)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    # the oldest of the three starts leaves the window in (almost) a minute
    assert 55 <= decisions[-1].retry_after_s <= 60 and decisions[-1].limit == 3
    assert one.allow_compare(other).allowed
    assert sample("pdfcompare_rate_limited_total") == limited + 2
    # refused attempts are not counted: exactly the three allowed starts are in the window
    assert one._client.zcard(f"pdfcompare:rate:{user}") == 3
    assert Cache(Settings(rate_limit_per_minute=0)).allow_compare(user) == RateDecision(True, 0, 0)


def test_a_start_leaves_the_window_a_minute_later(redis_settings: Settings) -> None:
    cache, user = Cache(redis_settings), unique("user:hank")
    key = f"pdfcompare:rate:{user}"
    assert [cache.allow_compare(user).allowed for _ in range(4)] == [True, True, True, False]
    # age the oldest start to 61 s ago, as if a minute had passed since it
    oldest, _ = cache._client.zrange(key, 0, 0, withscores=True)[0]
    cache._client.zadd(key, {oldest: time.time() - 61})
    assert cache.allow_compare(user).allowed
    refused = cache.allow_compare(user)
    assert not refused.allowed and 1 <= refused.retry_after_s <= 60


def test_without_redis_the_rate_limit_counts_per_process() -> None:
    local = Cache(Settings(rate_limit_per_minute=2))
    assert not local.enabled
    decisions = [local.allow_compare("user:erin") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 55 <= decisions[-1].retry_after_s <= 60
    assert local.get_result("k") is None and not local.put_result("k", "{}")
    assert local.ping() == "Redis is not configured (PDFCOMPARE_REDIS_URL is empty)"


def closed_port() -> int:
    return servers.free_port()


def test_a_redis_that_is_down_costs_nothing_and_is_counted(caplog) -> None:
    settings = Settings(redis_url=f"redis://pdfcompare@127.0.0.1:{closed_port()}/0", rate_limit_per_minute=2)
    down = Cache(settings)
    errors = sample("pdfcompare_redis_errors_total", operation="result_get")
    skipped = sample("pdfcompare_cache_requests_total", operation="workspace_load", result="error")
    caplog.set_level(logging.WARNING, logger="pdfcompare.cache")
    started = time.monotonic()
    assert down.get_result("pdfcompare:result:x") is None
    for _ in range(50):
        assert down.load_workspace("user:frank") is None
        assert down.allow_compare("user:frank").allowed in (True, False)
        down.set_lsn("user:frank", "0/1")
        assert down.get_progress(1) is None
    assert time.monotonic() - started < 2.0
    assert sample("pdfcompare_redis_errors_total", operation="result_get") == errors + 1
    assert sample("pdfcompare_cache_requests_total", operation="workspace_load",
                  result="error") == skipped + 50
    assert not down.available
    warnings = [r for r in caplog.records if r.name == "pdfcompare.cache"]
    assert len(warnings) == 1, "a dead Redis is logged at most once a minute"
    assert "working without the cache" in warnings[0].getMessage()
    # the rate limit still works, per process
    assert [down.allow_compare("user:gina").allowed for _ in range(3)] == [True, True, False]
    assert "Connection" in (down.ping() or "")


@pytest.fixture()
def hanging_redis() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a Redis that hangs)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_hanging_redis_costs_one_timeout_then_the_breaker_skips_it(hanging_redis: int) -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{hanging_redis}/0", redis_timeout_s=0.3)
    hung = Cache(settings)
    started = time.monotonic()
    assert hung.get_result("pdfcompare:result:y") is None
    first = time.monotonic() - started
    assert 0.25 <= first < 2.0
    started = time.monotonic()
    for _ in range(20):
        assert hung.get_result("pdfcompare:result:y") is None
    assert time.monotonic() - started < 0.1, "the breaker should skip Redis after a failure"


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts redis-server on one port (again after it was stopped); stopped at the end."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        pytest.skip("redis-server is not installed")
    port = servers.free_port()
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path), "--loglevel", "warning"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        proc.port = port  # type: ignore[attr-defined]
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(5)


def test_redis_stopped_mid_test_then_back(private_redis, monkeypatch) -> None:
    monkeypatch.setattr(cache_module, "BREAKER_OPEN_S", 0.3)
    server = private_redis()
    live = Cache(Settings(redis_url=f"redis://127.0.0.1:{server.port}/0"))
    key = Cache.result_key("c" * 64, "d" * 64, "o", "v")
    assert live.put_result(key, '{"a": 1}')
    assert live.get_result(key) == '{"a": 1}'
    errors = sample("pdfcompare_redis_errors_total", operation="result_get")

    server.kill()
    server.wait(5)
    started = time.monotonic()
    assert live.get_result(key) is None  # the pooled connection is dead: one error, no exception
    assert live.put_result(key, "{}") is False
    assert time.monotonic() - started < 1.0
    assert sample("pdfcompare_redis_errors_total", operation="result_get") == errors + 1
    assert live.ping() is not None

    private_redis()  # the same port; an empty Redis (no persistence)
    time.sleep(0.35)  # the breaker closes
    assert live.put_result(key, '{"b": 2}')
    assert live.get_result(key) == '{"b": 2}'
    assert live.ping() is None and live.available
