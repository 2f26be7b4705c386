"""Logging of the web service: one line per event on stderr (journald adds time and unit)."""

from __future__ import annotations

import logging
import sys
import time

__all__ = ["configure_logging", "RateLimitedLogger"]

_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Send the service's logs to stderr at ``level`` (idempotent)."""
    root = logging.getLogger("pdfcompare")
    root.setLevel(level.upper())
    if not any(getattr(h, "_pdfcompare", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._pdfcompare = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False


class RateLimitedLogger:
    """Logs a recurring problem (Redis down, a lagging replica) at most once per ``interval_s`` per
    key, with the number of times it happened in between."""

    def __init__(self, logger: logging.Logger, interval_s: float = 60.0) -> None:
        self.logger = logger
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        skipped = self._suppressed.pop(key, 0)
        self._last[key] = now
        suffix = f" ({skipped} more since the last report)" if skipped else ""
        self.logger.warning(message + suffix, *args)
