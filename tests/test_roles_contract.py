"""Every role keeps the project's contract: prefixed, documented, specified variables."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def load(path: Path):
    return yaml.safe_load(path.read_text()) or {}


def test_there_are_roles():
    assert ROLES, "roles/ is empty"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_are_role_prefixed(role: Path):
    defaults = load(role / "defaults" / "main.yml")
    bad = [key for key in defaults if not key.startswith(f"{role.name}_")]
    assert not bad, f"{role.name}: variables without the '{role.name}_' prefix: {bad}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_are_commented(role: Path):
    lines = (role / "defaults" / "main.yml").read_text().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if line.startswith(f"{role.name}_"):
            previous = lines[i - 1].strip() if i else ""
            if not previous.startswith("#"):
                uncommented.append(line.split(":")[0])
    assert not uncommented, f"{role.name}: defaults without a comment line above: {uncommented}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role: Path):
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    options = specs["main"]["options"]
    defaults = set(load(role / "defaults" / "main.yml"))
    # Secrets are the only options without a default: required, hidden from logs, never in defaults.
    secrets = {name for name, spec in options.items() if spec.get("required") and spec.get("no_log")}
    extra = defaults - set(options)
    assert extra == set(), f"in defaults but not in argument_specs: {extra}"
    undocumented = set(options) - defaults - secrets
    assert undocumented == set(), f"in argument_specs but not in defaults (nor a secret): {undocumented}"
    assert not secrets & defaults, f"secrets must not have defaults: {secrets & defaults}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_secret_is_generated_by_the_lab(role: Path):
    from tests.lab import labctl

    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]
    secrets = {name for entry in specs.values() for name, spec in entry.get("options", {}).items()
               if spec.get("required") and spec.get("no_log")}
    missing = secrets - set(labctl.SECRETS)
    assert not missing, f"{role.name}: secrets the lab does not generate (labctl.py SECRETS): {missing}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_spec_defaults_equal_role_defaults(role: Path):
    specs = load(role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load(role / "defaults" / "main.yml")
    for name, spec in specs.items():
        if "default" in spec:
            assert spec["default"] == defaults[name], f"{name}: spec default differs from defaults/main.yml"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_readme_documents_variables_and_example(role: Path):
    readme = (role / "README.md").read_text()
    for heading in ("## Requirements", "## Role Variables", "## Example Playbook"):
        assert heading in readme, f"{role.name}/README.md lacks {heading!r}"


def scenario_text(scenario: Path) -> str:
    """A scenario's playbooks plus the project playbooks they import."""
    texts = []
    for f in scenario.glob("*.yml"):
        if f.name == "molecule.yml":
            continue
        texts.append(f.read_text())
        plays = load(f)
        for play in plays if isinstance(plays, list) else []:
            imported = play.get("ansible.builtin.import_playbook")
            if imported:
                texts.append((f.parent / imported).resolve().read_text())
    return "\n".join(texts)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_role_is_exercised_by_a_molecule_scenario(role: Path):
    applies = (f"role: {role.name}", f"name: {role.name}")  # roles: entry or include_role
    users = [
        scenario.name
        for scenario in (ROOT / "molecule").iterdir()
        if scenario.is_dir() and any(needle in scenario_text(scenario) for needle in applies)
    ]
    assert users, f"no Molecule scenario applies role {role.name}"


def test_site_imports_only_existing_playbooks():
    site = load(ROOT / "site.yml")
    assert site, "site.yml is empty"
    for play in site:
        target = ROOT / play["ansible.builtin.import_playbook"]
        assert target.is_file(), target
