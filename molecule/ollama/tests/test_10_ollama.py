"""Ollama installed from a local release archive (the archive test double), hardened, private, models once."""

import pytest
from conftest import ADDRESSES, PORT, URL, http_json, node, tcp

journal_units = ["ollama"]


def test_service_runs_enabled_as_its_own_user():
    ai = node("ai1")
    assert ai.service("ollama").is_running and ai.service("ollama").is_enabled
    props = ai.run("systemctl show ollama -p User -p NoNewPrivileges -p ProtectSystem -p ProtectHome "
                   "-p PrivateTmp -p CapabilityBoundingSet -p Restart").stdout
    for expected in ("User=ollama", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                     "PrivateTmp=yes", "CapabilityBoundingSet=\n", "Restart=always"):
        assert expected in props + "\n", props
    assert ai.user("ollama").shell == "/usr/sbin/nologin"


def test_environment_has_the_seed_defaults():
    env = node("ai1").run("systemctl show ollama -p Environment").stdout
    for expected in (f"OLLAMA_HOST={ADDRESSES['ai1']}:{PORT}", "OLLAMA_MODELS=/var/lib/ollama/models",
                     "OLLAMA_NUM_PARALLEL=4", "OLLAMA_MAX_LOADED_MODELS=2"):
        assert expected in env, env


def test_listens_on_the_private_address_only():
    listeners = node("ai1").run(f"ss -ltnH 'sport = :{PORT}'").stdout.split("\n")
    local = sorted({line.split()[3] for line in listeners if line.strip()})
    assert local == [f"{ADDRESSES['ai1']}:{PORT}"]


def test_the_pinned_release_is_current_and_alone():
    ai = node("ai1")
    current = ai.file("/opt/ollama/current")
    assert current.is_symlink and current.linked_to.startswith("/opt/ollama/releases/0.0.0-test-double-")
    assert ai.run("ls /opt/ollama/releases").stdout.split() == [current.linked_to.rsplit("/", 1)[1]]
    assert ai.file("/opt/ollama/current/lib/ollama").is_directory
    assert ai.file(current.linked_to).user == "root"
    assert ai.run("ollama --version").stdout.strip() == "ollama version is 0.0.0-test-double"
    assert http_json("ai1", f"{URL}/api/version")["version"] == "0.0.0-test-double"


def test_models_are_installed_and_kept_on_disk():
    names = {m["name"] for m in http_json("ai1", f"{URL}/api/tags")["models"]}
    assert {"llama3.2:latest", "nomic-embed-text:latest"} <= names
    store = "/var/lib/ollama/models/manifests/registry.ollama.ai/library"
    for model in ("llama3.2", "nomic-embed-text"):
        manifest = node("ai1").file(f"{store}/{model}/latest")
        assert manifest.exists and manifest.user == "ollama"


def test_each_model_was_pulled_once_over_converge_idempotence_and_check():
    # The double records every request since the service started (converge started it once).
    pulls = [r["body"].get("model") for r in http_json("ai1", f"{URL}/_double/requests")
             if r["method"] == "POST" and r["path"] == "/api/pull"]
    assert sorted(pulls) == ["llama3.2:latest", "nomic-embed-text:latest"]


@pytest.mark.parametrize(("short", "expected"), [("app1", "open"), ("outsider", "timeout")])
def test_only_app_hosts_reach_the_api(short, expected):
    allowed = [expected] if expected == "open" else ["timeout", "refused"]
    assert tcp(short, ADDRESSES["ai1"], PORT) in allowed


def test_app_host_can_use_the_api():
    answer = http_json("app1", f"{URL}/api/embed", {"model": "nomic-embed-text", "input": "hello"})
    assert len(answer["embeddings"][0]) == 768
