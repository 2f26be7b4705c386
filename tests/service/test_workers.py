"""The worker pool's mechanics: real worker processes from the forkserver, no database needed.

Jobs come from tests/doubles/worker_jobs.py (stand-ins that sleep, block in C, spin, crash, fail).
"""

from __future__ import annotations

import signal
import statistics
import threading
import time
from collections.abc import Iterator

import pytest
from pdfcompare import metrics
from pdfcompare.settings import Settings
from pdfcompare.workers import PRELOAD, JobFailed, Progress, WorkerPool

from tests.doubles import worker_jobs as wj

# the jobs of these tests, and pytest (multiprocessing re-runs the main script in each worker: here
# pytest's, which imports pytest)
TEST_PRELOAD = (*PRELOAD, "tests.doubles.worker_jobs", "pytest")


def settings(**overrides) -> Settings:
    values = {"workers": 2, "compare_timeout_s": 30.0, "metrics_port_offset": 0,
              "instance_name": "workers-test"}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture()
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(settings(), preload=TEST_PRELOAD) as p:
        yield p


def outcome_of(label: str):
    found = [o for name, o in wj.FINISHED if name == label]
    assert found, f"on_finished was not called for {label}"
    return found[-1]


def test_a_job_runs_in_another_process_and_returns_its_result(pool: WorkerPool) -> None:
    import os

    handle = pool.submit(wj.SleepJob(seconds=0.01, result=[1, 2, 3], label="basic"))
    value = handle.result(timeout=30)
    assert value["result"] == [1, 2, 3]
    assert value["pid"] != os.getpid()
    assert handle.state == "done" and handle.error_message is None
    assert outcome_of("basic").state == "done"


def test_a_job_blocked_in_c_is_killed_at_the_time_limit_plus_grace() -> None:
    with WorkerPool(settings(compare_timeout_s=0.5), preload=TEST_PRELOAD, grace_s=0.5) as pool:
        handle = pool.submit(wj.BlockInCJob(seconds=60, label="block"))
        assert handle.wait(20), "the pool did not stop the blocked job"
    assert handle.state == "timeout"
    assert handle.error_message.startswith("The comparison did not finish within 0.5 seconds and was stopped")
    elapsed = handle.finished_at - handle.started_at
    assert 0.9 <= elapsed < 10, elapsed
    with pytest.raises(JobFailed) as info:
        handle.result(0)
    assert info.value.state == "timeout"
    assert outcome_of("block").state == "timeout"


def test_a_job_spinning_in_python_is_killed_too() -> None:
    with WorkerPool(settings(compare_timeout_s=0.3), preload=TEST_PRELOAD, grace_s=0.3) as pool:
        handle = pool.submit(wj.BusyLoopJob(label="busy"))
        assert handle.wait(20)
    assert handle.state == "timeout"
    assert "did not finish within 0.3 seconds" in handle.error_message


@pytest.mark.parametrize(("sig", "expected"), [
    (signal.SIGKILL, "its worker process was killed, probably because the server ran out of memory"),
    (signal.SIGSEGV, "its worker process crashed (SIGSEGV)"),
])
def test_a_crashed_worker_is_reported_in_one_line(pool: WorkerPool, sig: int, expected: str) -> None:
    handle = pool.submit(wj.KillSelfJob(sig=sig, label=f"crash-{sig}"))
    assert handle.wait(20)
    assert handle.state == "failed"
    assert expected in handle.error_message
    assert "\n" not in handle.error_message and "Traceback" not in handle.error_message
    assert handle.progress is not None and handle.progress.stage == "extract-old"


@pytest.mark.parametrize(("mode", "message"), [
    ("job", "The old document no longer exists."),
    ("engine", "The old file is password protected."),
    ("bug", "The comparison failed because of an internal error (KeyError); please report this to the "
            "administrator."),
])
def test_failures_become_messages_for_the_user(pool: WorkerPool, mode: str, message: str) -> None:
    handle = pool.submit(wj.FailJob(mode=mode, label=f"fail-{mode}"))
    with pytest.raises(JobFailed) as info:
        handle.result(timeout=20)
    assert str(info.value) == message
    assert handle.state == "failed"
    assert "internal detail" not in handle.error_message
    assert outcome_of(f"fail-{mode}").error_type in ("JobError", "EncryptedPdfError", "KeyError")


def test_a_result_that_cannot_be_sent_back_is_a_failure_not_a_hang(pool: WorkerPool) -> None:
    handle = pool.submit(wj.UnpicklableResultJob(label="unpicklable"))
    assert handle.wait(20)
    assert handle.state == "failed"
    assert "could not be returned" in handle.error_message


def test_at_most_workers_jobs_run_at_once_and_the_rest_wait_in_order(pool: WorkerPool) -> None:
    jobs = [wj.SleepJob(seconds=0.5, label=f"conc-{k}") for k in range(3)]
    handles = [pool.submit(job) for job in jobs]
    deadline = time.monotonic() + 20
    while not all(h.state == "running" for h in handles[:2]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [h.state for h in handles] == ["running", "running", "queued"]
    assert pool.busy == 2 and pool.queue_depth == 1
    for h in handles:
        h.result(timeout=30)
    first_end = min(h.finished_at for h in handles[:2])
    assert handles[2].started_at >= first_end - 0.05, "the third job started before a worker was free"
    assert pool.busy == 0 and pool.queue_depth == 0


def test_queue_depth_and_busy_workers_are_exported(pool: WorkerPool) -> None:
    from prometheus_client import REGISTRY

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    base_depth, base_busy = value("pdfcompare_worker_queue_depth"), value("pdfcompare_workers_busy")
    handles = [pool.submit(wj.SleepJob(seconds=0.4, label=f"gauge-{k}")) for k in range(3)]
    deadline = time.monotonic() + 20
    while pool.busy < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert value("pdfcompare_workers_busy") - base_busy == 2
    assert value("pdfcompare_worker_queue_depth") - base_depth == 1
    for h in handles:
        h.wait(30)
    time.sleep(0.05)
    assert value("pdfcompare_workers_busy") == base_busy
    assert value("pdfcompare_worker_queue_depth") == base_depth
    assert metrics.worker_queue_depth is not None


def test_progress_arrives_in_order(pool: WorkerPool) -> None:
    seen: list[Progress] = []
    handle = pool.submit(wj.StagesJob(label="stages"), on_progress=seen.append)
    stages = handle.result(timeout=20)
    received = [(p.stage, p.done) for p in seen]
    expected = [(stage, k) for stage in stages for k in (1, 2, 3)]
    # updates within a stage may be skipped (at most one per 50 ms), never reordered; the end of each
    # stage always arrives
    positions = [expected.index(item) for item in received]
    assert positions == sorted(positions)
    assert [(s, 3) for s in stages] == [item for item in received if item[1] == 3]
    assert handle.progress.stage == "done"
    assert all(a.updated_at <= b.updated_at for a, b in zip(seen, seen[1:], strict=False))


def test_a_queued_and_a_running_job_can_be_cancelled() -> None:
    with WorkerPool(settings(workers=1), preload=TEST_PRELOAD) as pool:
        running = pool.submit(wj.SleepJob(seconds=30, steps=30, label="cancel-running"))
        queued = pool.submit(wj.SleepJob(seconds=0.01, label="cancel-queued"))
        deadline = time.monotonic() + 20
        while running.state != "running" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert queued.cancel()
        assert queued.wait(5) and queued.state == "cancelled"
        assert running.cancel()
        assert running.wait(5) and running.state == "cancelled"
        assert not running.cancel()
        assert running.finished_at - running.started_at < 10
        # the slot is free again
        assert pool.submit(wj.SleepJob(seconds=0.01)).result(timeout=20)["result"] == "ok"


def test_the_server_process_stays_responsive_while_a_job_holds_its_gil(pool: WorkerPool) -> None:
    """A ticker thread of this (the "server") process keeps running while a worker renders with
    PyMuPDF, which holds the worker's interpreter lock. Mechanics, not a benchmark: the bound is
    generous."""
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        handle = pool.submit(wj.GilHoggerJob(seconds=1.0, label="gil"))
        renders = handle.result(timeout=30)
    finally:
        stop.set()
        thread.join()
    during = [t for t in ticks if handle.started_at <= t <= handle.finished_at]
    gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
    assert renders >= 1
    assert len(during) >= 30, len(during)
    assert max(gaps) < 0.5, max(gaps)


def test_jobs_start_quickly_from_the_forkserver(pool: WorkerPool) -> None:
    """submit -> the worker reports it runs the job; printed for the record (pytest -s)."""
    latencies = []
    for k in range(8):
        handle = pool.submit(wj.SleepJob(seconds=0.0, label=f"latency-{k}"))
        handle.result(timeout=20)
        latencies.append(handle.started_at - handle.submitted_at)
    median = statistics.median(latencies)
    print(f"\nsubmit->running: median {median * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    assert median < 1.0


def test_inline_mode_runs_in_the_callers_thread() -> None:
    seen: list[Progress] = []
    pool = WorkerPool(settings(workers=0))
    handle = pool.submit(wj.StagesJob(label="inline"), on_progress=seen.append)
    assert handle.done and handle.state == "done"
    assert handle.result(0)[0] == "loading"
    assert seen[-1].stage == "done"
    failing = pool.submit(wj.FailJob(mode="bug", label="inline-bug"))
    assert failing.state == "failed"
    assert "internal error (KeyError)" in failing.error_message
    assert outcome_of("inline").state == "done"
    pool.close()


def test_a_closed_pool_refuses_jobs_and_stops_the_running_ones() -> None:
    pool = WorkerPool(settings(workers=1), preload=TEST_PRELOAD)
    running = pool.submit(wj.SleepJob(seconds=30, steps=30, label="close-running"))
    queued = pool.submit(wj.SleepJob(seconds=0.01, label="close-queued"))
    deadline = time.monotonic() + 20
    while running.state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    pool.close()
    assert running.wait(5) and running.state == "cancelled"
    assert queued.wait(5) and queued.state == "cancelled"
    assert "shutting down" in queued.error_message
    with pytest.raises(RuntimeError):
        pool.submit(wj.SleepJob())
