"""The alert rules of role prometheus, rendered with the role's defaults, checked and unit-tested
with `promtool test rules`: every alert has a case that fires it (and cases where it must not)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "prometheus"
CASES = Path(__file__).with_name("prometheus") / "rules_test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None,
                                    reason="promtool (Debian package prometheus) not installed")


def render_rules(**overrides) -> str:
    """The rules file as the role writes it: its template with defaults/main.yml (+ overrides)."""
    values = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    values.update({"ansible_managed": "Ansible managed", "prometheus_alert_expected_replicas": 2})
    values.update(overrides)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string((ROLE / "templates" / "pdfcompare.rules.yml.j2").read_text()).render(**values)


def alert_names(text: str) -> set[str]:
    groups = yaml.safe_load(text)["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def without_annotations(text: str) -> str:
    """The rules without their annotations: promtool compares annotations exactly, and the cases test
    when alerts fire and with which labels (the annotation templates are checked by promtool check)."""
    rules = yaml.safe_load(text)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return yaml.safe_dump(rules, sort_keys=False)


@pytest.fixture()
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "pdfcompare.rules.yml").write_text(without_annotations(render_rules()))
    (tmp_path / "checked.rules.yml").write_text(render_rules())
    shutil.copy(CASES, tmp_path / "rules_test.yml")
    return tmp_path


def test_every_alert_has_a_firing_case():
    cases = yaml.safe_load(CASES.read_text())
    fired = {t["alertname"] for case in cases["tests"] for t in case.get("alert_rule_test", [])
             if t.get("exp_alerts")}
    assert alert_names(render_rules()) - fired == set(), "alerts without a test that fires them"
    assert fired - alert_names(render_rules()) == set(), "tests of alerts that do not exist"


def test_no_replica_rule_without_replicas():
    assert "PostgresqlReplicaMissing" not in alert_names(render_rules(prometheus_alert_expected_replicas=0))


@needs_promtool
def test_rules_pass_promtool_check(rules_dir: Path):
    res = subprocess.run([PROMTOOL, "check", "rules", str(rules_dir / "checked.rules.yml")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_promtool
def test_rules_unit_tests(rules_dir: Path):
    res = subprocess.run([PROMTOOL, "test", "rules", "rules_test.yml"], cwd=rules_dir,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
