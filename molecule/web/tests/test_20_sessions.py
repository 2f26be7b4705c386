"""Sessions spread over every instance; a browser stays on the instance that served it."""

from collections import Counter

from conftest import INSTANCES, browsers


def test_twenty_concurrent_sessions_spread_over_all_four_instances(client_ready, measurements):
    report = browsers("--sessions", "20")
    sessions = report["sessions"]
    failed = [s for s in sessions if not s.get("ok")]
    assert not failed, failed
    backends = Counter(s["backend"] for s in sessions)
    measurements["sessions_per_instance_of_20"] = dict(sorted(backends.items()))
    measurements["twenty_concurrent_sessions_s"] = report["seconds"]
    # Opening handshakes that got no answer within 20 s and were tried again (as a browser does).
    measurements["websocket_handshake_retries_of_20"] = sum(s.get("handshake_retries", 0) for s in sessions)
    assert set(backends) == INSTANCES, backends
    # The cookie names the instance that really ran the session (the page says which one).
    for session in sessions:
        assert session["instance"].replace(":", "-") == session["backend"], session


def test_the_same_browser_always_reaches_the_same_instance(client_ready):
    sessions = browsers("--sessions", "10", "--one-jar")["sessions"]
    failed = [s for s in sessions if not s.get("ok")]
    assert not failed, failed
    assert len({s["backend"] for s in sessions}) == 1, sessions
    assert len({s["instance"] for s in sessions}) == 1, sessions
