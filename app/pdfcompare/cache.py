"""Redis, optional and never fatal: shared comparison results, workspace state, the per-user rate
limit, the storage's read-your-writes positions (LSNs) and progress of running comparisons.

Every method catches Redis' errors and returns the "no cache" answer (``None``, ``False``, an allowed
rate decision from the per-process fallback). A failure is counted
(``pdfcompare_redis_errors_total{operation}``), logged at most once a minute, and opens a circuit
breaker: for :data:`BREAKER_OPEN_S` seconds every call skips Redis, so a dead Redis costs one socket
timeout, not one per request. Without ``PDFCOMPARE_REDIS_URL`` the cache is simply off.

Keys live under ``pdfcompare:``; the values are small (compressed report JSON, JSON documents,
strings), each with a TTL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import secrets
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from . import metrics
from .logs import RateLimitedLogger
from .settings import Settings

__all__ = ["Cache", "RateDecision", "BREAKER_OPEN_S", "PREFIX", "WORKSPACE_TTL_S", "LSN_TTL_S",
           "PROGRESS_TTL_S", "PNG_TTL_S"]

log = logging.getLogger("pdfcompare.cache")

PREFIX = "pdfcompare:"
BREAKER_OPEN_S = 5.0
WORKSPACE_TTL_S = 30 * 24 * 3600
LSN_TTL_S = 300
PROGRESS_TTL_S = 3600
PNG_TTL_S = 24 * 3600
_WINDOW_S = 60

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RateDecision:
    """May the user start a comparison now? If not, ``retry_after_s`` says when."""

    allowed: bool
    retry_after_s: int = 0
    limit: int = 0
    """Comparisons per minute (0 = unlimited)."""


class Cache:
    """The instance's Redis client (thread-safe; one per process, built from the settings)."""

    def __init__(self, settings: Settings, client: redis.Redis | None = None) -> None:
        self.settings = settings
        self._client = client
        if client is None and settings.redis_url:
            self._client = redis.Redis.from_url(
                settings.redis_url,
                password=settings.redis_password or None,
                socket_timeout=settings.redis_timeout_s,
                socket_connect_timeout=settings.redis_timeout_s,
                retry=Retry(NoBackoff(), 0),  # the breaker handles failures; no hidden retries
                health_check_interval=30,
                client_name=f"pdfcompare/{settings.instance}",
            )
        self._open_until = 0.0
        self._warn = RateLimitedLogger(log, 60.0)
        self._lock = threading.Lock()
        self._local_windows: dict[str, list[float]] = {}

    # --- plumbing ------------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Redis is configured (it may still be down)."""
        return self._client is not None

    @property
    def available(self) -> bool:
        """Redis is configured and the breaker is closed (the last call did not fail recently)."""
        return self._client is not None and time.monotonic() >= self._open_until

    def _where(self) -> str:
        parts = urlsplit(self.settings.redis_url)
        return f"Redis at {parts.hostname or parts.path}" + (f":{parts.port}" if parts.port else "")

    def _call(self, operation: str, action: Callable[[redis.Redis], T], default: T) -> T:
        """Run ``action`` against Redis, or return ``default`` when Redis is off, skipped or failing."""
        client = self._client
        if client is None:
            return default
        if time.monotonic() < self._open_until:
            metrics.count_cache(operation, "error")
            return default
        try:
            return action(client)
        except (redis.RedisError, OSError) as exc:
            self._open_until = time.monotonic() + BREAKER_OPEN_S
            metrics.count_redis_error(operation)
            metrics.count_cache(operation, "error")
            self._warn.warning("redis", "%s failed (%s: %s); working without the cache for %g s",
                               self._where(), type(exc).__name__, exc, BREAKER_OPEN_S)
            return default

    def ping(self) -> str | None:
        """None when Redis answers, else one line saying what is wrong (for the health check; it
        ignores the breaker)."""
        if self._client is None:
            return "Redis is not configured (PDFCOMPARE_REDIS_URL is empty)"
        try:
            self._client.ping()
        except (redis.RedisError, OSError) as exc:
            return f"{self._where()}: {type(exc).__name__}: {str(exc).rstrip('.')}"
        self._open_until = 0.0
        return None

    def close(self) -> None:
        """Close the connections (the object stays usable: it reconnects on the next call)."""
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                self._client.close()

    # --- comparison results ------------------------------------------------------------------------

    @staticmethod
    def result_key(old_sha: str, new_sha: str, options_hash: str, engine_version: str) -> str:
        """Key of the report of comparing these two files with these options and engine version."""
        return f"{PREFIX}result:{engine_version}:{options_hash}:{old_sha}:{new_sha}"

    def get_result(self, key: str) -> str | None:
        """The cached report JSON, or None."""
        def action(client: redis.Redis) -> str | None:
            data = client.get(key)
            text = _inflate(data) if data is not None else None
            metrics.count_cache("result_get", "miss" if text is None else "hit")
            return text
        return self._call("result_get", action, None)

    def put_result(self, key: str, report_json: str) -> bool:
        """Cache a report for ``settings.cache_ttl_s``; False when it was not stored."""
        if self.settings.cache_ttl_s <= 0:
            return False
        data = zlib.compress(report_json.encode("utf-8"), 6)
        return self._call("result_put", lambda c: bool(c.set(key, data, ex=self.settings.cache_ttl_s)),
                          False)

    # --- rendered pages (PNG) ----------------------------------------------------------------------

    @staticmethod
    def png_key(comparison_id: int, side: str, page: int, dpi: int) -> str:
        """Key of a rendered page of a comparison."""
        return f"{PREFIX}png:{comparison_id}:{side}:{page}:{dpi}"

    def get_png(self, key: str) -> bytes | None:
        """A cached page image, or None."""
        def action(client: redis.Redis) -> bytes | None:
            data = client.get(key)
            metrics.count_cache("png_get", "miss" if data is None else "hit")
            return data
        return self._call("png_get", action, None)

    def put_png(self, key: str, png: bytes) -> bool:
        """Cache a page image for a day (or the result TTL when shorter)."""
        ttl = min(PNG_TTL_S, self.settings.cache_ttl_s) if self.settings.cache_ttl_s else 0
        if ttl <= 0:
            return False
        return self._call("png_put", lambda c: bool(c.set(key, png, ex=ttl)), False)

    # --- workspace state ---------------------------------------------------------------------------

    def save_workspace(self, user_id: str, state: dict[str, Any]) -> bool:
        """Remember a user's UI state (selected documents, options) for 30 days."""
        data = json.dumps(state, separators=(",", ":"), default=str)
        return self._call("workspace_save",
                          lambda c: bool(c.set(f"{PREFIX}workspace:{user_id}", data, ex=WORKSPACE_TTL_S)),
                          False)

    def load_workspace(self, user_id: str) -> dict[str, Any] | None:
        """The state saved by :meth:`save_workspace`, or None."""
        def action(client: redis.Redis) -> dict[str, Any] | None:
            value = _json(client.get(f"{PREFIX}workspace:{user_id}"))
            metrics.count_cache("workspace_load", "miss" if value is None else "hit")
            return value
        return self._call("workspace_load", action, None)

    # --- rate limit --------------------------------------------------------------------------------

    def allow_compare(self, user_id: str) -> RateDecision:
        """Count one comparison of ``user_id`` and say whether it may run now.

        A sliding window: at most ``rate_limit_per_minute`` comparisons started in any 60 seconds
        (no burst of twice the limit around a minute boundary), shared by every instance through a
        sorted set in Redis; refused attempts are not counted. Without Redis (off, down, or skipped
        by the breaker) each process keeps the same window on its own.
        """
        limit = self.settings.rate_limit_per_minute
        if limit <= 0:
            return RateDecision(True, 0, 0)
        now = time.time()
        key = f"{PREFIX}rate:{user_id}"
        member = f"{now:.6f}:{secrets.token_hex(4)}"

        def action(client: redis.Redis) -> tuple[bool, list[float]]:
            with client.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - _WINDOW_S)
                pipe.zadd(key, {member: now})
                pipe.zrange(key, 0, -1, withscores=True)
                pipe.expire(key, _WINDOW_S + 5)
                _, _, started, _ = pipe.execute()
            others = [score for name, score in started if _text(name) != member]
            if len(others) >= limit:  # refused: this attempt does not count
                client.zrem(key, member)
                return False, others
            return True, others

        decision = self._call("rate_limit", action, None)
        allowed, others = decision if decision is not None else self._local_window(user_id, now, limit)
        if not allowed:
            metrics.count_rate_limited()
            retry_after = max(1, math.ceil(min(others) + _WINDOW_S - now))
            return RateDecision(False, retry_after, limit)
        return RateDecision(True, 0, limit)

    def _local_window(self, user_id: str, now: float, limit: int) -> tuple[bool, list[float]]:
        """The per-process window: (allowed, the other start times of the last minute)."""
        with self._lock:
            others = [s for s in self._local_windows.get(user_id, []) if s > now - _WINDOW_S]
            allowed = len(others) < limit
            self._local_windows[user_id] = [*others, now] if allowed else others
            if len(self._local_windows) > 10_000:  # forget users without a recent start; bounded
                self._local_windows = {u: v for u, v in self._local_windows.items()
                                       if v and v[-1] > now - _WINDOW_S}
            return allowed, others

    # --- read-your-writes (the storage's LSN store) --------------------------------------------------

    def set_lsn(self, user_id: str, lsn: str) -> None:
        """Remember the WAL position of ``user_id``'s last write (5 minutes), for every instance."""
        self._call("lsn_set", lambda c: c.set(f"{PREFIX}lsn:{user_id}", lsn, ex=LSN_TTL_S), None)

    def get_lsn(self, user_id: str) -> str | None:
        """The WAL position recorded by :meth:`set_lsn`, or None."""
        def action(client: redis.Redis) -> str | None:
            value = client.get(f"{PREFIX}lsn:{user_id}")
            return None if value is None else value.decode("ascii")
        return self._call("lsn_get", action, None)

    # --- progress of running comparisons -----------------------------------------------------------

    def set_progress(self, comparison_id: int, progress: dict[str, Any]) -> None:
        """Publish the progress of a comparison (so another instance can show it)."""
        data = json.dumps(progress, separators=(",", ":"))
        self._call("progress_set",
                   lambda c: c.set(f"{PREFIX}progress:{comparison_id}", data, ex=PROGRESS_TTL_S), None)

    def get_progress(self, comparison_id: int) -> dict[str, Any] | None:
        """The last progress published for a comparison, or None."""
        def action(client: redis.Redis) -> dict[str, Any] | None:
            return _json(client.get(f"{PREFIX}progress:{comparison_id}"))
        return self._call("progress_get", action, None)


def _inflate(data: bytes) -> str | None:
    """A compressed report, or None when the stored value is not one (treated as a miss)."""
    try:
        return zlib.decompress(data).decode("utf-8")
    except (zlib.error, UnicodeDecodeError):
        log.warning("ignoring an unreadable cached result")
        return None


def _json(data: bytes | None) -> dict[str, Any] | None:
    """A stored JSON object, or None (missing or unreadable)."""
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes)."""
    return value.decode() if isinstance(value, bytes) else value
