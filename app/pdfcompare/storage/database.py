"""Connection pools, the read/write split, read-your-writes and the per-transaction identity.

Every connection works through PgBouncer in transaction mode: nothing outlives a transaction (no
``SET``, no session advisory lock, no ``LISTEN``, no temporary table), server-side prepared
statements are off unless ``settings.database_prepared_statements``, and connections are in
autocommit mode with explicit ``BEGIN``/``COMMIT`` blocks, so no statement can leave a transaction
(and a server connection) open by accident.

Identity: each transaction starts with
``SELECT set_config('pdfcompare.user', <owner id>, true), set_config('pdfcompare.admin', 'on'|'off',
true)``; the tables' Row-Level Security policies read those settings, which vanish at COMMIT.

Read-your-writes: after a write commits, the primary's WAL insert position is recorded for the user
(in process memory and in the optional shared :class:`LsnStore`, e.g. Redis, so that another instance
sees it). A read on a replica that has not replayed up to that position waits up to
``settings.replica_max_lag_wait_s`` and otherwise runs on the primary. An unreachable or failing
read DSN also sends reads to the primary (that DSN is skipped for a while). Such fallbacks are
never user-visible errors; they are counted (:attr:`Database.read_fallbacks`, and the optional
``on_read_fallback`` callback for metrics) and logged at most once a minute per reason.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import psycopg
from psycopg import conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from ..settings import Settings
from .errors import StorageUnavailableError

__all__ = [
    "Database",
    "LsnStore",
    "MemoryLsnStore",
    "UserLike",
    "Who",
    "identity_of",
    "parse_lsn",
    "probe",
    "connection_kwargs",
]

log = logging.getLogger("pdfcompare.storage")

T = TypeVar("T")
FallbackReason = Literal["lag", "unavailable"]

STATEMENT_TIMEOUT = "120s"
"""Longest time one statement of the app may run (a runaway query must not hold a connection)."""
READ_DSN_RETRY_S = 10.0
"""A read DSN that failed is not tried again for this long (its reads go to the primary)."""
READ_POOL_TIMEOUT_S = 1.0
"""Longest wait for a read connection before the read goes to the primary instead."""
LAG_POLL_S = 0.01
LOG_EVERY_S = 60.0


class UserLike(Protocol):
    """What the storage needs of a user (``pdfcompare.identity.User`` has it)."""

    @property
    def id(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


Who = UserLike | str
"""A user, or an owner id (a job acting for that owner; never an admin)."""


def identity_of(who: Who) -> tuple[str, bool]:
    """``(owner id, is admin)`` of a user or an owner id."""
    if isinstance(who, str):
        owner, admin = who, False
    else:
        owner, admin = who.id, bool(who.is_admin)
    if not owner:
        raise ValueError("an owner id must not be empty")
    return owner, admin


class LsnStore(Protocol):
    """Where the last write position of each user is kept (``pdfcompare.cache.Cache`` implements it
    in Redis, so that every instance sees it). Implementations must not raise."""

    def get_lsn(self, user_id: str) -> str | None: ...

    def set_lsn(self, user_id: str, lsn: str) -> None: ...


class MemoryLsnStore:
    """The per-process :class:`LsnStore` (entries expire; the number of entries is bounded)."""

    def __init__(self, ttl_s: float = 300.0, max_entries: int = 100_000) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get_lsn(self, user_id: str) -> str | None:
        with self._lock:
            entry = self._entries.get(user_id)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def set_lsn(self, user_id: str, lsn: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries = {k: v for k, v in self._entries.items() if v[1] >= now}
                while len(self._entries) >= self._max:  # still full: drop the oldest entries
                    self._entries.pop(next(iter(self._entries)))
            old = self._entries.get(user_id)
            if old is None or old[1] < now or parse_lsn(lsn) >= parse_lsn(old[0]):
                self._entries[user_id] = (lsn, now + self._ttl)


def parse_lsn(text: str) -> int:
    """``'16/B374D848'`` -> an int that orders like the WAL position."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def connection_kwargs(settings: Settings, url: str) -> dict[str, Any]:
    """psycopg connection arguments for ``url``: the password (when the URL has none), the
    application name, a connect timeout, and prepared statements off unless allowed."""
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "application_name": f"pdfcompare/{settings.instance}"[:63],
        "connect_timeout": max(2, math.ceil(settings.database_connect_timeout_s)),
    }
    if settings.database_password and "password" not in conninfo.conninfo_to_dict(url):
        kwargs["password"] = settings.database_password
    if not settings.database_prepared_statements:
        kwargs["prepare_threshold"] = None
    return kwargs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _is_connection_problem(exc: BaseException) -> bool:
    """True for errors that mean "this server is not usable now" (not for a bad query)."""
    if isinstance(exc, PoolTimeout | StorageUnavailableError):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    sqlstate = getattr(exc, "sqlstate", None)
    # no SQLSTATE: libpq-level failure; 08: connection exception; 57P01-57P05: shutdown, cannot connect
    return sqlstate is None or sqlstate.startswith("08") or sqlstate.startswith("57P")


def probe(settings: Settings, url: str, timeout: float) -> str | None:
    """None when ``url`` accepts a connection and a query within ``timeout`` seconds, else one line
    saying what is wrong (for the health check)."""
    kwargs = connection_kwargs(settings, url)
    kwargs["connect_timeout"] = max(2, math.ceil(timeout))
    try:
        with psycopg.connect(url, **kwargs) as conn:
            conn.execute("SELECT set_config('statement_timeout', %s, false)", (f"{int(timeout * 1000)}",))
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot connect or query: {_first_line(exc)}"
    return None


@dataclass
class _ReadTarget:
    name: str
    url: str
    pool: ConnectionPool
    down_until: float = 0.0


class _OncePerMinute:
    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warning(self, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -LOG_EVERY_S) < LOG_EVERY_S:
                return
            self._last[key] = now
        log.warning(message, *args)


class Database:
    """Pools for one write DSN and each read DSN of ``settings``; see the module docstring.

    ``with db.write(user) as cur:`` a transaction on the primary as ``user``;
    ``with db.read(user) as cur:`` a read-only transaction on a replica (or the primary);
    ``db.run_read(user, fn)`` runs ``fn(cur)`` in :meth:`read` and re-runs it on the primary when the
    replica fails half-way; ``db.system(owner_id)`` is :meth:`write` for a job acting for an owner.
    """

    def __init__(self, settings: Settings, lsn_store: LsnStore | None = None, *,
                 on_read_fallback: Callable[[FallbackReason], None] | None = None) -> None:
        if not settings.database_url:
            raise StorageUnavailableError("The service has no database configured "
                                          "(PDFCOMPARE_DATABASE_URL).")
        self.settings = settings
        self.lsn_store = lsn_store
        self.on_read_fallback = on_read_fallback
        self._memory_lsn = MemoryLsnStore()
        self._log = _OncePerMinute()
        self._lock = threading.Lock()
        self.read_fallbacks: dict[FallbackReason, int] = {"lag": 0, "unavailable": 0}
        """Reads that went to the primary instead of a replica, by reason."""
        self.reads: dict[str, int] = {"replica": 0, "primary": 0}
        """Read transactions by where they ran."""
        self._write_pool = self._pool("write", settings.database_url, settings.database_connect_timeout_s,
                                      min_size=1)
        self._read_targets: list[_ReadTarget] = []
        for number, url in enumerate(settings.database_read_urls, start=1):
            if url == settings.database_url:
                continue  # reads from the write DSN: no separate pool, no lag check needed
            timeout = min(READ_POOL_TIMEOUT_S, settings.database_connect_timeout_s)
            self._read_targets.append(_ReadTarget(f"read-{number}", url,
                                                  self._pool(f"read-{number}", url, timeout, min_size=0)))
        self._round_robin = itertools.count()

    def _pool(self, name: str, url: str, timeout: float, min_size: int) -> ConnectionPool:
        return ConnectionPool(url, kwargs=connection_kwargs(self.settings, url), min_size=min_size,
                              max_size=self.settings.database_pool_size, timeout=timeout, open=True,
                              name=f"pdfcompare-{name}", reconnect_timeout=60.0)

    # --- transactions ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self, user: Who) -> Iterator[psycopg.Cursor]:
        """A transaction on the primary as ``user``; commits when the block ends without error."""
        owner, admin = identity_of(user)
        try:
            with self._write_pool.connection() as conn:
                with conn.transaction():
                    cur = conn.cursor()
                    cur.execute("SELECT set_config('pdfcompare.user', %s, true), "
                                "set_config('pdfcompare.admin', %s, true), "
                                "set_config('statement_timeout', %s, true)",
                                (owner, "on" if admin else "off", STATEMENT_TIMEOUT))
                    yield cur
                if self._read_targets:
                    lsn = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]
                    self._remember_lsn(owner, lsn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if _is_connection_problem(exc):
                self._log.warning("write", "database write failed: %s", _first_line(exc))
                raise StorageUnavailableError() from exc
            raise

    def system(self, owner_id: str) -> contextlib.AbstractContextManager[psycopg.Cursor]:
        """:meth:`write` for a background job acting for ``owner_id`` (never with admin rights)."""
        return self.write(owner_id)

    @contextlib.contextmanager
    def read(self, user: Who) -> Iterator[psycopg.Cursor]:
        """A read-only transaction as ``user``: on a replica that has replayed the user's last write,
        else on the primary. Never fails because of a replica."""
        with contextlib.ExitStack() as stack:
            cur, _target = self._open_read(stack, user)
            yield cur

    def run_read(self, user: Who, query: Callable[[psycopg.Cursor], T]) -> T:
        """``query(cur)`` in :meth:`read`; when the replica fails during it, once more on the primary."""
        target = None
        try:
            with contextlib.ExitStack() as stack:
                cur, target = self._open_read(stack, user)
                return query(cur)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if target is None or not _is_connection_problem(exc):
                raise
            self._read_failed(target, exc)
        with contextlib.ExitStack() as stack:
            cur, _ = self._open_read(stack, user, primary=True)
            return query(cur)

    def _open_read(self, stack: contextlib.ExitStack, user: Who,
                   primary: bool = False) -> tuple[psycopg.Cursor, _ReadTarget | None]:
        owner, admin = identity_of(user)
        target = None if primary else self._next_read_target()
        if target is not None:
            attempt = contextlib.ExitStack()
            try:
                cur, lag_ok = self._begin_read(attempt, target.pool, owner, admin, check_lsn=True)
            except (psycopg.OperationalError, PoolTimeout) as exc:
                with contextlib.suppress(Exception):  # the connection is broken; the pool drops it
                    attempt.__exit__(type(exc), exc, exc.__traceback__)
                if not _is_connection_problem(exc):
                    raise
                self._read_failed(target, exc)
            else:
                if lag_ok:
                    stack.enter_context(attempt)
                    self._count_read("replica")
                    return cur, target
                attempt.close()
                self._fallback("lag", f"{target.name} has not replayed the user's last write within "
                                      f"{self.settings.replica_max_lag_wait_s} s")
        try:
            cur, _ = self._begin_read(stack, self._write_pool, owner, admin, check_lsn=False)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if _is_connection_problem(exc):
                self._log.warning("read-primary", "database read failed: %s", _first_line(exc))
                raise StorageUnavailableError() from exc
            raise
        self._count_read("primary")
        return cur, None

    def _begin_read(self, stack: contextlib.ExitStack, pool: ConnectionPool, owner: str, admin: bool,
                    check_lsn: bool) -> tuple[psycopg.Cursor, bool]:
        conn = stack.enter_context(pool.connection())
        stack.enter_context(conn.transaction())
        cur = conn.cursor()
        in_recovery, replayed = cur.execute(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
            "set_config('pdfcompare.user', %s, true), set_config('pdfcompare.admin', %s, true), "
            "set_config('statement_timeout', %s, true), set_config('transaction_read_only', 'on', true)",
            (owner, "on" if admin else "off", STATEMENT_TIMEOUT)).fetchone()[:2]
        if not check_lsn or not in_recovery:
            return cur, True
        needed = self.last_write_lsn(owner)
        if needed is None:
            return cur, True
        deadline = time.monotonic() + self.settings.replica_max_lag_wait_s
        while replayed is None or parse_lsn(replayed) < needed:
            if time.monotonic() >= deadline:
                return cur, False
            time.sleep(LAG_POLL_S)
            replayed = cur.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()[0]
        return cur, True

    # --- read-your-writes --------------------------------------------------------------------------
    def _remember_lsn(self, owner: str, lsn: str) -> None:
        self._memory_lsn.set_lsn(owner, lsn)
        if self.lsn_store is not None:
            try:
                self.lsn_store.set_lsn(owner, lsn)
            except Exception as exc:  # noqa: BLE001 - the shared store is optional
                self._log.warning("lsn-store", "cannot record the write position: %s", _first_line(exc))

    def last_write_lsn(self, owner: str) -> int | None:
        """The user's last known write position (this process or the shared store), or None."""
        positions = [self._memory_lsn.get_lsn(owner)]
        if self.lsn_store is not None:
            try:
                positions.append(self.lsn_store.get_lsn(owner))
            except Exception as exc:  # noqa: BLE001
                self._log.warning("lsn-store", "cannot read the write position: %s", _first_line(exc))
        values = [parse_lsn(p) for p in positions if p]
        return max(values) if values else None

    # --- fallbacks and counters --------------------------------------------------------------------
    def _next_read_target(self) -> _ReadTarget | None:
        if not self._read_targets:
            return None
        now = time.monotonic()
        start = next(self._round_robin)
        for offset in range(len(self._read_targets)):
            target = self._read_targets[(start + offset) % len(self._read_targets)]
            if target.down_until <= now:
                return target
        self._fallback("unavailable", "every read DSN failed recently")
        return None

    def _read_failed(self, target: _ReadTarget, exc: BaseException) -> None:
        target.down_until = time.monotonic() + READ_DSN_RETRY_S
        self._fallback("unavailable", f"{target.name} failed ({_first_line(exc)}); reads go to the primary "
                                      f"for {READ_DSN_RETRY_S:.0f} s")

    def _fallback(self, reason: FallbackReason, detail: str) -> None:
        with self._lock:
            self.read_fallbacks[reason] += 1
        self._log.warning(f"fallback-{reason}", "read on the primary (%s): %s", reason, detail)
        if self.on_read_fallback is not None:
            with contextlib.suppress(Exception):
                self.on_read_fallback(reason)

    def _count_read(self, where: str) -> None:
        with self._lock:
            self.reads[where] += 1

    def counters(self) -> dict[str, dict[str, int]]:
        """A copy of the read counters: ``{"reads": {...}, "read_fallbacks": {...}}``."""
        with self._lock:
            return {"reads": dict(self.reads), "read_fallbacks": dict(self.read_fallbacks)}

    def pool_stats(self) -> dict[str, dict[str, int]]:
        """psycopg_pool statistics per pool (``write``, ``read-1``, ...): pool_size, pool_available,
        requests_waiting, requests_wait_ms, connections_errors, ..."""
        stats = {"write": self._write_pool.get_stats()}
        for target in self._read_targets:
            stats[target.name] = target.pool.get_stats()
        return stats

    @property
    def has_replicas(self) -> bool:
        """True when reads have DSNs of their own."""
        return bool(self._read_targets)

    def close(self) -> None:
        """Close every pool (connections in use are closed when returned)."""
        for pool in [self._write_pool, *(t.pool for t in self._read_targets)]:
            pool.close(timeout=5.0)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
