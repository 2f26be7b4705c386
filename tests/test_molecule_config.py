"""Molecule scenarios start exactly the systemd containers the lab harness starts."""

import re
from pathlib import Path

import pytest
import yaml

from tests.lab import labctl

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted(p for p in (ROOT / "molecule").iterdir() if (p / "molecule.yml").is_file())
SHARED = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())


def options_from_labctl() -> dict:
    opts = labctl.RUN_OPTIONS
    pairs = [(opts[i], opts[i + 1]) for i in range(len(opts) - 1) if opts[i].startswith("-")]
    return {
        "capabilities": sorted(v for k, v in pairs if k == "--cap-add"),
        "security_opts": sorted(v for k, v in pairs if k == "--security-opt"),
        "tmpfs": sorted(v for k, v in pairs if k == "--tmpfs"),
        "volumes": sorted(v for k, v in pairs if k == "-v"),
        "cgroupns_mode": "host" if "--cgroupns=host" in opts else None,
        "command": labctl.COMMAND,
    }


def test_there_are_scenarios():
    assert SCENARIOS


def test_shared_sequence_keeps_idempotence_and_skips_galaxy():
    sequence = SHARED["scenario"]["test_sequence"]
    assert "idempotence" in sequence
    assert sequence.index("converge") < sequence.index("idempotence") < sequence.index("verify")
    assert "check" in sequence
    assert "dependency" not in sequence
    assert SHARED["verifier"]["name"] == "testinfra"
    assert SHARED["driver"]["name"] == "docker"


# Scenarios whose verify step re-runs their playbook on the converged hosts and fails on any change
# (scenario -> test files that do it): they leave out Molecule's separate idempotence step.
OWN_IDEMPOTENCE_PROOF = {"database": ["test_60_switchover.py", "test_70_failover.py"]}


@pytest.mark.parametrize("scenario", sorted(OWN_IDEMPOTENCE_PROOF))
def test_scenarios_without_the_idempotence_step_prove_it_in_verify(scenario: str):
    for test_file in OWN_IDEMPOTENCE_PROOF[scenario]:
        source = (ROOT / "molecule" / scenario / "tests" / test_file).read_text()
        assert 'run_playbook("database.yml")' in source and "assert not unexpected" in source, test_file
        # Not an `extended` test: CI runs it.
        assert "pytest.mark.extended" not in source, test_file


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_platforms_use_the_harness_options(scenario: Path):
    config = yaml.safe_load((scenario / "molecule.yml").read_text())
    sequence = config.get("scenario", {}).get("test_sequence")
    if scenario.name in OWN_IDEMPOTENCE_PROOF:
        shared = SHARED["scenario"]["test_sequence"]
        assert sequence == [step for step in shared if step != "idempotence"]
    else:
        assert sequence is None, "scenarios inherit the shared sequence"
    want = options_from_labctl()
    for platform in config["platforms"]:
        assert not platform.get("privileged"), "--privileged does not work on these machines"
        assert re.fullmatch(r"pdfcompare-lab/debian:\$\{LAB_DEBIAN:-13\}", platform["image"])
        assert platform["pre_build_image"] is True
        got = {
            "capabilities": sorted(platform["capabilities"]),
            "security_opts": sorted(platform["security_opts"]),
            "tmpfs": sorted(platform["tmpfs"]),
            "volumes": sorted(platform["volumes"]),
            "cgroupns_mode": platform["cgroupns_mode"],
            "command": platform["command"],
        }
        assert got == want, platform["name"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_scenario_has_testinfra_tests(scenario: Path):
    tests = list((scenario / "tests").glob("test_*.py"))
    assert tests, f"{scenario.name}: no testinfra tests"
    assert any("def test_" in t.read_text() for t in tests)
