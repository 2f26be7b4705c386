"""Basic auth at the balancer; the user reaches the app in a trusted header that clients cannot forge."""

import shlex
import subprocess

from conftest import ROOT, browse, name, node


def test_wrong_password_is_refused(client_ready):
    res = node("client").run("curl -sS -o /dev/null -w '%{http_code}' --cacert /etc/ssl/molecule-web/ca.crt "
                             "-u alice:wrong https://web-lb1/")
    assert res.stdout == "401"


def test_the_signed_in_user_reaches_the_app(client_ready):
    report = browse("--expect-text", "Signed in as alice", user="alice")
    assert report["ok"], report


def test_a_client_sent_user_header_is_replaced_by_the_balancer(client_ready):
    report = browse("--header", "X-Pdfcompare-User: bob", "--expect-text", "Signed in as alice", user="alice")
    assert report["ok"], report
    assert not any("Signed in as bob" in t["text"] for t in report.get("texts", [])), report


def test_the_header_is_ignored_from_a_host_that_is_not_a_trusted_proxy():
    # On app1 itself (its address is not a trusted proxy), straight to an instance with a forged header.
    subprocess.run(["docker", "cp", str(ROOT / "tests" / "streamlit_client.py"),
                    f"{name('app1')}:/root/streamlit_client.py"], check=True, timeout=60)
    cmd = ("/opt/pdfcompare/venv/bin/python /root/streamlit_client.py http://172.31.30.21:8501 "
           "--header 'X-Pdfcompare-User: mallory'")
    res = node("app1").run(f"timeout 120 bash -c {shlex.quote(cmd)}")
    assert "Signed in as mallory" not in res.stdout, res.stdout
    assert "sign" in res.stdout.lower(), res.stdout  # the page asks to sign in through the balancer
