"""The web service's configuration: read once, from the environment and an optional file, into one
typed, immutable :class:`Settings` object.

Every variable is named ``PDFCOMPARE_<FIELD>`` (upper case). ``PDFCOMPARE_CONFIG_FILE`` names an
optional file of ``KEY=VALUE`` lines — the format of a systemd ``EnvironmentFile``, so the file the
Ansible role renders for the units is also what ``pdfcompare migrate`` and ``pdfcompare healthcheck``
read. Values in the environment win over the file. A bad value raises :class:`SettingsError` naming
the variable; nothing is half-configured.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = ["Settings", "SettingsError", "load_settings", "read_env_file", "ENV_PREFIX"]

ENV_PREFIX = "PDFCOMPARE_"
AuthMode = Literal["anonymous", "header"]


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True, repr=False)
class Settings:
    """Everything the service layers need to know. Field ``x`` is variable ``PDFCOMPARE_X``."""

    # --- Database (through PgBouncer's aliases) ---------------------------------------------------
    database_url: str = ""
    """Write DSN (PgBouncer's read-write alias), a libpq URL or key=value string; empty = no database
    (the UI then says the service is not configured)."""
    database_read_urls: tuple[str, ...] = ()
    """DSNs for reads (PgBouncer's read-only alias, or replicas); empty = read from the write DSN."""
    database_password: str = field(default="", repr=False)
    """Password for every DSN that carries none (kept out of the URLs and out of logs)."""
    database_pool_size: int = 10
    """Most connections per pool (one write pool and one pool per read DSN) of each instance."""
    database_prepared_statements: bool = False
    """Let psycopg prepare frequent statements. Only with PgBouncer >= 1.21 and
    max_prepared_statements > 0 (or a direct connection); off is always safe."""
    database_connect_timeout_s: float = 5.0
    """Seconds to wait for a connection from a pool before the request fails."""
    replica_max_lag_wait_s: float = 0.2
    """How long a read waits for a replica to replay the user's last write before it goes to the
    primary instead (read-your-writes)."""

    # --- Redis ---------------------------------------------------------------------------------------
    redis_url: str = ""
    """redis:// or rediss:// URL (user name in the URL); empty = no Redis (no shared cache, no saved
    workspace, rate limit per instance)."""
    redis_password: str = field(default="", repr=False)
    """Password of the Redis ACL user."""
    redis_timeout_s: float = 0.5
    """Socket timeout of Redis calls; Redis is skipped for a while after a failure."""
    cache_ttl_s: int = 7 * 24 * 3600
    """Lifetime of a cached comparison result in Redis."""

    # --- Ollama --------------------------------------------------------------------------------------
    ollama_url: str = ""
    """Base URL of an Ollama server; empty = AI features off (the UI says so)."""
    ollama_chat_model: str = "llama3.2"
    """Model for summaries and answers."""
    ollama_embed_model: str = "nomic-embed-text"
    """Model for embeddings (retrieval over the documents' text)."""
    ollama_timeout_s: float = 120.0
    """Seconds an Ollama request may take."""

    # --- Identity -------------------------------------------------------------------------------------
    auth_mode: AuthMode = "anonymous"
    """``anonymous``: each browser gets its own workspace (a cookie); ``header``: the user name comes
    from ``auth_header``, set by the load balancer (basic auth or an SSO proxy)."""
    auth_header: str = "X-Pdfcompare-User"
    """Request header carrying the authenticated user name (``header`` mode)."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses/CIDRs whose requests may carry ``auth_header``; from anyone else it is ignored."""
    admin_users: tuple[str, ...] = ()
    """User names that may see every user's documents and comparisons."""

    # --- Limits ----------------------------------------------------------------------------------------
    max_upload_mb: int = 200
    """Largest file a user may upload (MB); also Streamlit's upload limit."""
    max_pages: int = 5000
    """Most pages per document."""
    compare_timeout_s: float = 600.0
    """Hard time limit of one comparison; the worker process is killed after it."""
    workers: int = 2
    """Worker processes per instance for comparisons and other PDF work (0 = run in the server
    process; for benchmarks only: it freezes every session of the instance during a compare)."""
    rate_limit_per_minute: int = 10
    """Comparisons one user may start per minute (0 = unlimited)."""

    # --- Server -----------------------------------------------------------------------------------------
    address: str = "127.0.0.1"
    """Address the instance listens on."""
    port: int = 8501
    """Port of the instance (the systemd unit sets it from its instance name)."""
    metrics_address: str = ""
    """Address of the /metrics server; empty = the same as ``address``."""
    metrics_port_offset: int = 1000
    """/metrics listens on port + this offset (8501 -> 9501); 0 = no metrics server."""
    cookie_secret: str = field(default="", repr=False)
    """Streamlit's cookie secret; must be the same on every instance behind one load balancer."""
    log_level: str = "INFO"
    """Python logging level."""
    instance_name: str = ""
    """Name of this instance in logs, metrics and the page footer; empty = "<hostname>:<port>"."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{key}={value!r}" for key, value in self.public_dict().items())
        return f"Settings({shown})"

    @property
    def instance(self) -> str:
        """The instance's display name."""
        return self.instance_name or f"{socket.gethostname()}:{self.port}"

    @property
    def metrics_port(self) -> int | None:
        """Port of the /metrics server, or None when metrics are off."""
        return self.port + self.metrics_port_offset if self.metrics_port_offset else None

    @property
    def max_upload_bytes(self) -> int:
        """Upload limit in bytes."""
        return self.max_upload_mb * 1024 * 1024

    @property
    def database_configured(self) -> bool:
        """A database DSN is set."""
        return bool(self.database_url)

    @property
    def read_urls(self) -> tuple[str, ...]:
        """DSNs used for reads (the write DSN when none is configured)."""
        return self.database_read_urls or ((self.database_url,) if self.database_url else ())

    def public_dict(self) -> dict[str, Any]:
        """The settings without secrets (for logs and the status page)."""
        hidden = {"database_password", "redis_password", "cookie_secret"}
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("***" if value else "") if f.name in hidden else value
        out["database_url"] = _without_password(self.database_url)
        out["database_read_urls"] = tuple(_without_password(u) for u in self.database_read_urls)
        out["redis_url"] = _without_password(self.redis_url)
        return out


def _without_password(url: str) -> str:
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read ``KEY=VALUE`` lines (comments and blank lines ignored, optional single or double quotes
    around the value), as systemd's EnvironmentFile does for the simple cases the role writes."""
    values: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise SettingsError(f"{path}, line {number}: expected KEY=VALUE, got {raw.strip()!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(name: str, kind: Any, text: str) -> Any:
    text = text.strip()
    try:
        if kind == "bool":
            lowered = text.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "tuple[str, ...]":
            return tuple(item.strip() for item in text.split(",") if item.strip())
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: expected {kind}, got {text!r}") from None
    return text


def _validate(s: Settings) -> None:
    def fail(name: str, message: str) -> None:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: {message}")

    if s.auth_mode not in ("anonymous", "header"):
        fail("auth_mode", f"expected 'anonymous' or 'header', got {s.auth_mode!r}")
    if s.auth_mode == "header" and not s.trusted_proxies:
        fail("trusted_proxies", "header authentication needs the load balancers' addresses here "
             "(a user header from anyone else is ignored)")
    for proxy in s.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            fail("trusted_proxies", f"{proxy!r} is not an IP address or CIDR")
    for name in ("database_pool_size", "max_upload_mb", "max_pages"):
        if getattr(s, name) < 1:
            fail(name, f"must be at least 1, got {getattr(s, name)}")
    for name in ("workers", "rate_limit_per_minute", "metrics_port_offset", "cache_ttl_s"):
        if getattr(s, name) < 0:
            fail(name, f"must not be negative, got {getattr(s, name)}")
    for name in ("compare_timeout_s", "redis_timeout_s", "ollama_timeout_s", "database_connect_timeout_s"):
        if getattr(s, name) <= 0:
            fail(name, f"must be above 0, got {getattr(s, name)}")
    if not 1 <= s.port <= 65535:
        fail("port", f"must be a TCP port (1-65535), got {s.port}")
    if s.metrics_port is not None and not 1 <= s.metrics_port <= 65535:
        fail("metrics_port_offset", f"port {s.port} + offset {s.metrics_port_offset} is not a TCP port")
    if s.redis_url and urlsplit(s.redis_url).scheme not in ("redis", "rediss", "unix"):
        fail("redis_url", f"expected a redis://, rediss:// or unix:// URL, got {s.redis_url!r}")
    if s.ollama_url and urlsplit(s.ollama_url).scheme not in ("http", "https"):
        fail("ollama_url", f"expected an http:// or https:// URL, got {s.ollama_url!r}")
    if s.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        fail("log_level", f"expected DEBUG, INFO, WARNING or ERROR, got {s.log_level!r}")


def load_settings(environ: Mapping[str, str] | None = None, config_file: str | None = None) -> Settings:
    """Build the settings from ``environ`` (default: ``os.environ``) and the optional file named by
    ``config_file`` or ``PDFCOMPARE_CONFIG_FILE``. Unknown ``PDFCOMPARE_*`` names are refused, so a
    typo in the role or by hand does not silently fall back to a default."""
    environ = os.environ if environ is None else environ
    path = config_file or environ.get(f"{ENV_PREFIX}CONFIG_FILE", "")
    merged: dict[str, str] = {}
    if path:
        merged.update({k: v for k, v in read_env_file(path).items() if k.startswith(ENV_PREFIX)})
    merged.update({k: v for k, v in environ.items() if k.startswith(ENV_PREFIX)})
    merged.pop(f"{ENV_PREFIX}CONFIG_FILE", None)

    known = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, text in merged.items():
        name = key[len(ENV_PREFIX):].lower()
        if name not in known:
            raise SettingsError(f"{key}: unknown setting (known: "
                                f"{', '.join(ENV_PREFIX + n.upper() for n in sorted(known))})")
        values[name] = _convert(name, known[name].type, text)
    settings = Settings(**values)
    _validate(settings)
    return settings
