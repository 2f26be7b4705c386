"""The balancer over TLS, verified against the site CA, from a host outside the site."""

from conftest import BASE_URL, CA_ON_CLIENT, INSTANCES, browse, node

journal_units = ["nginx"]


def curl(args: str):
    return node("client").run(f"curl -sS --max-time 10 --cacert {CA_ON_CLIENT} {args}")


def test_health_of_the_balancer_over_verified_tls():
    res = curl(f"-f {BASE_URL}/health")
    assert res.rc == 0, res.stderr
    # The app's own health through the balancer (no session, no auth needed for it).
    assert curl(f"-f {BASE_URL}/_stcore/health").stdout.strip() == "ok"


def test_certificate_is_the_site_cas_and_names_the_balancer():
    res = node("client").run(
        "echo | openssl s_client -connect web-lb1:443 -servername web-lb1 -verify_return_error "
        f"-CAfile {CA_ON_CLIENT} 2>/dev/null | openssl x509 -noout -ext subjectAltName")
    assert res.rc == 0, res.stderr
    assert "DNS:web-lb1" in res.stdout and "IP Address:172.31.30.11" in res.stdout


def test_tls_below_1_2_is_refused():
    res = node("client").run("echo | openssl s_client -connect web-lb1:443 -tls1_1 2>&1")
    assert res.rc != 0


def test_http_redirects_to_https_and_headers_are_set():
    redirect = node("client").run("curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' http://web-lb1/x")
    assert redirect.stdout.split()[0] in ("301", "308"), redirect.stdout
    assert redirect.stdout.split()[1].startswith("https://web-lb1/")
    headers = curl(f"-D - -o /dev/null {BASE_URL}/health").stdout.lower()
    for header in ("strict-transport-security", "x-content-type-options: nosniff", "x-frame-options",
                   "referrer-policy"):
        assert header in headers, headers


def test_app_needs_a_signed_in_user():
    assert curl(f"-o /dev/null -w '%{{http_code}}' {BASE_URL}/").stdout == "401"


def test_a_session_runs_the_app_script_through_the_balancer():
    # A plain GET never runs the app: this is a websocket session that runs the script to the end.
    report = browse("--expect-text", "PDF Compare")
    assert report["ok"], report
    assert report["status"] == "finished_successfully"
    assert report["cookies"].get("pdfcompare_backend") in INSTANCES, report["cookies"]


def test_stub_status_only_on_loopback():
    lb = node("lb1")
    assert "Active connections" in lb.run("curl -sS http://127.0.0.1:8080/stub_status").stdout
    assert node("client").run("curl -sS --max-time 5 http://web-lb1:8080/stub_status").rc != 0
