"""The Streamlit protocol client works against a real Streamlit server, like a browser would.

A small app is written into a temporary directory and served by ``streamlit run`` on 127.0.0.1 with
XSRF protection on (as ``pdfcompare serve`` runs it); one server over http for most tests, one over
https with a certificate from a throwaway CA for the TLS and Secure-cookie path.
"""

from __future__ import annotations

import datetime
import http.cookiejar
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tests.conftest import ROOT
from tests.streamlit_client import (
    XSRF_COOKIE,
    ConnectError,
    RunStatus,
    ScriptException,
    ScriptTimeout,
    SessionUnknownError,
    StreamlitSession,
    UploadError,
    WidgetError,
    cookie_header,
    main,
)

APP = """
import time

import streamlit as st

st.title("Client test app")
st.write("hello from the test app")
st.caption(f"query: {dict(st.query_params)}")
if "clicks" not in st.session_state:
    st.session_state.clicks = 0
if st.button("Press me"):
    st.session_state.clicks += 1
st.text(f"clicks={st.session_state.clicks}")
name = st.text_input("Your name")
if name:
    st.markdown(f"Hello, {name}!")
colour = st.selectbox("Colour", ["red", "green", "blue"])
st.text(f"colour={colour}")
upload = st.file_uploader("Upload a PDF", type=["pdf"])
if upload is not None:
    st.success(f"uploaded {upload.name} ({upload.size} bytes)")
if st.button("Slow"):
    time.sleep(SLOW_S)
    st.text("slow done")
if st.button("Fail"):
    raise ValueError("deliberate failure")
"""
SLOW_S = 1.0
STARTUP_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class _Server:
    """A ``streamlit run`` process serving the test app."""

    url: str
    process: subprocess.Popen
    log: Path
    cafile: Path | None = None


def _launch(directory: Path, *, tls: tuple[Path, Path, Path] | None = None) -> _Server:
    """Start the test app with ``streamlit run`` (over https with ``tls`` = CA, cert, key); no wait."""
    app = directory / "app.py"
    app.write_text(APP.replace("SLOW_S", repr(SLOW_S)))
    port = _free_port()
    log = directory / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--server.enableXsrfProtection", "true",
    ]  # fmt: skip
    if tls is not None:
        command += ["--server.sslCertFile", str(tls[1]), "--server.sslKeyFile", str(tls[2])]
    env = {**os.environ, "HOME": str(directory)}  # Streamlit keeps its machine files under ~/.streamlit
    with log.open("w") as log_file:
        process = subprocess.Popen(command, cwd=directory, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    scheme = "http" if tls is None else "https"
    return _Server(f"{scheme}://127.0.0.1:{port}", process, log, None if tls is None else tls[0])


def _wait_healthy(server: _Server) -> None:
    """Poll /_stcore/health until it answers 200, the server dies, or the bounded wait ends."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=server.cafile)),
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"streamlit exited with {server.process.returncode}:\n{server.log.read_text()}")
        try:
            with opener.open(f"{server.url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"streamlit did not become healthy within {STARTUP_TIMEOUT_S} s:\n{server.log.read_text()}")


def _stop(servers: list[_Server]) -> None:
    """Ask every server to stop, then wait for each (bounded); kill what does not stop."""
    for server in servers:
        server.process.terminate()
    for server in servers:
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[dict[str, _Server]]:
    """The app over http and, when ``cryptography`` can make a CA, over https; started side by side."""
    launched = {"http": _launch(tmp_path_factory.mktemp("streamlit-http"))}
    try:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            pass
        else:
            directory = tmp_path_factory.mktemp("streamlit-https")
            launched["https"] = _launch(directory, tls=_make_ca_and_server_cert(directory))
        for server in launched.values():
            _wait_healthy(server)
        yield launched
    finally:
        _stop(list(launched.values()))


@pytest.fixture(scope="module")
def server(servers) -> str:
    return servers["http"].url


@pytest.fixture(scope="module")
def tls_server(servers) -> tuple[str, Path]:
    """The app over https (Streamlit then marks its XSRF cookie Secure): (url, CA file)."""
    if "https" not in servers:
        pytest.skip("the https server needs the cryptography package to make its certificates")
    return servers["https"].url, servers["https"].cafile


def _make_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key) paths."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "streamlit-client test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def session(server) -> Iterator[StreamlitSession]:
    with StreamlitSession(server, timeout=10) as opened:
        yield opened


# ------------------------------------------------------------------------------------------ runs


def test_open_loads_the_page_and_returns_what_the_script_showed(session):
    run = session.open("case=open")

    assert run.ok, run
    assert run.status == RunStatus.FINISHED_SUCCESSFULLY
    assert run.session_id and run.session_id == session.session_id
    assert run.texts_of("title") == ["Client test app"]
    assert "hello from the test app" in run.texts_of("markdown")
    assert run.texts_of("caption") == ["query: {'case': 'open'}"]
    assert [(w.kind, w.label) for w in run.widgets] == [
        ("button", "Press me"),
        ("text_input", "Your name"),
        ("selectbox", "Colour"),
        ("file_uploader", "Upload a PDF"),
        ("button", "Slow"),
        ("button", "Fail"),
    ]
    assert run.widget("Colour").options == ("red", "green", "blue")
    assert 0 < run.started_s <= run.elapsed_s < 10
    assert session.page_load.health == "ok"
    assert "allowedOrigins" in session.page_load.host_config
    assert session.xsrf_token().startswith("2|"), session.cookie_values()


def test_a_button_click_reruns_once_and_shows_its_effect(session):
    assert session.open().has_text("clicks=0")

    assert session.click_button("Press me").has_text("clicks=1")
    assert session.click_button("Press me").has_text("clicks=2")
    # A click is a trigger: a plain rerun afterwards does not click again.
    assert session.run_script().has_text("clicks=2")


def test_widget_values_are_sent_and_kept_across_reruns(session):
    session.open()

    assert "Hello, Ada!" in session.set_widget("Your name", "Ada").texts_of("markdown")
    run = session.set_widget("Colour", "blue")
    assert run.has_text("colour=blue") and run.has_text("Hello, Ada!")
    assert session.click_button("Press me").has_text("colour=blue")

    with pytest.raises(WidgetError, match=r"no option 'pink'.*\['red', 'green', 'blue'\]"):
        session.set_widget("Colour", "pink")


def test_an_unknown_widget_is_reported_with_the_widgets_seen(session):
    session.open()

    with pytest.raises(
        WidgetError, match=r"no widget 'Nope'.*button 'Press me'.*file_uploader 'Upload a PDF'"
    ):
        session.widget("Nope")
    with pytest.raises(WidgetError, match="no widget button 'Your name'"):
        session.click_button("Your name")


def test_an_exception_in_the_script_is_reported(session):
    session.open()

    run = session.click_button("Fail")

    assert run.status == RunStatus.FINISHED_SUCCESSFULLY
    assert not run.ok
    assert run.exception == "ValueError: deliberate failure"
    with pytest.raises(ScriptException, match="deliberate failure"):
        run.raise_for_exception()


# --------------------------------------------------------------------------------------- uploads


def test_an_upload_shows_the_file_name_and_size(session):
    session.open()
    data = b"%PDF-1.4\n" + bytes(range(256)) * 16  # 4 KiB and a bit

    run = session.upload_file("Upload a PDF", "report.pdf", data)

    assert run.texts_of("success") == [f"uploaded report.pdf ({len(data)} bytes)"]
    # The uploader keeps its file on later reruns, as in a browser.
    assert session.click_button("Press me").has_text(f"uploaded report.pdf ({len(data)} bytes)")


def test_an_upload_to_an_unknown_session_is_refused_distinctly(session):
    session.open()

    with pytest.raises(SessionUnknownError) as refused:
        session.put_file("/_stcore/upload_file/no-such-session/some-file", "x.pdf", b"%PDF-1.4\n")

    assert isinstance(refused.value, UploadError)
    assert refused.value.status == 400
    assert "Invalid session_id" in refused.value.body
    assert "HTTP 400" in str(refused.value)


def test_an_upload_without_the_xsrf_cookie_is_refused_with_403(session):
    session.open()
    session.cookies.clear("127.0.0.1", "/", XSRF_COOKIE)

    with pytest.raises(UploadError) as refused:
        session.stage_upload("Upload a PDF", "x.pdf", b"%PDF-1.4\n")

    assert not isinstance(refused.value, SessionUnknownError)
    assert refused.value.status == 403
    assert "XSRF" in refused.value.body


# ---------------------------------------------------------------------------------- sessions


def test_two_sessions_sharing_a_cookie_jar_are_independent(server):
    jar = http.cookiejar.CookieJar()
    with (
        StreamlitSession(server, cookies=jar, timeout=10) as first,
        StreamlitSession(server, cookies=jar, timeout=10) as second,
    ):
        first.open()
        second.open()
        assert first.session_id != second.session_id
        assert first.xsrf_token() == second.xsrf_token()  # one browser, one XSRF cookie

        assert first.click_button("Press me").has_text("clicks=1")
        first.set_widget("Colour", "green")

        run = second.run_script()
        assert run.has_text("clicks=0") and run.has_text("colour=red")
        assert first.run_script().has_text("clicks=1")


def test_a_reconnect_resumes_the_session_and_a_fresh_one_does_not(session):
    first = session.open()
    session.click_button("Press me")

    resumed = session.reconnect()
    assert resumed.session_id == first.session_id
    assert resumed.has_text("clicks=1")

    fresh = session.reconnect(resume=False)
    assert fresh.session_id != first.session_id
    assert fresh.has_text("clicks=0")


def test_a_session_stays_responsive_while_another_runs_a_long_job(server):
    with StreamlitSession(server, timeout=10) as busy, StreamlitSession(server, timeout=10) as other:
        busy.open()
        other.open()
        slow = busy.widget("Slow")
        ticket = busy.send_rerun(widget_states=[WidgetState(id=slow.id, trigger_value=True)])

        quick = other.click_button("Press me")
        long_run = busy.wait_for_run(ticket)

        assert quick.has_text("clicks=1")
        assert quick.elapsed_s < SLOW_S
        assert long_run.has_text("slow done")
        assert long_run.elapsed_s >= SLOW_S


def test_a_timeout_is_reported_and_the_session_remains_usable(session):
    session.open()

    with pytest.raises(ScriptTimeout, match="script_finished"):
        session.click_button("Slow", timeout=0.2)

    run = session.run_script()  # replaces the slow run (Streamlit's fast reruns)
    assert run.ok and not run.has_text("slow done")


# --------------------------------------------------------------------------------- TLS, cookies


def test_https_verified_with_a_ca_file_carries_the_secure_xsrf_cookie(tls_server):
    url, ca = tls_server
    with StreamlitSession(url, cafile=ca, timeout=10) as secure:
        run = secure.open()
        assert run.ok and run.has_text("clicks=0")

        (xsrf,) = [cookie for cookie in secure.cookies if cookie.name == XSRF_COOKIE]
        assert xsrf.secure
        ws_url = secure.websocket_url
        assert ws_url.startswith("wss://")
        assert XSRF_COOKIE in cookie_header(secure.cookies, ws_url)
        assert cookie_header(secure.cookies, "ws" + ws_url[3:]) is None  # never over plain ws

        uploaded = secure.upload_file("Upload a PDF", "tls.pdf", b"%PDF-1.4\n" * 100)
        assert uploaded.texts_of("success") == ["uploaded tls.pdf (900 bytes)"]


def test_https_without_the_ca_file_fails_verification(tls_server):
    url, _ = tls_server
    with (
        StreamlitSession(url, timeout=10) as unverified,
        pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        unverified.open()


def test_cookies_from_a_load_balancer_are_stored_and_sent_like_a_browser():
    jar = http.cookiejar.CookieJar()
    request = urllib.request.Request("https://lb.example:8443/")
    response = _FakeResponse(
        "pdfcompare_backend=app1_8501; Path=/; Secure; HttpOnly",
        "_streamlit_xsrf=2|aa|bb|1; Path=/; SameSite=Lax",
    )
    jar.extract_cookies(response, request)

    secure_header = cookie_header(jar, "wss://lb.example:8443/_stcore/stream")
    assert set(secure_header.split("; ")) == {"_streamlit_xsrf=2|aa|bb|1", "pdfcompare_backend=app1_8501"}
    assert cookie_header(jar, "ws://lb.example:8443/_stcore/stream") == "_streamlit_xsrf=2|aa|bb|1"
    assert cookie_header(jar, "https://other.example/") is None
    session = StreamlitSession("https://lb.example:8443", cookies=jar)
    assert session.cookie_values() == {"_streamlit_xsrf": "2|aa|bb|1", "pdfcompare_backend": "app1_8501"}
    assert session.websocket_url == "wss://lb.example:8443/_stcore/stream"


class _FakeResponse:
    def __init__(self, *set_cookies: str) -> None:
        import email.message

        self._headers = email.message.Message()
        for value in set_cookies:
            self._headers["Set-Cookie"] = value

    def info(self):
        return self._headers


def test_a_base_url_must_be_http_or_https():
    with pytest.raises(ValueError, match="http:// or https://"):
        StreamlitSession("ws://127.0.0.1:8501")


# ------------------------------------------------------------------------------------------- CLI


def test_the_command_line_prints_one_json_line(server):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "streamlit_client.py"), server, "--timeout", "10",
         "--expect-text", "Client test app", "--click", "Press me"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    report = json.loads(line)
    assert report["ok"] is True
    assert report["session_id"]
    assert report["status"] == "finished_successfully"
    assert report["elapsed_s"] > 0
    assert {"kind": "text", "text": "clicks=1"} in report["texts"]
    assert XSRF_COOKIE in report["cookies"]
    assert [step["step"] for step in report["steps"]] == ["open", "click Press me"]


def test_the_command_line_exits_1_when_a_text_is_missing(server, capsys, tmp_path):
    pdf = tmp_path / "cli.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" * 10)

    status = main(
        [server, "--timeout", "10", "--upload", f"Upload a PDF={pdf}", "--expect-text", "Not shown"]
    )

    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["ok"] is False
    assert report["missing_texts"] == ["Not shown"]
    assert "uploaded cli.pdf (90 bytes)" in [block["text"] for block in report["texts"]]


def test_the_command_line_reports_an_unreachable_server(capsys):
    status = main([f"http://127.0.0.1:{_free_port()}", "--timeout", "2"])

    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["error"].startswith("ConnectError:")
