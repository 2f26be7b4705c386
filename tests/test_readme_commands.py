"""README's two commands exist, and CI runs the test command README names."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def make_targets() -> set[str]:
    out = subprocess.run(["make", "-qp"], cwd=ROOT, capture_output=True, text=True).stdout
    return set(re.findall(r"^([a-z][a-z-]*):", out, flags=re.M))


def test_readme_names_the_two_commands():
    block = re.search(r"## The two commands\n(.*?)\n## ", README, flags=re.S).group(1)
    assert "make lab " in block and "make test " in block


def test_both_commands_are_make_targets():
    targets = make_targets()
    assert {"lab", "test", "lab-down", "lab-status"} <= targets


def test_ci_runs_the_readme_test_command_and_needs_a_fresh_debian():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    for pkg in ("docker.io", "debootstrap", "apt-cacher-ng", "python3-venv"):
        assert pkg in ci, pkg


def test_pytest_without_tests_fails_in_make():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"-eq 5 \]; then .*exit 1", makefile)
