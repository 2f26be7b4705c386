"""Several browsers at once against the balancer (runs on web-client with the client's venv).

    python browsers.py URL --cafile CA --sessions 20            # 20 new browsers, open together
    python browsers.py URL --cafile CA --sessions 10 --one-jar  # one browser, 10 page loads in a row

Prints one JSON line: per session the backend cookie nginx set, the instance the page says served it,
the session id and the time to the end of the first script run. Credentials come from the
environment (BROWSER_AUTH_<USER> = "user:password"). Bounded: at most 50 sessions, 60 s per wait.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import sys
import threading
import time

from streamlit_client import StreamlitClientError, StreamlitSession

INSTANCE = re.compile(r"instance (\S+?)(?:\s|$|·)")
COOKIE = "pdfcompare_backend"


def served_by(texts: list[str]) -> str | None:
    for text in texts:
        match = INSTANCE.search(text)
        if match:
            return match.group(1)
    return None


def visit(url: str, cafile: str, auth: tuple[str, str] | None, jar: http.cookiejar.CookieJar,
          hold: threading.Barrier | None) -> dict:
    """One page load. With ``hold``, the session stays open until every other one has arrived at
    the barrier, whether this one worked or not (a failed session must not fail the others)."""
    session = StreamlitSession(url, cafile=cafile, cookies=jar, timeout=60, basic_auth=auth)
    try:
        run = session.open()
        result = {"ok": run.ok, "session_id": run.session_id, "elapsed_s": round(run.elapsed_s, 3),
                  "backend": session.cookie_values().get(COOKIE),
                  "instance": served_by([block.text for block in run.texts]),
                  "handshake_retries": session.handshake_retries}
        if not run.ok:
            result["error"] = f"run ended {run.status.name}, exception {run.exception}"
    except StreamlitClientError as error:
        result = {"ok": False, "error": f"{type(error).__name__}: {error}",
                  "backend": session.cookie_values().get(COOKIE)}
    try:
        if hold is not None:  # keep every session open until all are: really concurrent
            hold.wait(timeout=120)
    except threading.BrokenBarrierError:
        result.setdefault("note", "not every session arrived within 120 s")
    finally:
        session.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--cafile", required=True)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--one-jar", action="store_true",
                        help="the same browser each time, one after another")
    parser.add_argument("--user", default="alice")
    args = parser.parse_args()
    count = min(args.sessions, 50)
    credentials = os.environ.get(f"BROWSER_AUTH_{args.user.upper()}", "")
    auth = tuple(credentials.split(":", 1)) if credentials else None
    started = time.monotonic()
    results: list[dict] = []
    if args.one_jar:
        jar = http.cookiejar.CookieJar()
        for _ in range(count):
            results.append(visit(args.url, args.cafile, auth, jar, None))
    else:
        barrier = threading.Barrier(count)
        slots: list[dict] = [{} for _ in range(count)]

        def one(index: int) -> None:
            slots[index] = visit(args.url, args.cafile, auth, http.cookiejar.CookieJar(), barrier)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        results = slots
    print(json.dumps({"seconds": round(time.monotonic() - started, 2), "sessions": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
