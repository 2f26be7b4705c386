"""Worker processes: PDF work never runs in the server process.

PyMuPDF holds the interpreter lock while MuPDF parses or renders, so a comparison inside the
Streamlit server would freeze every session of the instance. :class:`WorkerPool` runs each job in a
fresh process from a ``forkserver`` (which has imported :mod:`pdfcompare.jobs` and PyMuPDF once, so a
job starts in milliseconds), at most ``settings.workers`` at a time; other jobs wait in a FIFO queue.
A process per job returns its memory to the system when the job ends and can be killed: the pool
kills a job that outlives its time limit plus :data:`HARD_TIMEOUT_GRACE_S` (MuPDF calls cannot be
interrupted from inside), a job that is cancelled, and reports a child that died (e.g. killed by the
kernel for lack of memory) in one line, never with a traceback.

The child streams progress and its result over a pipe; one supervisor thread in the server process
starts queued jobs, reads every pipe, enforces deadlines and reaps children.

With ``settings.workers == 0`` jobs run inline in the caller's thread (benchmark peer only: it
freezes the instance during PDF work and has no hard time limit).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from . import metrics
from .settings import Settings

__all__ = [
    "WorkerPool",
    "JobHandle",
    "Job",
    "JobContext",
    "JobOutcome",
    "JobError",
    "JobFailed",
    "ParentContext",
    "Progress",
    "JobState",
    "HARD_TIMEOUT_GRACE_S",
    "PRELOAD",
    "user_message",
]

log = logging.getLogger("pdfcompare.workers")

HARD_TIMEOUT_GRACE_S = 5.0
"""Seconds after a job's time limit at which its process is killed (the engine stops itself at the
limit when it can; this catches a MuPDF call that does not return)."""
PRELOAD = ("pdfcompare.jobs", "pdfcompare.cli", "pymupdf")
"""Modules the forkserver imports once, so every job process starts with them loaded. A new process
also re-runs the server's main script (multiprocessing does that for forkserver children; the
``pdfcompare`` command's script only imports :mod:`pdfcompare.cli`), hence the CLI module here."""
STARTUP_ALLOWANCE_S = 30.0
"""Most seconds a worker process may take to start before the job counts as failed."""
_PROGRESS_INTERVAL_S = 0.05
WORKER_NICE = 10
"""Scheduling niceness added to worker processes: PDF work yields the CPU to the server process, so
page interactions stay fast while comparisons run."""

JobState = Literal["queued", "running", "done", "failed", "timeout", "cancelled"]
FINAL_STATES = ("done", "failed", "timeout", "cancelled")


class JobError(Exception):
    """A job failed for a reason its message explains to the user (raised inside jobs)."""


class JobFailed(Exception):
    """Raised by :meth:`JobHandle.result` when the job did not succeed; ``state`` says how it ended
    (``failed``, ``timeout``, ``cancelled``) and the message is for the user."""

    def __init__(self, message: str, state: JobState) -> None:
        super().__init__(message)
        self.message = message
        self.state = state

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a job is: ``stage`` (engine stages ``extract-old``, ``extract-new``, ``align``, ``ocr``,
    ``pages``, ``done``, and the jobs' own ``loading``, ``saving``), ``done`` of ``total`` steps."""

    stage: str
    done: int
    total: int
    updated_at: float
    """``time.time()`` of the update."""

    @property
    def fraction(self) -> float:
        """Progress of the stage between 0 and 1."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a job ended (given to :meth:`Job.on_finished` in the server process)."""

    state: JobState
    result: Any = None
    error_message: str | None = None
    error_type: str | None = None
    """Class name of the exception that failed the job (for metrics), or None."""
    run_s: float = 0.0
    """Seconds from start to end (0 for a job cancelled while queued)."""
    queued_s: float = 0.0
    """Seconds the job waited for a worker."""


@dataclass
class ParentContext:
    """What a job's :meth:`Job.on_finished` may use in the server process (each may be None)."""

    settings: Settings
    storage: Any = None
    cache: Any = None


class Job:
    """Base of the jobs: picklable (a dataclass of ids and small values), ``run`` executes in the
    worker process, ``on_finished`` in the server process once the job has ended, however it ended."""

    kind: ClassVar[str] = "job"
    what: ClassVar[str] = "job"
    """What the job is, for messages ("The comparison did not finish ...")."""

    def run(self, ctx: JobContext) -> Any:
        """Do the work; return a small picklable result. Raise :class:`JobError` (or an engine error)
        with a message for the user when it cannot be done."""
        raise NotImplementedError

    def timeout_s(self, settings: Settings) -> float:
        """Time limit of the job (the process is killed at this plus the grace period)."""
        return settings.compare_timeout_s

    def on_finished(self, outcome: JobOutcome, parent: ParentContext) -> None:
        """Record the outcome (metrics, a failed row) in the server process. Must not raise."""


class JobContext:
    """What a running job gets: its settings, a progress callback and lazily built connections.

    ``storage`` and ``cache`` are built inside the worker process from the settings (connections are
    never shared with the server process) and closed when the job ends.
    """

    def __init__(self, settings: Settings, job_id: str,
                 send: Callable[[Progress], None] | None = None, *,
                 storage: Any = None, cache: Any = None) -> None:
        self.settings = settings
        self.job_id = job_id
        self._send = send
        self._last_sent = 0.0
        self._last_stage: str | None = None
        self._storage = storage
        self._cache = cache
        self._owns_storage = storage is None
        self._owns_cache = cache is None
        self._database: Any = None

    def progress(self, stage: str, done: int = 0, total: int = 0) -> None:
        """Report progress (a stage change and the end of a stage are always sent, updates within a
        stage at most every 50 ms)."""
        if self._send is None:
            return
        now = time.monotonic()
        final = total > 0 and done >= total
        if stage == self._last_stage and not final and now - self._last_sent < _PROGRESS_INTERVAL_S:
            return
        self._last_stage = stage
        self._last_sent = now
        self._send(Progress(stage, done, total, time.time()))

    @property
    def cache(self) -> Any:
        """The Redis cache (:class:`pdfcompare.cache.Cache`; off when no Redis is configured)."""
        if self._cache is None:
            from .cache import Cache

            self._cache = Cache(self.settings)
        return self._cache

    @property
    def storage(self) -> Any:
        """The storage (:class:`pdfcompare.storage.Storage`) of this process."""
        if self._storage is None:
            from .storage import Database, Storage

            cache = self.cache
            self._database = Database(self.settings, lsn_store=cache if cache.enabled else None,
                                      on_read_fallback=metrics.count_db_read_fallback)
            self._storage = Storage(self._database)
        return self._storage

    def close(self) -> None:
        """Close what this context opened."""
        if self._owns_storage and self._database is not None:
            with contextlib.suppress(Exception):
                self._database.close()
        if self._owns_cache and self._cache is not None:
            with contextlib.suppress(Exception):
                self._cache.close()


def user_message(exc: BaseException, what: str = "job") -> tuple[str, JobState, bool]:
    """For an exception raised by a job: the one-line message for the user, the job's final state,
    and whether the failure was expected (bad input, a limit) rather than a bug worth a traceback."""
    from .engine import PdfCompareError, TimeLimitExceededError

    if isinstance(exc, TimeLimitExceededError):
        return str(exc), "timeout", True
    if isinstance(exc, PdfCompareError | JobError):
        return str(exc), "failed", True
    if isinstance(exc, MemoryError):
        return f"The {what} ran out of memory; the documents are too large for this server.", "failed", True
    if type(exc).__module__.startswith("pdfcompare.") and str(exc).strip():
        # our own typed errors (storage, cache, ...) carry messages written for users
        return str(exc).strip().splitlines()[0], "failed", True
    return (f"The {what} failed because of an internal error ({type(exc).__name__}); "
            "please report this to the administrator.", "failed", False)


def _run_guarded(job: Job, ctx: JobContext) -> tuple[str, Any, str | None]:
    """Run ``job``: ``("result", value, None)`` or ``("error", (message, state), error type)``."""
    try:
        value = job.run(ctx)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
        message, state, expected = user_message(exc, job.what)
        if expected:
            log.info("job %s (%s) ended: %s", ctx.job_id, job.kind, message)
        else:
            log.error("job %s (%s) failed", ctx.job_id, job.kind, exc_info=exc)
        return "error", (message, state), type(exc).__name__
    return "result", value, None


def _child_main(job: Job, settings: Settings, job_id: str,
                conn: multiprocessing.connection.Connection) -> None:
    """Entry point of a worker process (runs after the forkserver forked it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C / stop is the server's to handle
    with contextlib.suppress(OSError):  # when CPUs are short, the server's sessions come first
        os.nice(WORKER_NICE)
    from .logs import configure_logging

    configure_logging(settings.log_level)
    metrics.start_forwarding()  # counted in the server process (this process's registry dies with it)
    conn.send(("started", os.getpid(), time.time()))

    def send(progress: Progress) -> None:
        conn.send(("progress", progress))

    ctx = JobContext(settings, job_id, send)
    try:
        status, value, error_type = _run_guarded(job, ctx)
    finally:
        ctx.close()
    conn.send(("metrics", metrics.take_forwarded()))
    try:
        conn.send((status, value, error_type))
    except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result
        conn.send(("error", (f"The {job.what} failed: its result could not be returned "
                             f"({type(exc).__name__}).", "failed"), type(exc).__name__))
    conn.close()
    # Leave without running the interpreter's shutdown (finalizers, atexit): the result is sent.
    os._exit(0)


def _warm_up_child() -> None:
    """A worker process that does nothing (see :meth:`WorkerPool._warm_up`)."""


def _seconds(value: float) -> str:
    return "1 second" if value == 1 else f"{value:g} seconds"


class JobHandle:
    """A submitted job as the UI sees it. Thread-safe; read ``state`` and ``progress`` at any time."""

    _ids = itertools.count(1)

    def __init__(self, job: Job, timeout_s: float,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.id = f"job-{os.getpid()}-{next(self._ids)}"
        self.job = job
        self.timeout_s = timeout_s
        self.state: JobState = "queued"
        self.progress: Progress | None = None
        self.error_message: str | None = None
        self.error_type: str | None = None
        self.submitted_at = time.monotonic()
        self.started_at: float | None = None
        """``time.monotonic()`` when the worker process reported it is running the job."""
        self.finished_at: float | None = None
        self.pid: int | None = None
        self._result: Any = None
        self._on_progress = on_progress
        self._done = threading.Event()
        self._cancel_requested = False
        self._pool: WorkerPool | None = None

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {self.job.kind} {self.state}>"

    @property
    def done(self) -> bool:
        """The job has ended (done, failed, timeout or cancelled)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the job ends; True when it has."""
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The job's result; raises :class:`JobFailed` (message for the user) when it did not succeed
        and :class:`TimeoutError` when it is still running after ``timeout`` seconds."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"{self.id} is still {self.state}")
        if self.state != "done":
            raise JobFailed(self.error_message or f"The {self.job.what} did not finish.", self.state)
        return self._result

    def cancel(self) -> bool:
        """Cancel the job (a running one is killed). False when it had already ended."""
        if self.done:
            return False
        self._cancel_requested = True
        if self._pool is not None:
            return self._pool._cancel(self)
        return False

    def _set_progress(self, progress: Progress) -> None:
        self.progress = progress
        if self._on_progress is not None:
            try:
                self._on_progress(progress)
            except Exception:  # noqa: BLE001 - a listener must not break the supervisor
                log.exception("progress listener of %s failed", self.id)


@dataclass
class _Running:
    handle: JobHandle
    process: Any
    conn: multiprocessing.connection.Connection
    deadline: float
    outcome: tuple[str, Any, str | None] | None = None
    kill_reason: JobState | None = None
    killed_at: float | None = None


class WorkerPool:
    """Runs jobs in worker processes, at most ``settings.workers`` at once (see the module docstring).

    ``storage`` and ``cache`` are the server process's own, handed to the jobs' ``on_finished``
    hooks (e.g. to mark a comparison failed after its process was killed).
    """

    def __init__(self, settings: Settings, *, storage: Any = None, cache: Any = None,
                 preload: Iterable[str] = PRELOAD, grace_s: float = HARD_TIMEOUT_GRACE_S) -> None:
        self.settings = settings
        self.parent = ParentContext(settings, storage, cache)
        self.size = settings.workers
        self.grace_s = grace_s
        self.preload = list(preload)
        """Modules the forkserver imports (only the first pool of a process that starts it decides)."""
        self._lock = threading.Lock()
        self._queue: deque[JobHandle] = deque()
        self._running: dict[str, _Running] = {}
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = (-1, -1)
        self._closed = False
        self._finisher: ThreadPoolExecutor | None = None
        self._ctx: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------

    @property
    def inline(self) -> bool:
        """Jobs run in the caller's thread (``settings.workers == 0``)."""
        return self.size == 0

    def start(self) -> None:
        """Start the forkserver (importing the preload modules) and the supervisor thread. Called by
        :meth:`submit` when needed; call it early (before other threads exist) in a server."""
        if self.inline or self._thread is not None:
            return
        with self._lock:
            if self._thread is not None:
                return
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            self._ctx = multiprocessing.get_context("forkserver")
            self._ctx.set_forkserver_preload(self.preload)
            multiprocessing.forkserver.ensure_running()
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)
            self._warm_up()
            self._finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdfcompare-jobs-finish")
            self._thread = threading.Thread(target=self._supervise, name="pdfcompare-workers", daemon=True)
            self._thread.start()

    def _warm_up(self) -> None:
        """Start one empty process, so the forkserver has imported the preload modules before the
        first job (otherwise the first job waits for them, about a second)."""
        started = time.monotonic()
        process = self._ctx.Process(target=_warm_up_child, name="pdfcompare-warm-up", daemon=True)
        try:
            process.start()
            process.join(STARTUP_ALLOWANCE_S)
        except Exception as exc:  # noqa: BLE001 - the jobs will report it if it persists
            log.warning("the worker processes' forkserver did not start: %s", exc)
            return
        if process.exitcode is None:
            process.kill()
            process.join(1.0)
        log.info("worker forkserver ready in %.2f s (preloaded %s)", time.monotonic() - started,
                 ", ".join(self.preload))

    def close(self, timeout: float = 5.0) -> None:
        """Cancel queued jobs, kill running ones and stop the supervisor."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            queued = list(self._queue)
            self._queue.clear()
        for handle in queued:
            metrics.worker_queue_depth.dec()
            self._finish(handle, JobOutcome("cancelled", error_message=self._stopped_message(handle)))
        if self._thread is not None:
            self._wake()
            self._thread.join(timeout)
            if self._finisher is not None:
                self._finisher.shutdown(wait=True)
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def __enter__(self) -> WorkerPool:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public API ----------------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._queue)

    @property
    def busy(self) -> int:
        """Jobs running now."""
        return len(self._running)

    def submit(self, job: Job, on_progress: Callable[[Progress], None] | None = None) -> JobHandle:
        """Queue ``job``; returns its handle at once (inline mode: after the job has run).

        ``on_progress`` is called with every :class:`Progress` (from the supervisor thread: keep it
        short)."""
        handle = JobHandle(job, job.timeout_s(self.settings), on_progress)
        if self.inline:
            self._run_inline(handle)
            return handle
        self.start()
        handle._pool = self
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            self._queue.append(handle)
            metrics.worker_queue_depth.inc()
        self._wake()
        return handle

    # --- inline mode ---------------------------------------------------------------------------------

    def _run_inline(self, handle: JobHandle) -> None:
        handle.state = "running"
        handle.started_at = time.monotonic()
        metrics.workers_busy.inc()
        ctx = JobContext(self.settings, handle.id, handle._set_progress,
                         storage=self.parent.storage, cache=self.parent.cache)
        try:
            status, value, error_type = _run_guarded(handle.job, ctx)
        finally:
            ctx.close()
            metrics.workers_busy.dec()
        run_s = time.monotonic() - handle.started_at
        if status == "result":
            outcome = JobOutcome("done", result=value, run_s=run_s)
        else:
            message, state = value
            outcome = JobOutcome(state, error_message=message, error_type=error_type, run_s=run_s)
        self._complete(handle, outcome)

    # --- the supervisor thread -------------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def _cancel(self, handle: JobHandle) -> bool:
        with self._lock:
            if handle in self._queue:
                self._queue.remove(handle)
                metrics.worker_queue_depth.dec()
                queued = True
            else:
                queued = False
        if queued:
            self._finish(handle, JobOutcome(
                "cancelled", error_message=f"The {handle.job.what} was cancelled.",
                queued_s=time.monotonic() - handle.submitted_at))
            return True
        self._wake()  # the supervisor kills the running process
        return True

    def _supervise(self) -> None:
        try:
            while True:
                with self._lock:
                    closing = self._closed
                if closing:
                    self._kill_all()
                    return
                self._start_queued()
                self._poll()
        except Exception:  # pragma: no cover - a bug here must be visible, and must not hang the UI
            log.exception("the worker supervisor stopped")
            self._kill_all()

    def _start_queued(self) -> None:
        while True:
            with self._lock:
                if not self._queue or len(self._running) >= self.size or self._closed:
                    return
                handle = self._queue.popleft()
                metrics.worker_queue_depth.dec()
            self._launch(handle)

    def _launch(self, handle: JobHandle) -> None:
        parent_conn, child_conn = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(target=_child_main, name=f"pdfcompare-{handle.job.kind}",
                                    args=(handle.job, self.settings, handle.id, child_conn), daemon=True)
        try:
            process.start()
        except Exception as exc:  # noqa: BLE001 - e.g. the forkserver died, no memory for a process
            parent_conn.close()
            child_conn.close()
            log.error("cannot start a worker process: %s", exc)
            self._finish(handle, JobOutcome(
                "failed", error_message=f"The {handle.job.what} could not be started: the server has no "
                "worker process available; please try again.", error_type=type(exc).__name__,
                queued_s=time.monotonic() - handle.submitted_at))
            return
        child_conn.close()
        handle.pid = process.pid
        handle.state = "running"
        handle.started_at = time.monotonic()
        # until the child says it runs the job, it may take a while to start (a busy machine)
        deadline = handle.started_at + STARTUP_ALLOWANCE_S + handle.timeout_s + self.grace_s
        self._running[handle.id] = _Running(handle, process, parent_conn, deadline)
        metrics.workers_busy.inc()

    def _poll(self) -> None:
        now = time.monotonic()
        running = list(self._running.values())
        waits = [r.deadline - now for r in running if r.kill_reason is None]
        timeout = max(0.0, min(waits)) if waits else None
        objects: list[Any] = [self._wake_r]
        for r in running:
            if not r.conn.closed:
                objects.append(r.conn)
            objects.append(r.process.sentinel)
        ready = multiprocessing.connection.wait(objects, timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError, OSError):
                os.read(self._wake_r, 4096)
        for r in running:
            if not r.conn.closed and r.conn in ready:
                self._read(r)
            if r.process.sentinel in ready:
                self._read(r)  # whatever the child sent before it exited
                self._reap(r)
                continue
            if r.kill_reason is None:
                if r.handle._cancel_requested:
                    self._kill(r, "cancelled")
                elif time.monotonic() > r.deadline:
                    self._kill(r, "timeout")

    def _read(self, r: _Running) -> None:
        try:
            while not r.conn.closed and r.conn.poll():
                message = r.conn.recv()
                kind = message[0]
                if kind == "started":
                    r.handle.started_at = time.monotonic()
                    r.deadline = r.handle.started_at + r.handle.timeout_s + self.grace_s
                elif kind == "progress":
                    r.handle._set_progress(message[1])
                elif kind == "metrics":
                    metrics.replay(message[1])
                else:
                    r.outcome = message
        except (EOFError, OSError):
            r.conn.close()
        except Exception as exc:  # noqa: BLE001 - e.g. a result class the server cannot unpickle
            log.error("cannot read the result of %s: %s", r.handle.id, exc)
            r.outcome = ("error", (f"The {r.handle.job.what} failed: its result could not be read.",
                                   "failed"), type(exc).__name__)
            r.conn.close()

    def _kill(self, r: _Running, reason: JobState) -> None:
        r.kill_reason = reason
        r.killed_at = time.monotonic()
        with contextlib.suppress(Exception):
            r.process.kill()

    def _reap(self, r: _Running) -> None:
        r.process.join(1.0)
        self._running.pop(r.handle.id, None)
        metrics.workers_busy.dec()
        with contextlib.suppress(Exception):
            r.conn.close()
        handle = r.handle
        started = handle.started_at or time.monotonic()
        common = {"run_s": time.monotonic() - started,
                  "queued_s": started - handle.submitted_at}
        what = handle.job.what
        if r.outcome is not None and r.kill_reason is None:
            status, value, error_type = r.outcome
            if status == "result":
                outcome = JobOutcome("done", result=value, **common)
            else:
                message, state = value
                outcome = JobOutcome(state, error_message=message, error_type=error_type, **common)
        elif r.kill_reason == "timeout":
            outcome = JobOutcome("timeout", error_type="HardTimeout", error_message=(
                f"The {what} did not finish within {_seconds(handle.timeout_s)} and was stopped. "
                "Very large documents may need a higher time limit (PDFCOMPARE_COMPARE_TIMEOUT_S)."),
                **common)
        elif r.kill_reason == "cancelled":
            outcome = JobOutcome("cancelled", error_message=f"The {what} was cancelled.", **common)
        else:
            outcome = JobOutcome("failed", error_type="WorkerDied",
                                 error_message=self._death_message(what, r.process.exitcode), **common)
        self._finish(handle, outcome)

    @staticmethod
    def _death_message(what: str, exitcode: int | None) -> str:
        if exitcode is not None and exitcode < 0:
            try:
                name = signal.Signals(-exitcode).name
            except ValueError:
                name = f"signal {-exitcode}"
            if name == "SIGKILL":
                return (f"The {what} stopped: its worker process was killed, probably because the server ran "
                        "out of memory. Try smaller documents, or ask the administrator for more memory.")
            return (f"The {what} stopped: its worker process crashed ({name}). Please report this to the "
                    "administrator with the files.")
        return (f"The {what} stopped: its worker process exited unexpectedly (exit code {exitcode}). "
                "Please report this to the administrator.")

    def _stopped_message(self, handle: JobHandle) -> str:
        return f"The {handle.job.what} was cancelled because the server is shutting down."

    def _kill_all(self) -> None:
        for r in list(self._running.values()):
            if r.kill_reason is None:
                self._kill(r, "cancelled")
        for r in list(self._running.values()):
            self._read(r)
            r.process.join(2.0)
            self._reap(r)

    # --- the end of a job ------------------------------------------------------------------------------

    def _finish(self, handle: JobHandle, outcome: JobOutcome) -> None:
        """Record the outcome off the supervisor thread (hooks may write to the database), then
        release the waiters."""
        if self._finisher is not None:
            try:
                self._finisher.submit(self._complete, handle, outcome)
                return
            except RuntimeError:  # shut down: complete here
                pass
        self._complete(handle, outcome)

    def _complete(self, handle: JobHandle, outcome: JobOutcome) -> None:
        try:
            handle.job.on_finished(outcome, self.parent)
        except Exception:  # noqa: BLE001 - the outcome stands even if recording it failed
            log.exception("on_finished of %s (%s) failed", handle.id, handle.job.kind)
        handle._result = outcome.result
        handle.error_message = outcome.error_message
        handle.error_type = outcome.error_type
        handle.finished_at = time.monotonic()
        handle.state = outcome.state
        handle._done.set()
