"""An upgrade to another release: new release current, the old one's directory (libraries) gone,
the server restarted on it, the pulled models kept. Runs the tier playbook like an operator would,
with a second build of the archive test double (another version)."""

import json
import os
import subprocess

from conftest import ARCHIVE_DIR, ROOT, URL, http_json, node

from tests.doubles.ollama_archive import build_archive

journal_units = ["ollama"]
# Seconds the playbook may take (bounded: never hangs CI).
PLAYBOOK_TIMEOUT = 300


def test_upgrade_replaces_the_release_and_keeps_the_models():
    old = node("ai1").file("/opt/ollama/current").linked_to
    built = build_archive(ARCHIVE_DIR / "upgrade", version="0.0.1-test-double")
    extra = {"ollama_version": built.version, "ollama_archive_local": str(built.path),
             "ollama_archive_sha256": {"amd64": built.sha256}}
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "run by Molecule's verifier (MOLECULE_INVENTORY_FILE)"
    res = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", inventory, "playbooks/ai.yml",
         "--tags", "ollama", "-e", json.dumps(extra)],
        cwd=ROOT, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles")})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    ai = node("ai1")
    new = ai.file("/opt/ollama/current").linked_to
    assert new != old and "/0.0.1-test-double-" in new
    assert not ai.file(old).exists, "the old release (and its lib/ollama) must be removed"
    assert http_json("ai1", f"{URL}/api/version")["version"] == "0.0.1-test-double"
    names = {m["name"] for m in http_json("ai1", f"{URL}/api/tags")["models"]}
    assert {"llama3.2:latest", "nomic-embed-text:latest"} <= names
    pulls = [r for r in http_json("ai1", f"{URL}/_double/requests") if r["path"] == "/api/pull"]
    assert pulls == [], "models already on disk must not be pulled again after an upgrade"
