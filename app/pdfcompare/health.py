"""``pdfcompare healthcheck``: can this instance serve users?

Each check gives one line. Only what stops the instance from serving fails the check (the Streamlit
server not answering, the database unreachable or its schema behind this version); a missing
Redis, Ollama or read replica degrades the service and is reported as a warning.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from .settings import Settings

__all__ = ["Check", "run_checks", "format_checks"]

Status = Literal["ok", "warning", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one check."""

    name: str
    status: Status
    detail: str


def _check_http(settings: Settings, timeout: float) -> Check:
    host = "127.0.0.1" if settings.address in ("0.0.0.0", "") else settings.address
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    url = f"http://{host}:{settings.port}/_stcore/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own URL
            body = response.read(100).decode("utf-8", "replace").strip()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("server", "failed", f"{url} does not answer: {reason}")
    if body != "ok":
        return Check("server", "failed", f"{url} answered {body!r}, not 'ok'")
    return Check("server", "ok", f"{url} answers ok")


def _check_database(settings: Settings, timeout: float) -> list[Check]:
    if not settings.database_configured:
        return [Check("database", "failed", "PDFCOMPARE_DATABASE_URL is not set")]
    from .storage import schema_status
    from .storage.database import probe

    checks = []
    problem = probe(settings, settings.database_url, timeout)
    if problem:
        return [Check("database", "failed", f"write DSN: {problem}")]
    status = schema_status(settings)
    if status.pending:
        checks.append(Check("database", "failed", f"schema at version {status.current}, this version needs "
                            f"{status.latest}: run `pdfcompare migrate`"))
    else:
        checks.append(Check("database", "ok", f"write DSN reachable, schema version {status.current}"))
    for number, url in enumerate(settings.database_read_urls, start=1):
        problem = probe(settings, url, timeout)
        checks.append(Check(f"database-read-{number}", "warning" if problem else "ok",
                            f"{problem}; reads go to the primary" if problem else "read DSN reachable"))
    return checks


def _check_redis(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check("redis", "skipped", "no PDFCOMPARE_REDIS_URL: no shared cache")
    from .cache import Cache

    problem = Cache(settings).ping()
    if problem:
        return Check("redis", "warning", f"{problem}; the service works without its cache")
    return Check("redis", "ok", "reachable")


def _check_ollama(settings: Settings) -> Check:
    if not settings.ollama_url:
        return Check("ollama", "skipped", "no PDFCOMPARE_OLLAMA_URL: AI features are off")
    from .ai import Assistant

    status = Assistant(settings, storage=None).status()
    if not status.available:
        return Check("ollama", "warning", status.notice or "unavailable")
    if status.notice:  # usable, but not everything (e.g. the embedding model is missing)
        return Check("ollama", "warning", status.notice)
    return Check("ollama", "ok", f"models {status.chat_model}, {status.embed_model} available")


def run_checks(settings: Settings, *, http: bool = True, timeout: float = 5.0) -> list[Check]:
    """Run every check; never raises."""
    steps: list[Callable[[], Check | list[Check]]] = []
    if http:
        steps.append(lambda: _check_http(settings, timeout))
    steps += [lambda: _check_database(settings, timeout), lambda: _check_redis(settings),
              lambda: _check_ollama(settings)]
    names = (["server"] if http else []) + ["database", "redis", "ollama"]
    checks: list[Check] = []
    for name, step in zip(names, steps, strict=True):
        try:
            result = step()
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not crash
            result = Check(name, "failed" if name in ("server", "database") else "warning",
                           f"{type(exc).__name__}: {exc}")
        checks.extend(result if isinstance(result, list) else [result])
    return checks


def format_checks(checks: list[Check], as_json: bool = False) -> str:
    """Human-readable lines, or one JSON document."""
    if as_json:
        return json.dumps({"healthy": healthy(checks), "checks": [asdict(c) for c in checks]})
    return "\n".join(f"{c.status:<8} {c.name:<16} {c.detail}" for c in checks)


def healthy(checks: list[Check]) -> bool:
    """True when no check failed."""
    return all(c.status != "failed" for c in checks)
