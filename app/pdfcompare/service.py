"""The composition root of the web service: one :class:`Services` per process.

``pdfcompare serve`` builds it before Streamlit starts its threads (so worker processes are forked
from a clean process) and the Streamlit script gets the same object with :func:`get_services`.
Tests build their own with :meth:`Services.create` and explicit settings.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from .settings import Settings, load_settings

__all__ = ["Services", "get_services", "set_services"]

log = logging.getLogger("pdfcompare.service")

_lock = threading.Lock()
_current: Services | None = None


@dataclass
class Services:
    """Everything a page needs, built from one :class:`Settings`."""

    settings: Settings

    @classmethod
    def create(cls, settings: Settings) -> Services:
        """Build the services for ``settings`` (connections are opened lazily)."""
        return cls(settings=settings)

    def start(self) -> None:
        """Start what runs in the background (metrics server, worker processes)."""

    def close(self) -> None:
        """Stop background work and close connections."""


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
