"""The composition root of the web service: one :class:`Services` per process.

``pdfcompare serve`` builds it before Streamlit starts its threads (so worker processes are forked
from a clean process) and the Streamlit script gets the same object with :func:`get_services`.
Tests build their own with :meth:`Services.create` and explicit settings.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from . import metrics
from .ai import Assistant
from .cache import Cache
from .settings import Settings, load_settings
from .workers import WorkerPool

__all__ = ["Services", "get_services", "set_services"]

log = logging.getLogger("pdfcompare.service")

_lock = threading.Lock()
_current: Services | None = None


@dataclass
class Services:
    """Everything a page needs, built from one :class:`Settings`.

    ``storage``/``database`` are None when no database is configured (the UI then says the service is
    not configured); ``cache`` is always there (off without Redis); ``workers`` runs the PDF jobs of
    :mod:`pdfcompare.jobs`; ``assistant`` is the AI (its ``status()`` says whether it is usable).
    """

    settings: Settings
    cache: Cache
    workers: WorkerPool
    assistant: Assistant
    database: Any = None
    """:class:`pdfcompare.storage.Database`, or None without PDFCOMPARE_DATABASE_URL."""
    storage: Any = None
    """:class:`pdfcompare.storage.Storage`, or None without PDFCOMPARE_DATABASE_URL."""
    metrics_port: int | None = None
    """Port of this process's /metrics server once started (None: off or not started)."""
    _pool_stats_token: int | None = field(default=None, repr=False)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        """Build the services for ``settings`` (connections are opened lazily, in the background)."""
        cache = Cache(settings)
        database = storage = None
        if settings.database_configured:
            from .storage import Database, Storage

            database = Database(settings, lsn_store=cache if cache.enabled else None,
                                on_read_fallback=metrics.count_db_read_fallback)
            storage = Storage(database)
        workers = WorkerPool(settings, storage=storage, cache=cache)
        return cls(settings=settings, cache=cache, workers=workers, assistant=Assistant(settings, storage),
                   database=database, storage=storage)

    def start(self) -> None:
        """Start what runs in the background: the /metrics server (unless
        PDFCOMPARE_METRICS_PORT_OFFSET=0), the database pool metrics, the worker processes'
        forkserver. Call it before other threads exist when possible."""
        self.metrics_port = metrics.start_metrics_server(self.settings)
        metrics.set_build_info(self.settings.instance)
        if self.database is not None and self._pool_stats_token is None:
            self._pool_stats_token = metrics.register_db_pool_stats(self.database.pool_stats)
        self.workers.start()

    def close(self) -> None:
        """Stop background work and close connections (running jobs are stopped)."""
        self.workers.close()
        self.assistant.close()
        if self._pool_stats_token is not None:
            metrics.unregister_db_pool_stats(self._pool_stats_token)
            self._pool_stats_token = None
        if self.database is not None:
            with contextlib.suppress(Exception):
                self.database.close()
        self.cache.close()
        if self.metrics_port is not None:
            metrics.stop_metrics_server()
            self.metrics_port = None


def get_services() -> Services:
    """The process's services, created from the environment on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Services.create(load_settings())
            _current.start()
        return _current


def set_services(services: Services | None) -> None:
    """Install ``services`` as the process's services (``pdfcompare serve`` and tests)."""
    global _current
    with _lock:
        _current = services
