"""Role `app`: its filters and controller-side modules (pure functions, no host needed), and the
input checks that stop a run before anything changes (ansible-playbook on localhost, stopping at
the checks: nothing on this machine is changed)."""

import importlib.util
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "app"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


filters = load(ROLE / "filter_plugins" / "app_filters.py", "app_filters")
wheelhouse = load(ROLE / "library" / "app_wheelhouse.py", "app_wheelhouse")
wheel = load(ROLE / "library" / "app_wheel.py", "app_wheel")


# --- ports and published endpoints -------------------------------------------------------------
def test_instance_and_metrics_ports():
    assert filters.app_instance_ports(8501, 3) == [8501, 8502, 8503]
    assert filters.app_metrics_ports(8501, 2, 1000) == [9501, 9502]
    assert filters.app_metrics_ports(8501, 2, 0) == []


def test_endpoints_are_what_nginx_and_prometheus_read():
    assert filters.app_endpoints("app1", "10.0.0.21", 8501, 2, 1000) == [
        {"name": "app1-8501", "address": "10.0.0.21", "port": 8501, "metrics_port": 9501},
        {"name": "app1-8502", "address": "10.0.0.21", "port": 8502, "metrics_port": 9502},
    ]
    assert filters.app_endpoints("app1", "10.0.0.21", "8501", "1", "0")[0]["metrics_port"] is None


def test_good_ports_have_no_problem():
    assert filters.app_port_problems(8501, 2, 1000, {"PgBouncer": 6432, "SSH": 22}) == []


@pytest.mark.parametrize(("args", "expected"), [
    ((8501, 0, 1000), "app_instances must be 1 to 64, got 0"),
    ((8501, 65, 1000), "app_instances must be 1 to 64, got 65"),
    ((80, 2, 1000), "app_base_port must be 1024 to 65535, got 80"),
    ((65535, 2, 0), "runs past port 65535"),
    ((8501, 4, 2), "port(s) 8503, 8504 would be both an instance port and a metrics port"),
    ((60000, 2, 6000), "outside 1024-65535"),
    ((8501, 2, -5), "must be 0 (no metrics) or positive"),
    ((8501, "two", 1000), "app_instances must be a number, got 'two'"),
])
def test_bad_ports_are_named(args, expected):
    problems = filters.app_port_problems(*args)
    assert any(expected in problem for problem in problems), problems


def test_port_of_another_service_is_a_clash():
    problems = filters.app_port_problems(6431, 3, 1000, {"PgBouncer (pgbouncer_endpoint)": 6432})
    assert problems == ["instance port 6432 (app_base_port 6431, app_instances 3) is the port of "
                        "PgBouncer (pgbouncer_endpoint)"]
    problems = filters.app_port_problems(8501, 2, 626, {"node_exporter": 9127})
    assert "metrics port 9127" in problems[0]


# --- EnvironmentFile values ----------------------------------------------------------------------
def systemd_value(text: str) -> str:
    """What systemd's EnvironmentFile parser makes of the value part of a line (the cases the
    role writes: plain, one single-quoted or one double-quoted string)."""
    text = text.strip()
    if text.startswith("'"):
        assert text.endswith("'") and text.count("'") == 2
        return text[1:-1]
    if text.startswith('"'):
        inner = text[1:-1]
        assert text.endswith('"') and '"' not in inner and "\\" not in inner
        return inner
    assert "\\" not in text
    return text


@pytest.mark.parametrize("value", [
    "plain", "postgresql://pdfcompare@127.0.0.1:6432/pdfcompare", "", "a b", " lead", "trail ",
    "back\\slash", "$dollar`tick", "it's", "'quoted'", '"dq"', "x#y;z", "ümlaut",
])
def test_env_values_read_the_same_by_systemd_and_by_the_app(value, tmp_path):
    line = f"PDFCOMPARE_X={filters.app_env_value(value)}"
    assert systemd_value(line.partition("=")[2]) == value
    sys.path.insert(0, str(ROOT / "app"))
    try:
        from pdfcompare.settings import read_env_file
    finally:
        sys.path.pop(0)
    (tmp_path / "env").write_text(line + "\n")
    assert read_env_file(tmp_path / "env")["PDFCOMPARE_X"] == value


def test_env_values_of_other_types():
    assert filters.app_env_value(True) == "true"
    assert filters.app_env_value(False) == "false"
    assert filters.app_env_value(None) == ""
    assert filters.app_env_value(["10.0.0.11", "10.0.0.12"]) == "10.0.0.11,10.0.0.12"
    assert filters.app_env_value(10) == "10"


def test_values_that_cannot_be_written_are_named_without_the_value():
    settings = {"PDFCOMPARE_DATABASE_PASSWORD": "it's\\secret", "PDFCOMPARE_LOG_LEVEL": "INFO",
                "PDFCOMPARE_ADMIN_USERS": ["a\nb"]}
    problems = filters.app_env_problems(settings)
    assert problems == [
        "PDFCOMPARE_DATABASE_PASSWORD contains a single quote together with a double quote or a backslash",
        "PDFCOMPARE_ADMIN_USERS contains a line break or NUL",
    ]
    assert not any("secret" in problem for problem in problems)
    with pytest.raises(ValueError):
        filters.app_env_value("it's\\secret")


# --- Redis URL, addresses -------------------------------------------------------------------------
def test_redis_url_from_the_published_endpoint():
    endpoint = {"address": "10.0.0.41", "port": 6379, "tls": False, "tls_port": 6380,
                "username": "pdfcompare", "key_prefix": "pdfcompare:"}
    assert filters.app_redis_url(endpoint) == "redis://pdfcompare@10.0.0.41:6379"
    assert filters.app_redis_url({**endpoint, "tls": True}) == "rediss://pdfcompare@10.0.0.41:6380"
    assert filters.app_redis_url({**endpoint, "address": "fd00::41", "username": ""}) == "redis://[fd00::41]:6379"
    assert filters.app_redis_url({}) == ""


def test_addresses():
    assert filters.app_is_ip("10.0.0.1") and filters.app_is_ip("10.0.0.0/24") and filters.app_is_ip("fd00::1")
    assert not filters.app_is_ip("lb1.example.net") and not filters.app_is_ip("")
    assert filters.app_invalid_addresses(["10.0.0.11", "lb1", "fd00::/64"]) == ["lb1"]


# --- which instances restart -----------------------------------------------------------------------
SHOW = """\
Id=pdf-compare@8501.service
NeedDaemonReload=no
ActiveState=active
ActiveEnterTimestamp=Mon 2026-11-30 11:20:48.598281 UTC

Id=pdf-compare@8502.service
NeedDaemonReload=no
ActiveState=active
ActiveEnterTimestamp=Mo 2026-11-30 11:30:00.000000 UTC

Id=pdf-compare@8503.service
NeedDaemonReload=no
ActiveState=failed
ActiveEnterTimestamp=Mon 2026-11-30 11:00:00.000000 UTC

Id=pdf-compare@8504.service
NeedDaemonReload=no
ActiveState=inactive
ActiveEnterTimestamp=
"""


def test_running_instances_older_than_the_deploy_restart():
    stamp = 1796038000.0  # 2026-11-30 11:26:40 UTC: 8501 started before, 8502 after
    assert filters.app_instances_to_restart(SHOW, stamp) == [8501]
    assert filters.app_instances_to_restart(SHOW, 1796030000.0) == []
    assert filters.app_instances_to_restart(SHOW, 1896030000.0) == [8501, 8502]
    assert filters.app_instances_to_restart("", 1.0) == []


# --- wheelhouse targets, releases -----------------------------------------------------------------
def test_wheelhouse_targets_are_distinct_per_python_and_cpu():
    lines = ["3.13.5 x86_64", "3.13.5 x86_64", "3.11.2 x86_64", "3.13.5 aarch64"]
    assert [t["tag"] for t in filters.app_wheelhouse_targets(lines)] == ["cp311-x86_64", "cp313-aarch64",
                                                                         "cp313-x86_64"]


def test_release_id_changes_with_every_input():
    base = filters.app_release_id("0.1.0", "sha-wheel", "sha-lock", "3.13.5", "wheelhouse", "")
    assert base.startswith("0.1.0-") and len(base) == len("0.1.0-") + 12
    assert base == filters.app_release_id("0.1.0", "sha-wheel", "sha-lock", "3.13.5", "wheelhouse", "")
    assert base != filters.app_release_id("0.1.0", "sha-wheel", "sha-lock2", "3.13.5", "wheelhouse", "")
    assert base != filters.app_release_id("0.1.0", "sha-wheel", "sha-lock", "3.13.6", "wheelhouse", "")


# --- the wheelhouse module: markers for the target, not for the controller ---------------------------
LOCK = """\
async-timeout==5.0.1 ; python_full_version < '3.11.3'  # via redis
numpy==2.4.6 ; python_full_version < '3.12'  # via pandas
numpy==2.5.5 ; python_full_version >= '3.12'  # via pandas
redis==8.1.0              # via pdfcompare (pyproject.toml)
watchdog==7.1.0 ; sys_platform != 'darwin'  # via streamlit
"""


def test_lock_markers_are_evaluated_for_the_target():
    pins = wheelhouse.read_lock(LOCK)
    assert wheelhouse.target_pins(pins, "3.13.5", "x86_64") == [
        ("numpy", "2.5.5"), ("redis", "8.1.0"), ("watchdog", "7.1.0")]
    assert wheelhouse.target_pins(pins, "3.11.2", "aarch64") == [
        ("async-timeout", "5.0.1"), ("numpy", "2.4.6"), ("redis", "8.1.0"), ("watchdog", "7.1.0")]


def test_unpinned_lock_line_is_refused():
    with pytest.raises(ValueError, match="line 1 is not pinned"):
        wheelhouse.read_lock("numpy>=2\n")


def test_complete_wheelhouse_is_left_alone_and_stale_wheels_go(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK)
    directory = tmp_path / "wh" / "cp313-x86_64"
    directory.mkdir(parents=True)
    for name in ("numpy-2.5.5-cp313-cp313-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
                 "redis-8.1.0-py3-none-any.whl", "watchdog-7.1.0-py3-none-manylinux2014_x86_64.whl"):
        (directory / name).write_bytes(b"")
    result = wheelhouse.run(lock, tmp_path / "wh", "3.13.5", "x86_64", sys.executable, "", check_mode=False)
    assert result["changed"] is False and result["missing"] == [] and result["wheels"] == 3
    (directory / "redis-8.0.0-py3-none-any.whl").write_bytes(b"")          # no longer in the lock
    (directory / "numpy-2.5.5-cp313-cp313-manylinux_2_28_x86_64.whl").unlink(missing_ok=True)
    result = wheelhouse.run(lock, tmp_path / "wh", "3.13.5", "x86_64", sys.executable, "", check_mode=True)
    assert result["changed"] is True and result["removed"] == ["redis-8.0.0-py3-none-any.whl"]
    assert (directory / "redis-8.0.0-py3-none-any.whl").exists(), "check mode removed a file"


def test_wheel_for_another_python_does_not_count(tmp_path):
    directory = tmp_path / "cp313-x86_64"
    directory.mkdir()
    (directory / "numpy-2.5.5-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    assert wheelhouse.present(directory, "3.13.5", "x86_64") == {}


# --- the wheel module: reproducible, skipped while the sources are unchanged -------------------------
def make_project(root: Path) -> Path:
    (root / "src" / "demo").mkdir(parents=True)
    (root / "src" / "demo" / "__init__.py").write_text("VALUE = 1\n")
    (root / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "demo"
        version = "1.0"
        [tool.setuptools.packages.find]
        where = ["src"]
        """))
    (root / ".venv").mkdir()
    (root / ".venv" / "junk").write_text("not part of the build")
    return root


def test_source_files_skip_caches_and_build_output(tmp_path):
    project = make_project(tmp_path / "p")
    (project / "build").mkdir()
    (project / "build" / "old.py").write_text("")
    (project / "src" / "demo" / "__pycache__").mkdir()
    (project / "src" / "demo.egg-info").mkdir()
    files = [path.as_posix() for path in wheel.source_files(project)]
    assert files == ["pyproject.toml", "src/demo/__init__.py"]


def test_wheel_is_reproducible_and_rebuilt_only_on_change(tmp_path):
    project = make_project(tmp_path / "p")
    dest = tmp_path / "dist"
    try:
        first = wheel.run(project, dest, sys.executable, "", 315532800, check_mode=False)
    except RuntimeError as exc:  # no package index for setuptools on this machine
        pytest.skip(f"cannot build: {str(exc).splitlines()[0]}")
    assert first["changed"] is True and first["filename"] == "demo-1.0-py3-none-any.whl"
    again = wheel.run(project, dest, sys.executable, "", 315532800, check_mode=False)
    assert again == {**first, "changed": False}
    (project / "README").write_text("docs only\n")     # sources differ, the wheel does not
    rebuilt = wheel.run(project, dest, sys.executable, "", 315532800, check_mode=False)
    assert rebuilt["changed"] is False and rebuilt["sha256"] == first["sha256"]
    (project / "src" / "demo" / "__init__.py").write_text("VALUE = 2\n")
    assert wheel.run(project, dest, sys.executable, "", 315532800, check_mode=True)["changed"] is True
    changed = wheel.run(project, dest, sys.executable, "", 315532800, check_mode=False)
    assert changed["changed"] is True and changed["sha256"] != first["sha256"]
    with zipfile.ZipFile(changed["path"]) as archive:
        assert archive.read("demo/__init__.py") == b"VALUE = 2\n"
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# --- input checks through Ansible (stop before any change) -----------------------------------------
def run_play(tmp_path: Path, extra: str) -> subprocess.CompletedProcess:
    inventory = textwrap.dedent("""\
        all:
          hosts:
            app1: {ansible_connection: local, common_private_address: 127.0.0.1}
          children:
            app:
              hosts:
                app1:
        """)
    play = textwrap.dedent("""\
        - hosts: app
          gather_facts: false
          vars:
            pgbouncer_endpoint: {address: 127.0.0.1, port: 6432, write_alias: pdfcompare,
                                 read_alias: pdfcompare_ro, user: pdfcompare}
            postgresql_app_password: pw
        %s
          tasks:
            - ansible.builtin.include_role:
                name: app
                tasks_from: assert
        """) % textwrap.indent(extra, "    ")
    (tmp_path / "hosts.yml").write_text(inventory)
    (tmp_path / "play.yml").write_text(play)
    bindir = Path(sys.executable).parent
    return subprocess.run(
        [str(bindir / "ansible-playbook"), "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": f"{bindir}:/usr/bin:/bin", "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
             "ANSIBLE_FORCE_COLOR": "0", "HOME": str(tmp_path), "ANSIBLE_LOCAL_TEMP": str(tmp_path)},
    )


def test_inputs_that_are_fine_pass(tmp_path):
    res = run_play(tmp_path, "app_cookie_secret: s")
    assert res.returncode == 0, res.stdout


def test_missing_cookie_secret_is_named(tmp_path):
    res = run_play(tmp_path, "other: 1")
    assert res.returncode != 0
    assert "app_cookie_secret" in res.stdout


def test_port_clash_with_pgbouncer_is_named(tmp_path):
    res = run_play(tmp_path, "app_cookie_secret: s\napp_base_port: 6431")
    assert res.returncode != 0
    assert "Host app1: instance port 6432 (app_base_port 6431, app_instances 2) is the port of PgBouncer" \
        in res.stdout


def test_too_many_instances_are_named(tmp_path):
    res = run_play(tmp_path, "app_cookie_secret: s\napp_instances: 65")
    assert res.returncode != 0
    assert "Host app1: app_instances must be 1 to 64, got 65" in res.stdout


def test_missing_wheels_are_downloaded_for_the_target(tmp_path):
    pin = next(line.split()[0] for line in (ROOT / "app" / "requirements.lock").read_text().splitlines()
               if line.startswith("typing-extensions=="))
    lock = tmp_path / "requirements.lock"
    lock.write_text(pin + "\n")
    try:
        result = wheelhouse.run(lock, tmp_path / "wh", "3.13.5", "x86_64", sys.executable, "",
                                check_mode=False)
    except RuntimeError as exc:  # no package index on this machine
        pytest.skip(f"cannot download: {str(exc).splitlines()[0]}")
    assert result["changed"] is True and len(result["added"]) == 1 and result["added"][0].endswith(".whl")
    assert sorted(p.name for p in (tmp_path / "wh").iterdir()) == ["cp313-x86_64"], "staging left behind"
    again = wheelhouse.run(lock, tmp_path / "wh", "3.13.5", "x86_64", sys.executable, "", check_mode=False)
    assert again["changed"] is False and again["added"] == []
