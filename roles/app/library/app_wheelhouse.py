#!/usr/bin/python
"""Ansible module of role `app`: fill a wheelhouse for one target Python and CPU on the controller."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.tags import compatible_tags, cpython_tags
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # pip always vendors packaging
    from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.tags import compatible_tags, cpython_tags  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename  # type: ignore[no-redef]

DOCUMENTATION = r"""
module: app_wheelhouse
short_description: Download every pinned dependency of the app as a binary wheel for one target platform
description:
  - Reads the universal lock file (C(name==version ; marker) lines), keeps the lines whose markers hold
    on the target (CPython I(python_version) on Linux I(arch)) and makes sure the directory
    I(dest)/cpXY-<arch> holds a compatible wheel of each.
  - The markers are evaluated for the target here, because C(pip download --python-version) evaluates
    them for the Python running pip (it would fetch numpy for 3.11 into a 3.13 wheelhouse).
  - Only the missing wheels are downloaded (C(pip download --no-deps --only-binary=:all:) with the
    target's version, ABI and manylinux platform tags); nothing is contacted when all are present.
  - Wheels of versions that are no longer in the lock are removed.
  - Reports changed when files were added or removed. In check mode nothing is downloaded.
options:
  requirements:
    description: The lock file (app/requirements.lock).
    type: path
    required: true
  dest:
    description: Root of the wheelhouse; the wheels go to a subdirectory cpXY-<arch>.
    type: path
    required: true
  python_version:
    description: Full Python version of the target hosts (3.13.5); markers such as python_full_version use it.
    type: str
    required: true
  arch:
    description: CPU architecture of the target hosts as platform.machine() prints it (x86_64, aarch64).
    type: str
    required: true
  python:
    description: Python interpreter whose pip downloads (default the one running this module).
    type: str
    default: ""
  index_url:
    description: Package index to download from; empty = pip's configuration (PyPI).
    type: str
    default: ""
"""

RETURN = r"""
path: {description: The target's wheelhouse directory, type: str}
wheels: {description: Number of wheels the target needs, type: int}
added: {description: Files downloaded now, type: list}
removed: {description: Files removed (versions no longer in the lock), type: list}
"""

# Debian 12 has glibc 2.36, Debian 13 2.41: wheels up to manylinux_2_28 run on both.
MANYLINUX_NEWEST = 28


def target_environment(python_version: str, arch: str) -> dict[str, str]:
    """PEP 508 marker values of CPython `python_version` on Linux `arch`."""
    major, minor = python_version.split(".")[:2]
    return {
        "implementation_name": "cpython",
        "implementation_version": python_version,
        "os_name": "posix",
        "platform_machine": arch,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": python_version,
        "python_version": f"{major}.{minor}",
        "sys_platform": "linux",
    }


def read_lock(text: str) -> list[Requirement]:
    """Every requirement of a pip-compile / uv lock file; each must be pinned with ==."""
    pins = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        exact = [spec for spec in requirement.specifier if spec.operator == "=="]
        if len(exact) != 1:
            raise ValueError(f"lock line {number} is not pinned with ==: {line}")
        pins.append(requirement)
    return pins


def pinned_version(requirement: Requirement) -> str:
    return next(spec.version for spec in requirement.specifier if spec.operator == "==")


def target_pins(pins: list[Requirement], python_version: str, arch: str) -> list[tuple[str, str]]:
    """(name, version) of the requirements whose markers hold on the target."""
    env = target_environment(python_version, arch)
    return [
        (canonicalize_name(req.name), pinned_version(req))
        for req in pins
        if req.marker is None or Marker(str(req.marker)).evaluate(env)
    ]


def platforms(arch: str) -> list[str]:
    found = [f"manylinux_2_{minor}_{arch}" for minor in range(MANYLINUX_NEWEST, 16, -1)]
    found += [f"manylinux2014_{arch}"]
    if arch in ("x86_64", "i686"):
        found += [f"manylinux2010_{arch}", f"manylinux1_{arch}"]
    return found


def supported_tags(python_version: str, arch: str) -> set:
    major, minor = (int(part) for part in python_version.split(".")[:2])
    plats = platforms(arch)
    abis = [f"cp{major}{minor}", "abi3", "none"]
    return set(cpython_tags((major, minor), abis=abis, platforms=plats)) | set(
        compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=plats))


def present(directory: Path, python_version: str, arch: str) -> dict[tuple[str, str], str]:
    """(name, version) -> file name of the wheels in `directory` that run on the target."""
    tags = supported_tags(python_version, arch)
    found = {}
    for path in sorted(directory.glob("*.whl")) if directory.is_dir() else []:
        try:
            name, version, _, wheel_tags = parse_wheel_filename(path.name)
        except ValueError:
            continue
        if wheel_tags & tags:
            found[(str(name), str(version))] = path.name
    return found


def pip_download(python: str, missing: list[tuple[str, str]], directory: Path, python_version: str,
                 arch: str, index_url: str) -> None:
    major, minor = python_version.split(".")[:2]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{name}=={version}\n" for name, version in missing))
        wanted = handle.name
    command = [python, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
               "--only-binary=:all:", "--python-version", python_version, "--implementation", "cp",
               "--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none",
               "--platform", f"manylinux_2_{MANYLINUX_NEWEST}_{arch}", "--platform", f"manylinux_2_17_{arch}",
               "--platform", f"manylinux2014_{arch}", "--platform", "any",
               "-r", wanted, "-d", str(directory)]
    if index_url:
        command += ["--index-url", index_url]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False,
                                env=dict(os.environ, PIP_NO_INPUT="1"))
    finally:
        os.unlink(wanted)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise RuntimeError(f"pip download failed ({result.returncode}) for {python_version} {arch}:\n{tail}")


def run(lock: Path, root: Path, python_version: str, arch: str, python: str, index_url: str,
        check_mode: bool) -> dict:
    major, minor = python_version.split(".")[:2]
    directory = root / f"cp{major}{minor}-{arch}"
    pins = read_lock(lock.read_text())
    wanted = target_pins(pins, python_version, arch)
    in_lock = {(canonicalize_name(req.name), pinned_version(req)) for req in pins}
    have = present(directory, python_version, arch)
    missing = [pin for pin in wanted if pin not in have]
    stale = sorted(path.name for path in directory.glob("*.whl")
                   if _pin_of(path.name) not in in_lock) if directory.is_dir() else []
    result = {"path": str(directory), "wheels": len(wanted), "added": [], "removed": [],
              "missing": [f"{name}=={version}" for name, version in missing]}
    if not missing and not stale:
        result["changed"] = False
        return result
    if check_mode:
        result.update(changed=True, removed=stale)
        return result
    directory.mkdir(parents=True, exist_ok=True)
    before = {path.name for path in directory.iterdir()}
    if missing:
        # Downloaded beside the wheelhouse and renamed into it: a concurrent run (or a host copy)
        # never sees a half-written wheel.
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
        try:
            pip_download(python, missing, staging, python_version, arch, index_url)
            for path in staging.glob("*.whl"):
                os.replace(path, directory / path.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    still = [pin for pin in wanted if pin not in present(directory, python_version, arch)]
    if still:
        raise RuntimeError("no wheel for " + ", ".join(f"{n}=={v}" for n, v in still)
                           + f" on CPython {python_version} {arch} after pip download")
    for name in stale:
        (directory / name).unlink()
    result.update(changed=True, missing=[], removed=stale,
                  added=sorted({path.name for path in directory.iterdir()} - before))
    return result


def _pin_of(filename: str) -> tuple[str, str] | None:
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except ValueError:
        return None
    return str(name), str(version)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "requirements": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "python_version": {"type": "str", "required": True},
            "arch": {"type": "str", "required": True},
            "python": {"type": "str", "default": ""},
            "index_url": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = run(Path(params["requirements"]), Path(params["dest"]), params["python_version"],
                     params["arch"], params["python"] or sys.executable, params["index_url"],
                     module.check_mode)
    except (OSError, RuntimeError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
