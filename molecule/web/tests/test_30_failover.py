"""Failover and failback of a pinned browser: it keeps working, and keeps uploading after the
instance it lost comes back (the upload must reach the instance holding its session)."""

import subprocess
import time

import pymupdf
import pytest
from conftest import CLIENT_DIR, INSTANCES, browse, browsers, instance_host, name, node, wait_healthy

journal_units = ["pdf-compare@8501", "pdf-compare@8502", "nginx"]
JAR = f"{CLIENT_DIR}/failover.jar"
PDF = f"{CLIENT_DIR}/failover.pdf"
UPLOAD = ["--upload", f"Old version (PDF)={PDF}", "--expect-text", "failover.pdf"]


@pytest.fixture(scope="module")
def pdf_on_client(client_ready, tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "failover.pdf"
    with pymupdf.open() as doc:
        doc.new_page().insert_text((72, 72), "A page uploaded across a failover.")
        doc.save(path)
    subprocess.run(["docker", "cp", str(path), f"{name('client')}:{PDF}"], check=True, timeout=60)
    node("client").run(f"rm -f {JAR}")


def test_a_pinned_browser_fails_over_and_stays_after_failback(pdf_on_client, measurements):
    first = browse("--jar", JAR, *UPLOAD)
    assert first["ok"], first
    pinned = first["cookies"]["pdfcompare_backend"]
    assert pinned in INSTANCES
    host, port = instance_host(pinned)
    started = time.monotonic()
    assert node(host).run(f"systemctl stop pdf-compare@{port}").rc == 0
    try:
        # The tab reconnects with its old session id; the balancer sends it elsewhere and says where.
        moved = browse("--jar", JAR, "--resume", first["session_id"], *UPLOAD)
        assert moved["ok"], moved
        measurements["failover_first_run_s"] = round(time.monotonic() - started, 2)
        failed_over_to = moved["cookies"]["pdfcompare_backend"]
        assert failed_over_to in INSTANCES - {pinned}, moved["cookies"]
        assert moved["session_id"] != first["session_id"]  # a new session on the other instance
    finally:
        assert node(host).run(f"systemctl start pdf-compare@{port}").rc == 0
    wait_healthy(host, port)
    # Failback does not move the browser: its cookie names the instance that holds its session,
    # so the reconnect resumes that session there and the upload reaches it.
    after = browse("--jar", JAR, "--resume", moved["session_id"], *UPLOAD)
    assert after["ok"], after
    assert after["cookies"]["pdfcompare_backend"] == failed_over_to
    assert after["session_id"] == moved["session_id"]
    measurements["failover"] = {"pinned": pinned, "failed_over_to": failed_over_to,
                                "after_failback": after["cookies"]["pdfcompare_backend"]}


def test_new_browsers_reach_the_returned_instance_again(client_ready):
    # nginx tries a failed instance again after its fail_timeout (10 s); new browsers go to the
    # instance with the fewest connections, which the returned one is.
    deadline = time.monotonic() + 60
    while True:
        sessions = browsers("--sessions", "8")["sessions"]
        backends = {s["backend"] for s in sessions if s.get("ok")}
        if backends == INSTANCES or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert backends == INSTANCES, [s for s in sessions if not s.get("ok")] or backends
