"""Fixtures of the service tests: real PostgreSQL (primary + streaming replica), PgBouncer and Redis.

The servers start once per session (``servers.start_services``, about 5-10 s) and are stopped at
the end, also when tests fail or the run is interrupted. Without the Debian packages the tests are
skipped, unless ``PDFCOMPARE_REQUIRE_SERVICES`` is set (``make test`` sets it): then they fail.

Schema: ``service_settings`` points at the session's database ``pdfcompare`` through PgBouncer,
migrated once per session. Tests do not clean up rows; they isolate themselves by owner: every
``make_user()`` is a new, unique user id. A test that needs an empty schema (the migration tests)
asks for ``fresh_database``: a new database of its own, dropped afterwards.

Fixtures:
  postgres_cluster   servers.PostgresCluster: primary_dsn/replica_dsn (app role, direct),
                     superuser_dsn/replica_superuser_dsn, app_password, superuser(replica=...),
                     pause_replay()/resume_replay()/replay_paused(), wait_replica_caught_up()
  pgbouncer          servers.PgBouncer: write_dsn (alias pdfcompare), read_dsn (pdfcompare_ro), dsn(db)
  redis_server       servers.RedisServer: url, username, password, client(), flush()
  service_settings   Settings: PgBouncer's aliases + Redis, schema migrated (session)
  make_settings      make_settings(**overrides) -> Settings (service_settings with overrides)
  make_user          make_user(name=None, admin=False) -> a new user with a unique id
  fresh_database     fresh_database() -> FreshDatabase(name, settings): an empty database
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from pdfcompare.settings import Settings

from tests.service import servers


@pytest.fixture(scope="session")
def _services() -> Iterator[servers.Services]:
    binaries, missing = servers.find_binaries()
    if binaries is None:
        message = "service tests need " + ", ".join(missing) + " (`make test-deps` installs them)"
        if os.environ.get("PDFCOMPARE_REQUIRE_SERVICES"):
            pytest.fail(message + "; failing because PDFCOMPARE_REQUIRE_SERVICES is set", pytrace=False)
        pytest.skip(message)
    started = servers.start_services(binaries)
    try:
        yield started
    finally:
        started.stop(keep_files=bool(os.environ.get("PDFCOMPARE_KEEP_SERVICE_FILES")))


@pytest.fixture(scope="session")
def postgres_cluster(_services: servers.Services) -> servers.PostgresCluster:
    return _services.postgres


@pytest.fixture(scope="session")
def pgbouncer(_services: servers.Services) -> servers.PgBouncer:
    return _services.pgbouncer


@pytest.fixture(scope="session")
def redis_server(_services: servers.Services) -> servers.RedisServer:
    return _services.redis


@pytest.fixture(scope="session")
def service_settings(_services: servers.Services) -> Settings:
    from pdfcompare.storage import migrate

    settings = _services.app_settings("service-tests")
    migrate(settings)
    _services.postgres.wait_replica_caught_up()
    return settings


@pytest.fixture(scope="session")
def make_settings(service_settings: Settings) -> Callable[..., Settings]:
    def make(**overrides) -> Settings:
        return replace(service_settings, **overrides)

    return make


@dataclass(frozen=True)
class TestUser:
    """Stands in for pdfcompare.identity.User (Storage needs only ``id`` and ``is_admin``)."""

    __test__ = False
    id: str
    name: str
    is_admin: bool = False
    anonymous: bool = False


@pytest.fixture()
def make_user() -> Callable[..., TestUser]:
    def make(name: str | None = None, admin: bool = False) -> TestUser:
        name = f"{name or 'user'}-{secrets.token_hex(4)}"
        return TestUser(id=f"user:{name}", name=name, is_admin=admin)

    return make


@dataclass(frozen=True)
class FreshDatabase:
    name: str
    settings: Settings
    """Writes through PgBouncer (its ``*`` fallback), reads directly from the replica."""
    direct_settings: Settings
    """Both directly to the primary (prepared statements allowed)."""


@pytest.fixture()
def fresh_database(postgres_cluster: servers.PostgresCluster, pgbouncer: servers.PgBouncer,
                   make_settings: Callable[..., Settings]) -> Iterator[Callable[[], FreshDatabase]]:
    created: list[str] = []

    def make() -> FreshDatabase:
        name = postgres_cluster.create_database(f"pdfcompare_t{secrets.token_hex(4)}")
        created.append(name)
        return FreshDatabase(
            name,
            make_settings(database_url=pgbouncer.dsn(name),
                          database_read_urls=(postgres_cluster.dsn(name, replica=True),)),
            make_settings(database_url=postgres_cluster.dsn(name), database_read_urls=(),
                          database_prepared_statements=True),
        )

    yield make
    for name in created:
        postgres_cluster.drop_database(name)


@pytest.fixture(autouse=True)
def _replica_replays_after_each_test(request) -> Iterator[None]:
    """A test that paused replay and failed before resuming must not leave the replica lagging."""
    yield
    if "postgres_cluster" in request.fixturenames:
        cluster = request.getfixturevalue("postgres_cluster")
        if cluster.replay_is_paused:
            cluster.resume_replay()
