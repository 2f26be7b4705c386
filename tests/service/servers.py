"""Real servers for the service tests, started from this machine's Debian packages.

Everything listens on 127.0.0.1, on free ports, with its files in one temporary directory:

- :class:`PostgresCluster`: a PostgreSQL primary (``initdb``) and a streaming replica cloned from it
  with ``pg_basebackup -R``; database ``pdfcompare`` owned by role ``pdfcompare`` (SCRAM password),
  extensions postgis, btree_gist and pg_stat_statements (and vector where it is installed) created
  by the superuser, as the Ansible postgresql role does. The superuser logs in over the Unix socket only.
- :class:`PgBouncer`: transaction pooling, alias ``pdfcompare`` -> primary and ``pdfcompare_ro`` ->
  replica (read-only by ``connect_query``, as role pgbouncer renders it), a ``*`` fallback to the
  primary for the throwaway databases of migration tests; the auth file holds the SCRAM verifier
  copied from ``pg_authid`` (never a password), so PgBouncer passes SCRAM through to the servers.
- :class:`RedisServer`: an ACL user limited to ``pdfcompare:*`` keys and the commands role redis
  allows it, the default user off, and an admin user for the tests' own clean-up.

As root the servers run as the unprivileged user ``postgres`` (PgBouncer refuses to run as root;
PostgreSQL too). Every start is bounded in time and fails with the server's log in the message;
:meth:`Services.stop` stops everything and is safe to call twice (fixtures call it in a finalizer,
and an ``atexit`` hook catches an interrupted run).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pdfcompare.settings import Settings

__all__ = [
    "ServerError",
    "ServerBinaries",
    "find_binaries",
    "PostgresCluster",
    "PgBouncer",
    "RedisServer",
    "Services",
    "start_services",
    "free_port",
]

START_TIMEOUT_S = 60.0
"""Longest time one server may take to start (a cold disk and 2 busy cores included)."""
STOP_TIMEOUT_S = 20.0
APP_ROLE = "pdfcompare"
APP_DATABASE = "pdfcompare"
WRITE_ALIAS = "pdfcompare"
READ_ALIAS = "pdfcompare_ro"
TEMPLATE = "pdfcompare_template"
REDIS_APP_USER = "pdfcompare"
REDIS_ADMIN_USER = "admin"
APP_REDIS_COMMANDS = ("+@connection", "+@read", "+@write", "+@keyspace", "+@transaction", "-@dangerous",
                      "-@admin", "+info")
"""The app user's command rules, as role redis's default ``redis_app_commands`` (after ``-@all``)."""
RUN_AS = "postgres"
"""Unprivileged system user the servers run as when the tests run as root."""


class ServerError(RuntimeError):
    """A test server could not be started or stopped; the message says which and why."""


@dataclass(frozen=True)
class ServerBinaries:
    """Paths of the server programs (from Debian's postgresql-NN, pgbouncer and redis-server)."""

    pg_bindir: Path
    pgbouncer: Path
    redis_server: Path

    @property
    def pg_version(self) -> int:
        return int(self.pg_bindir.parent.name)


def find_binaries() -> tuple[ServerBinaries | None, list[str]]:
    """The newest PostgreSQL under /usr/lib/postgresql with PostGIS, PgBouncer and Redis; or None
    and the list of what is missing."""
    missing = []
    pg_bindir = None
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    for postgres in reversed(candidates):
        version = postgres.parent.parent.name
        if Path(f"/usr/share/postgresql/{version}/extension/postgis.control").exists():
            pg_bindir = postgres.parent
            break
    if pg_bindir is None:
        missing.append("PostgreSQL with PostGIS (Debian: postgresql postgresql-postgis)")
    pgbouncer = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists()
                                              else None)
    if pgbouncer is None:
        missing.append("pgbouncer (Debian: pgbouncer)")
    redis = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                             else None)
    if redis is None:
        missing.append("redis-server (Debian: redis-server)")
    if missing:
        return None, missing
    return ServerBinaries(pg_bindir, Path(pgbouncer), Path(redis)), []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None,
                interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - keep polling; the last error goes into the message
            last_error = exc
        time.sleep(interval)
    detail = f" (last error: {last_error})" if last_error else ""
    raise ServerError(f"{what} not ready within {timeout:.0f} s{detail}{_log_tail(log)}")


def _log_tail(log: Path | None, lines: int = 25) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(text)


@dataclass
class _Runner:
    """Runs server programs as the unprivileged user (when we are root) inside ``base``."""

    base: Path
    user: str | None

    @property
    def env(self) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "HOME": str(self.base), "TZ": "UTC"}
        return env

    def _creds(self) -> dict:
        if self.user is None:
            return {}
        return {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []}

    def run(self, argv: list[str], what: str, timeout: float = START_TIMEOUT_S,
            log: Path | None = None) -> str:
        try:
            done = subprocess.run(argv, cwd=self.base, env=self.env, capture_output=True, text=True,
                                  timeout=timeout, check=False, **self._creds())
        except subprocess.TimeoutExpired:
            raise ServerError(f"{what}: `{' '.join(argv)}` did not finish within {timeout:.0f} s"
                              f"{_log_tail(log)}") from None
        if done.returncode != 0:
            raise ServerError(f"{what}: `{' '.join(argv)}` exited with {done.returncode}:\n"
                              f"{(done.stderr or done.stdout).strip()}{_log_tail(log)}")
        return done.stdout

    def spawn(self, argv: list[str], log: Path) -> subprocess.Popen:
        out = log.open("ab")
        try:
            return subprocess.Popen(argv, cwd=self.base, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    **self._creds())
        finally:
            out.close()

    def own(self, path: Path, mode: int = 0o700) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(mode)


def _stop_process(process: subprocess.Popen | None, timeout: float = STOP_TIMEOUT_S) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@dataclass
class PostgresCluster:
    """A primary and one streaming replica. DSNs for the app role carry no password
    (:attr:`app_password` holds it); the superuser DSNs use the Unix socket (trust, local only)."""

    runner: _Runner
    bindir: Path
    primary_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    vector_available: bool = False
    _template_ready: bool = False
    _running: list[Path] = field(default_factory=list)
    _paused: bool = False

    @property
    def socket_dir(self) -> Path:
        return self.runner.base / "sockets"

    @property
    def primary_dir(self) -> Path:
        return self.runner.base / "primary"

    @property
    def replica_dir(self) -> Path:
        return self.runner.base / "replica"

    def log_of(self, data_dir: Path) -> Path:
        return self.runner.base / f"{data_dir.name}.log"

    def _dsn(self, port: int, database: str, superuser: bool) -> str:
        if superuser:
            return f"host={self.socket_dir} port={port} dbname={database} user=postgres"
        return f"host=127.0.0.1 port={port} dbname={database} user={APP_ROLE}"

    @property
    def primary_dsn(self) -> str:
        """The app role on the primary, directly (no PgBouncer)."""
        return self._dsn(self.primary_port, APP_DATABASE, False)

    @property
    def replica_dsn(self) -> str:
        """The app role on the replica, directly."""
        return self._dsn(self.replica_port, APP_DATABASE, False)

    @property
    def superuser_dsn(self) -> str:
        """The superuser on the primary's database ``pdfcompare`` (bypasses RLS)."""
        return self._dsn(self.primary_port, APP_DATABASE, True)

    @property
    def replica_superuser_dsn(self) -> str:
        """The superuser on the replica."""
        return self._dsn(self.replica_port, APP_DATABASE, True)

    def dsn(self, database: str = APP_DATABASE, *, replica: bool = False, superuser: bool = False) -> str:
        """A DSN for any database of the cluster."""
        return self._dsn(self.replica_port if replica else self.primary_port, database, superuser)

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.socket_dir.mkdir()
        self.runner.own(self.socket_dir)
        self.runner.run([str(self.bindir / "initdb"), "-D", str(self.primary_dir), "-U", "postgres",
                         "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--locale=C.UTF-8",
                         "--no-sync", "--no-instructions"], "initdb", timeout=START_TIMEOUT_S)
        with (self.primary_dir / "postgresql.conf").open("a") as conf:
            conf.write(self._config())
        (self.primary_dir / "pg_hba.conf").write_text(
            "# test cluster: the superuser over the socket only; the app role with SCRAM over TCP\n"
            "local   all          postgres                 trust\n"
            "local   replication  postgres                 trust\n"
            f"host    all          {APP_ROLE}       127.0.0.1/32  scram-sha-256\n"
        )
        self._pg_ctl_start(self.primary_dir, self.primary_port)
        self._create_app_database()
        self.runner.run([str(self.bindir / "pg_basebackup"), "-D", str(self.replica_dir), "-R",
                         "-X", "stream", "-c", "fast", "--no-sync",
                         "-d", f"host={self.socket_dir} port={self.primary_port} user=postgres"],
                        "pg_basebackup of the replica", log=self.log_of(self.primary_dir))
        with (self.replica_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {self.replica_port}\n")
        self._pg_ctl_start(self.replica_dir, self.replica_port)
        _wait_until("streaming replication (primary -> replica)", self._replica_streams, START_TIMEOUT_S,
                    self.log_of(self.replica_dir))

    def _config(self) -> str:
        return (
            "\n# --- service tests ---\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "shared_preload_libraries = 'pg_stat_statements'\n"
            "password_encryption = 'scram-sha-256'\n"
            "max_connections = 100\n"
            "shared_buffers = '64MB'\n"
            "wal_level = replica\n"
            "max_wal_senders = 4\n"
            "hot_standby = on\n"
            # Throwaway data: no fsync (much faster on a shared CI disk); replication is unaffected.
            "fsync = off\n"
            "full_page_writes = off\n"
            "logging_collector = off\n"
            "log_min_messages = warning\n"
            "log_min_error_statement = panic\n"
        )

    def _pg_ctl_start(self, data_dir: Path, port: int) -> None:
        log = self.log_of(data_dir)
        self.runner.run([str(self.bindir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-w",
                         "-t", str(int(START_TIMEOUT_S)), "-o", f"-p {port}", "start"],
                        f"PostgreSQL {data_dir.name} on port {port}", timeout=START_TIMEOUT_S + 5, log=log)
        self._running.append(data_dir)

    def _connect(self, dsn: str, autocommit: bool = True):
        import psycopg

        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)

    def _create_app_database(self) -> None:
        from psycopg import sql

        with self._connect(self.dsn("postgres", superuser=True)) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(APP_ROLE), sql.Literal(self.app_password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)))
        self.prepare_database(APP_DATABASE)

    def prepare_database(self, database: str) -> None:
        """Create the extensions in ``database`` as the superuser (the app role cannot)."""
        with self._connect(self.dsn(database, superuser=True)) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
            if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                self.vector_available = True

    def create_database(self, name: str) -> str:
        """A new, empty database owned by the app role, with the extensions; returns its name.
        (Copied from a template made on first use: about 1 s faster than creating the extensions.)"""
        from psycopg import sql

        with self._connect(self.dsn("postgres", superuser=True)) as conn:
            if not self._template_ready:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
                    sql.Identifier(TEMPLATE)))
                self.prepare_database(TEMPLATE)
                self._template_ready = True
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(APP_ROLE), sql.Identifier(TEMPLATE)))
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self._connect(self.dsn("postgres", superuser=True)) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _replica_streams(self) -> bool:
        with self._connect(self.dsn("postgres", superuser=True)) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_replication "
                               "WHERE state = 'streaming'").fetchone()
        return row[0] >= 1

    def stop(self) -> None:
        problems = []
        for data_dir in reversed(self._running):
            try:
                self.runner.run([str(self.bindir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w",
                                 "-t", str(int(STOP_TIMEOUT_S)), "stop"], f"stopping {data_dir.name}",
                                timeout=STOP_TIMEOUT_S + 5)
            except ServerError as exc:
                problems.append(str(exc))
                _kill_postmaster(data_dir)
        self._running.clear()
        if problems:
            raise ServerError("; ".join(problems))

    # --- replication helpers ----------------------------------------------------------------------
    def superuser(self, *, replica: bool = False, database: str = APP_DATABASE):
        """A psycopg connection (autocommit) as the superuser; use it in a ``with`` block."""
        return self._connect(self.dsn(database, replica=replica, superuser=True))

    def pause_replay(self) -> None:
        """Stop applying WAL on the replica (it keeps receiving it): the replica lags from now on."""
        with self.superuser(replica=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            self._paused = True
            _wait_until("replay pause on the replica", lambda: conn.execute(
                "SELECT pg_get_wal_replay_pause_state()").fetchone()[0] == "paused", 10)

    def resume_replay(self, wait: bool = True) -> None:
        """Apply WAL again; with ``wait`` return once the replica has caught up with the primary."""
        with self.superuser(replica=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        self._paused = False
        if wait:
            self.wait_replica_caught_up()

    @contextlib.contextmanager
    def replay_paused(self) -> Iterator[None]:
        """``with cluster.replay_paused():`` the replica lags inside the block, catches up after it."""
        self.pause_replay()
        try:
            yield
        finally:
            self.resume_replay()

    @property
    def replay_is_paused(self) -> bool:
        return self._paused

    def wait_replica_caught_up(self, timeout: float = 30.0) -> None:
        """Wait until the replica has replayed everything the primary has written so far."""
        with self.superuser() as primary:
            target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
        with self.superuser(replica=True) as replica:
            _wait_until("replica replay", lambda: replica.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0], timeout,
                self.log_of(self.replica_dir), interval=0.02)


def _kill_postmaster(data_dir: Path) -> None:
    pid_file = data_dir / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGQUIT)


@dataclass
class PgBouncer:
    """PgBouncer in transaction mode in front of a :class:`PostgresCluster`."""

    runner: _Runner
    binary: Path
    cluster: PostgresCluster
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def write_dsn(self) -> str:
        """The read-write alias (-> primary); no password in it (``cluster.app_password``)."""
        return self.dsn(WRITE_ALIAS)

    @property
    def read_dsn(self) -> str:
        """The read-only alias (-> replica)."""
        return self.dsn(READ_ALIAS)

    def dsn(self, database: str) -> str:
        """Any database: the two aliases, or (``*`` fallback) a database of that name on the primary."""
        return f"host=127.0.0.1 port={self.port} dbname={database} user={APP_ROLE}"

    @property
    def log(self) -> Path:
        return self.runner.base / "pgbouncer.log"

    def start(self) -> None:
        base = self.runner.base
        with self.cluster.superuser() as conn:
            verifier = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s",
                                    (APP_ROLE,)).fetchone()[0]
        if not verifier or not verifier.startswith("SCRAM-SHA-256$"):
            raise ServerError(f"role {APP_ROLE} has no SCRAM-SHA-256 verifier in pg_authid")
        auth_file = base / "userlist.txt"
        auth_file.write_text(f'"{APP_ROLE}" "{verifier}"\n')
        self.runner.own(auth_file, 0o600)
        primary, replica = self.cluster.primary_port, self.cluster.replica_port
        ini = base / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"{WRITE_ALIAS} = host=127.0.0.1 port={primary} dbname={APP_DATABASE}\n"
            f"{READ_ALIAS} = host=127.0.0.1 port={replica} dbname={APP_DATABASE} "
            "connect_query='SET default_transaction_read_only = on'\n"
            f"* = host=127.0.0.1 port={primary}\n"
            "\n[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = scram-sha-256\n"
            f"auth_file = {auth_file}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 200\n"
            "default_pool_size = 10\n"
            "reserve_pool_size = 2\n"
            "ignore_startup_parameters = extra_float_digits\n"
            "server_tls_sslmode = disable\n"
            f"pidfile = {base / 'pgbouncer.pid'}\n"
            "logfile =\n"
            "log_connections = 0\n"
            "log_disconnections = 0\n"
        )
        self.runner.own(ini, 0o600)
        self.process = self.runner.spawn([str(self.binary), str(ini)], self.log)
        _wait_until(f"PgBouncer on port {self.port}", self._answers, START_TIMEOUT_S, self.log)

    def _answers(self) -> bool:
        import psycopg

        if self.process is not None and self.process.poll() is not None:
            raise ServerError(f"PgBouncer exited with {self.process.returncode}{_log_tail(self.log)}")
        with psycopg.connect(self.write_dsn, password=self.cluster.app_password, connect_timeout=5,
                             prepare_threshold=None) as conn:
            return conn.execute("SELECT 1").fetchone()[0] == 1

    def stop(self) -> None:
        _stop_process(self.process)


@dataclass
class RedisServer:
    """Redis with ACL users: :attr:`username`/:attr:`password` (keys ``pdfcompare:*`` only, the
    commands of role redis's ``redis_app_commands``) and an admin for the tests' clean-up."""

    runner: _Runner
    binary: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(18), repr=False)
    username: str = REDIS_APP_USER
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """``redis://pdfcompare@127.0.0.1:PORT/0``: the user in the URL, the password separate."""
        return f"redis://{self.username}@127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.runner.base / "redis.log"

    def start(self) -> None:
        data = self.runner.base / "redis"
        data.mkdir()
        self.runner.own(data)
        conf = self.runner.base / "redis.conf"
        conf.write_text(
            "bind 127.0.0.1\n"
            f"port {self.port}\n"
            "protected-mode yes\n"
            f"dir {data}\n"
            "save \"\"\n"
            "appendonly no\n"
            "daemonize no\n"
            "loglevel warning\n"
            "maxmemory 64mb\n"
            "maxmemory-policy allkeys-lru\n"
            "user default off\n"
            f"user {self.username} on >{self.password} ~pdfcompare:* resetchannels -@all "
            f"{' '.join(APP_REDIS_COMMANDS)}\n"
            f"user {REDIS_ADMIN_USER} on >{self.admin_password} ~* &* +@all\n"
        )
        self.runner.own(conf, 0o600)
        self.process = self.runner.spawn([str(self.binary), str(conf)], self.log)
        _wait_until(f"Redis on port {self.port}", self._answers, START_TIMEOUT_S, self.log)

    def client(self, admin: bool = False):
        """A redis-py client as the app user (or the admin)."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5,
                           username=REDIS_ADMIN_USER if admin else self.username,
                           password=self.admin_password if admin else self.password)

    def flush(self) -> None:
        """Delete every key (as the admin)."""
        with self.client(admin=True) as client:
            client.flushall()

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServerError(f"redis-server exited with {self.process.returncode}{_log_tail(self.log)}")
        with self.client() as client:
            return bool(client.ping())

    def stop(self) -> None:
        _stop_process(self.process)


@dataclass
class Services:
    """All test servers of one session; :meth:`stop` tears everything down and removes the files."""

    base: Path
    postgres: PostgresCluster
    pgbouncer: PgBouncer
    redis: RedisServer
    startup_s: dict[str, float] = field(default_factory=dict)
    _stopped: bool = False

    def app_settings(self, instance_name: str, **overrides: Any) -> Settings:
        """The app's settings for these servers: PgBouncer's aliases, Redis, no metrics server."""
        return Settings(
            database_url=self.pgbouncer.write_dsn,
            database_read_urls=(self.pgbouncer.read_dsn,),
            database_password=self.postgres.app_password,
            database_pool_size=4,
            redis_url=self.redis.url,
            redis_password=self.redis.password,
            instance_name=instance_name,
            metrics_port_offset=0,
            **overrides,
        )

    def stop(self, keep_files: bool = False) -> None:
        if self._stopped:
            return
        self._stopped = True
        problems = []
        for server in (self.pgbouncer, self.redis, self.postgres):
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others, report at the end
                problems.append(f"{type(server).__name__}: {exc}")
        if not keep_files:
            shutil.rmtree(self.base, ignore_errors=True)
        if problems:
            raise ServerError("; ".join(problems))


def start_services(binaries: ServerBinaries) -> Services:
    """Start PostgreSQL (primary + replica), PgBouncer and Redis; on any failure stop what started
    and raise :class:`ServerError`."""
    user = RUN_AS if os.geteuid() == 0 else None
    if user is not None:
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise ServerError(f"running as root needs the unprivileged user {user!r} (Debian's "
                              "postgresql package creates it)") from None
    base = Path(tempfile.mkdtemp(prefix="pdfcompare-services-"))
    runner = _Runner(base, user)
    runner.own(base)
    postgres = PostgresCluster(runner, binaries.pg_bindir)
    services = Services(base, postgres, PgBouncer(runner, binaries.pgbouncer, postgres),
                        RedisServer(runner, binaries.redis_server))
    _REGISTRY.append(services)
    try:
        for name, server in (("postgresql", postgres), ("pgbouncer", services.pgbouncer),
                             ("redis", services.redis)):
            started = time.monotonic()
            server.start()
            services.startup_s[name] = round(time.monotonic() - started, 2)
    except BaseException:
        keep = bool(os.environ.get("PDFCOMPARE_KEEP_SERVICE_FILES"))
        with contextlib.suppress(ServerError):
            services.stop(keep_files=keep)
        raise
    return services


_REGISTRY: list[Services] = []


@atexit.register
def _stop_all() -> None:
    for services in _REGISTRY:
        with contextlib.suppress(Exception):
            services.stop()
