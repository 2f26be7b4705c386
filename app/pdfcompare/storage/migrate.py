"""Schema migrations: plain SQL files ``migrations/NNNN_name.sql``, applied in order.

``migrate(settings)`` (``pdfcompare migrate``) applies each pending file in its own transaction,
which first takes ``pg_advisory_xact_lock(MIGRATION_LOCK)``: two instances migrating at once are
serialised (the second waits, then finds nothing left to do), and the lock is transaction-scoped,
so it works through PgBouncer in transaction mode. Table ``schema_migrations`` records version,
name, SHA-256 checksum and time of each applied file; an applied file whose checksum changed is an
error (never edit an applied migration: add a new one). Running it again applies nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg

from ..settings import Settings
from .database import _first_line, connection_kwargs
from .errors import MigrationError
from .records import SchemaStatus

__all__ = ["Migration", "load_migrations", "migrate", "schema_status", "MIGRATION_LOCK"]

log = logging.getLogger("pdfcompare.storage.migrate")

MIGRATION_LOCK = 0x7064_6663_6D69_6772 & 0x7FFF_FFFF_FFFF_FFFF
"""Advisory lock key of the migrations (the bytes of "pdfcmigr"), the same in every instance."""
LOCK_TIMEOUT = "300s"
"""How long a migration waits for the lock (another instance migrating) before it gives up."""
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    @property
    def label(self) -> str:
        """``0001_initial``"""
        return f"{self.version:04d}_{self.name}"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migrations shipped in the package (or in ``directory``), ordered by version."""
    folder = directory if directory is not None else resources.files("pdfcompare.storage") / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations have version {version:04d}: {found[version].label}.sql "
                                 f"and {entry.name}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def _connect(settings: Settings) -> psycopg.Connection:
    if not settings.database_url:
        raise MigrationError("PDFCOMPARE_DATABASE_URL is not set: there is no database to migrate")
    try:
        return psycopg.connect(settings.database_url, **connection_kwargs(settings, settings.database_url))
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect to the database: {_first_line(exc)}") from exc


def _lock(conn: psycopg.Connection) -> None:
    conn.execute("SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', '0', true)",
                 (LOCK_TIMEOUT,))
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    except psycopg.errors.LockNotAvailable:
        raise MigrationError(f"another `pdfcompare migrate` has held the migration lock for more than "
                             f"{LOCK_TIMEOUT}; try again when it has finished") from None


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {version: (name, checksum) for version, name, checksum in rows}


def _check_unchanged(migration: Migration, applied: dict[int, tuple[str, str]]) -> None:
    name, checksum = applied[migration.version]
    if checksum != migration.checksum:
        raise MigrationError(
            f"migration {migration.label} was changed after it was applied to this database "
            f"(checksum {checksum[:12]}... recorded, {migration.checksum[:12]}... now): restore the "
            "original file; changes to the schema go into a new migration")


def migrate(settings: Settings, migrations: Sequence[Migration] | None = None) -> list[str]:
    """Apply the pending migrations; returns their labels (empty when the schema is current)."""
    todo = list(migrations) if migrations is not None else load_migrations()
    applied_now: list[str] = []
    try:
        with _connect(settings) as conn:
            with conn.transaction():
                _lock(conn)
                conn.execute(_CREATE_TABLE)
                applied = _applied(conn)
            for migration in todo:
                if migration.version in applied:
                    _check_unchanged(migration, applied)
                    continue
                started = time.monotonic()
                with conn.transaction():
                    _lock(conn)
                    applied = _applied(conn)  # another instance may have applied it meanwhile
                    if migration.version in applied:
                        _check_unchanged(migration, applied)
                        continue
                    try:
                        conn.execute(migration.sql)  # no parameters: several statements are allowed
                    except psycopg.Error as exc:
                        raise MigrationError(f"migration {migration.label} failed (nothing of it was "
                                             f"applied): {_first_line(exc)}") from exc
                    conn.execute("INSERT INTO schema_migrations (version, name, checksum) "
                                 "VALUES (%s, %s, %s)",
                                 (migration.version, migration.name, migration.checksum))
                log.info("applied migration %s in %.2f s", migration.label, time.monotonic() - started)
                applied_now.append(migration.label)
    except psycopg.Error as exc:
        raise MigrationError(f"migrating the database failed: {_first_line(exc)}") from exc
    return applied_now


def schema_status(settings: Settings, migrations: Sequence[Migration] | None = None) -> SchemaStatus:
    """How far the database's schema is (for the health check); raises :class:`MigrationError` when
    the database cannot be reached."""
    known = list(migrations) if migrations is not None else load_migrations()
    try:
        with _connect(settings) as conn:
            exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
            rows = conn.execute("SELECT version FROM schema_migrations").fetchall() if exists else []
            versions = {r[0] for r in rows}
    except psycopg.Error as exc:
        raise MigrationError(f"cannot read the schema version: {_first_line(exc)}") from exc
    return SchemaStatus(current=max(versions, default=0), latest=max((m.version for m in known), default=0),
                        pending=tuple(m.label for m in known if m.version not in versions))
