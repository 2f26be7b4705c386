"""Does the web app stay responsive while it compares? (A script, not a pytest test.)

Usage (from the repository root)::

    .venv/bin/python tests/benchmarks/bench_interaction.py                 # both modes, 3 rounds each
    .venv/bin/python tests/benchmarks/bench_interaction.py --rounds 5 --pages 300 --json out.json

What it does, for each mode — ``PDFCOMPARE_WORKERS=2`` (the real mode: PDF work in worker processes)
and ``PDFCOMPARE_WORKERS=0`` (the peer: jobs run inside the server process):

1. starts the real servers of the service tests (PostgreSQL primary + replica, PgBouncer, Redis from
   the Debian packages; ``tests/service/servers.py``) once, and ``pdfcompare serve`` on a free port;
2. session B (a browser tab, ``tests/streamlit_client.py``) compares a small pair and opens its result,
   with both page images rendered;
3. per round, session A uploads a freshly generated 300-page text pair (a few edits, one inserted and
   one deleted page; different bytes every round, so no cached result) and presses Compare, then
   reruns like its progress bar does until the result shows: that is A's compare time;
4. meanwhile session B switches its page viewer between two pages every 0.5 s (a full rerun with a
   widget change) and records each rerun's latency (request sent → script finished);
5. after the rounds, a new user C uploads the last round's pair again and compares: the result comes
   from the shared Redis cache (cold vs cached through the UI).

Prints B's latency (p50/p95/max) while A compares, A's compare time, and the ratios peer / real;
``--json PATH`` writes the figures. Target: B below 200 ms in the real mode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

from pdfcompare.settings import Settings  # noqa: E402

from tests.e2e import live  # noqa: E402
from tests.engine.pdfgen import paragraph, text_pdf  # noqa: E402
from tests.service import servers  # noqa: E402
from tests.streamlit_client import StreamlitSession  # noqa: E402

INTERACTION_EVERY_S = 0.5
POLL_EVERY_S = 0.25
TARGET_MS = 200.0


# --- documents --------------------------------------------------------------------------------------


def text_pair(pages: int, seed: int) -> tuple[bytes, bytes]:
    """A contract-like pair (4 paragraphs of 80 words per page): word edits every 25 pages, two
    swapped paragraphs, one inserted and one deleted page. ``seed`` makes the bytes unique."""
    import bench_engine  # tests/benchmarks/bench_engine.py: the engine benchmark's generator

    rnd = random.Random(seed)
    old = bench_engine._contract(rnd, pages)
    new = [[list(par) for par in page] for page in old]
    for p in range(5, pages, 25):
        new[p][1][10] = "AMENDED"
        new[p][2].insert(20, "additional")
        del new[p][3][30]
    swap = new[min(10, pages - 1)]
    swap[0], swap[2] = swap[2], swap[0]
    if pages > 130:
        del new[120]
    new.insert(min(50, pages), [[f"§new.{k}", *bench_engine._para(rnd, 79)] for k in range(4)])
    out = []
    for content in (old, new):
        doc = bench_engine._text_doc(content)
        out.append(doc.tobytes(garbage=1, deflate=True))
        doc.close()
    return out[0], out[1]


def small_pair() -> tuple[bytes, bytes]:
    old_pages = [[paragraph(p * 10 + k) for k in range(3)] for p in range(3)]
    new_pages = [list(page) for page in old_pages]
    new_pages[1][1] = "The supplier shall deliver the turbine bearings within fourteen days of the order."
    new_pages.append([paragraph(99)])
    return text_pdf(old_pages), text_pdf(new_pages)


# --- sessions ---------------------------------------------------------------------------------------


def wait_until(session: StreamlitSession, done: Any, timeout: float, every: float = POLL_EVERY_S) -> Any:
    deadline = time.monotonic() + timeout
    run = session.last_run
    while run is None or not done(run):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not there after {timeout:.0f} s; the page shows:\n{run.text if run else ''}")
        time.sleep(every)
        run = session.run_script(timeout=max(60.0, timeout))
        run.raise_for_exception()
    return run


def result_shown(run: Any) -> bool:
    return run.has_text("Text changes") or bool(run.texts_of("error"))


def images_ready(run: Any) -> bool:
    return result_shown(run) and not run.has_text("Rendering the page")


def compare(session: StreamlitSession, old: bytes, new: bytes, tag: str, timeout: float) -> dict[str, float]:
    """Upload, press Compare, rerun until the result shows; seconds for each step."""
    started = time.monotonic()
    session.upload_file("Old version (PDF)", f"{tag}-old.pdf", old, timeout=timeout)
    session.upload_file("New version (PDF)", f"{tag}-new.pdf", new, timeout=timeout)
    uploaded = time.monotonic()
    session.click_button("Compare", timeout=timeout)
    wait_until(session, result_shown, timeout)
    if session.last_run.texts_of("error"):
        raise RuntimeError("the comparison failed: " + "; ".join(session.last_run.texts_of("error")))
    finished = time.monotonic()
    return {"upload_s": uploaded - started, "compare_s": finished - uploaded}


@dataclass
class Interactions:
    """Session B switching pages every 0.5 s in a thread; latencies with their send times."""

    session: StreamlitSession
    options: list[str]
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(monotonic time the rerun was sent, latency in seconds)."""
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="session-B", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        k = 0
        while not self._stop.is_set():
            k += 1
            target = self.options[k % len(self.options)]
            sent = time.monotonic()
            try:
                run = self.session.set_widget("Page", target, kind="selectbox", timeout=120)
                if run.exception:
                    self.errors.append(run.exception)
                self.samples.append((sent, run.elapsed_s))
            except Exception as exc:  # noqa: BLE001 - recorded and reported
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(max(0.0, INTERACTION_EVERY_S - (time.monotonic() - sent)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(180)

    def between(self, start: float, end: float) -> list[float]:
        return [latency for sent, latency in self.samples if start <= sent <= end]


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) a process has used so far (Linux)."""
    fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def stats_ms(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(v * 1000 for v in values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1),
            "max_ms": round(ordered[-1], 1)}


# --- one mode ---------------------------------------------------------------------------------------


def run_mode(settings: Settings, workers: int, pairs: list[tuple[bytes, bytes]], timeout: float) -> dict:
    mode = {"workers": workers}
    with live.live_server(settings, name=f"bench-w{workers}",
                          extra_env={"PDFCOMPARE_WORKERS": str(workers)}) as server:
        b = StreamlitSession(server.url, timeout=timeout)
        b.open().raise_for_exception()
        small_old, small_new = small_pair()
        compare(b, small_old, small_new, f"b{workers}", timeout)
        wait_until(b, images_ready, timeout)
        options = list(b.widget("Page", "selectbox").options)
        if len(options) < 2:
            raise RuntimeError(f"session B needs two pages to switch between, has {options}")
        for option in options[:2]:  # render both pages once, so B's reruns measure the UI
            b.set_widget("Page", option, kind="selectbox", timeout=timeout)
            wait_until(b, images_ready, timeout)
        interactions = Interactions(b, options[:2])
        cpu_start, samples_start = process_cpu_s(server.process.pid), len(interactions.samples)
        interactions.start()
        time.sleep(5.0)  # B alone: the baseline
        baseline_end = time.monotonic()
        cpu_used = process_cpu_s(server.process.pid) - cpu_start
        reruns = len(interactions.samples) - samples_start
        mode["server_cpu_ms_per_rerun"] = round(1000 * cpu_used / reruns, 1) if reruns else None
        mode["load_avg"] = os.getloadavg()
        rounds = []
        windows: list[tuple[float, float]] = []
        try:
            for k, (old, new) in enumerate(pairs):
                a = StreamlitSession(server.url, timeout=timeout)
                a.open().raise_for_exception()
                upload_start = time.monotonic()
                a.upload_file("Old version (PDF)", f"a{k}-old.pdf", old, timeout=timeout)
                a.upload_file("New version (PDF)", f"a{k}-new.pdf", new, timeout=timeout)
                clicked = time.monotonic()
                a.click_button("Compare", timeout=timeout)
                wait_until(a, result_shown, timeout)
                done = time.monotonic()
                if a.last_run.texts_of("error"):
                    raise RuntimeError("A's comparison failed: " + "; ".join(a.last_run.texts_of("error")))
                during = interactions.between(clicked, done)
                windows.append((clicked, done))
                rounds.append({"upload_s": round(clicked - upload_start, 2),
                               "compare_s": round(done - clicked, 2), "b_during": stats_ms(during)})
                print(f"  workers={workers} round {k + 1}: A compared in {done - clicked:.2f} s; "
                      f"B during it: {stats_ms(during)}", flush=True)
                a.close()
                time.sleep(2.0)  # let the follow-up work (indexing) start; B keeps interacting
        finally:
            interactions.stop()
        baseline = [lat for sent, lat in interactions.samples if sent <= baseline_end]
        during = [lat for sent, lat in interactions.samples if any(s <= sent <= e for s, e in windows)]
        times = [r["compare_s"] for r in rounds]
        mode["rounds"] = rounds
        mode["compare_s"] = {"median": round(statistics.median(times), 2), "all": times}
        mode["b_idle"] = stats_ms(baseline)
        mode["b_during"] = stats_ms(during)
        mode["b_errors"] = interactions.errors[:5]
        # C: another user, the last pair again -> served from the shared cache
        c = StreamlitSession(server.url, timeout=timeout)
        c.open().raise_for_exception()
        cached = compare(c, *pairs[-1], "c", timeout)
        mode["cached_compare_s"] = round(cached["compare_s"], 2)
        mode["cached_shown"] = c.last_run.has_text("result reused from the shared cache")
        c.close()
        b.close()
    return mode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=300, help="pages of A's documents (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="comparisons by A per mode (default 3)")
    parser.add_argument("--modes", default="2,0", help="PDFCOMPARE_WORKERS values to run (default 2,0)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()

    binaries, missing = servers.find_binaries()
    if binaries is None:
        print("needs " + ", ".join(missing), file=sys.stderr)
        return 2
    print(f"generating {args.rounds} pairs of {args.pages} pages ...", flush=True)
    modes = [int(m) for m in args.modes.split(",")]
    pairs_by_mode = {w: [text_pair(args.pages, 1000 * w + k) for k in range(args.rounds)] for w in modes}
    started = servers.start_services(binaries)
    try:
        from pdfcompare.storage import migrate

        settings = Settings(
            database_url=started.pgbouncer.write_dsn, database_read_urls=(started.pgbouncer.read_dsn,),
            database_password=started.postgres.app_password, database_pool_size=8,
            redis_url=started.redis.url, redis_password=started.redis.password,
            rate_limit_per_minute=0, compare_timeout_s=args.timeout, metrics_port_offset=0)
        migrate(settings)
        results: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "load_avg_start": os.getloadavg(),
                        "python": platform.python_version(), "platform": platform.platform()},
            "pages": args.pages, "rounds": args.rounds, "interaction_every_s": INTERACTION_EVERY_S,
            "modes": {}}
        for workers in modes:
            print(f"mode PDFCOMPARE_WORKERS={workers}", flush=True)
            results["modes"][str(workers)] = run_mode(settings, workers, pairs_by_mode[workers], args.timeout)
        results["machine"]["load_avg_end"] = os.getloadavg()
    finally:
        started.stop()
    report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


def report(results: dict[str, Any]) -> None:
    print()
    print(f"{'mode':<22} {'B idle p50':>10} {'B p50':>8} {'B p95':>8} {'B max':>8} {'A compare':>10} "
          f"{'cached':>8} {'CPU/rerun':>10}")
    rows = {}
    for workers, mode in results["modes"].items():
        merged = mode["b_during"]
        rows[workers] = merged
        label = "real (workers=2)" if workers != "0" else "peer (workers=0)"
        print(f"{label:<22} {fmt(mode['b_idle']['p50_ms'])} {fmt(merged['p50_ms'], 8)} "
              f"{fmt(merged['p95_ms'], 8)} {fmt(merged['max_ms'], 8)} {mode['compare_s']['median']:>9.2f}s "
              f"{mode['cached_compare_s']:>7.2f}s {fmt(mode['server_cpu_ms_per_rerun'])}")
    if "0" in rows and len(rows) > 1:
        real = next(k for k in rows if k != "0")
        for key in ("p50_ms", "p95_ms", "max_ms"):
            if rows[real][key] and rows["0"][key]:
                ratio = round(rows["0"][key] / rows[real][key], 1)
                results.setdefault("ratios_peer_over_real", {})[key] = ratio
        results["ratios_peer_over_real"]["compare_s"] = round(
            results["modes"]["0"]["compare_s"]["median"] / results["modes"][real]["compare_s"]["median"], 2)
        print("peer / real:", results["ratios_peer_over_real"])
    real_mode = results["modes"].get("2")
    if real_mode:
        verdict = "met" if (real_mode["b_during"]["p95_ms"] or 1e9) < TARGET_MS else "NOT met"
        print(f"target B < {TARGET_MS:.0f} ms (p95) in the real mode: {verdict}")


def fmt(value: float | None, width: int = 10) -> str:
    return f"{'-' if value is None else f'{value:.0f} ms':>{width}}"


if __name__ == "__main__":
    raise SystemExit(main())
