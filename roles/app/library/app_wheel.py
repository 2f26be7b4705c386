#!/usr/bin/python
"""Ansible module of role `app`: build the app's wheel on the controller, reproducibly."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: app_wheel
short_description: Build the PDF Compare wheel from the repository, only when its sources changed
description:
  - Copies the project (without version control, virtual environments, caches and build output) to a
    temporary directory and runs C(pip wheel --no-deps) there, with SOURCE_DATE_EPOCH fixed so the
    same sources give a byte-identical wheel.
  - A digest of the copied sources is kept next to the wheel; while it matches, nothing is built.
  - Reports changed only when the wheel in I(dest) was replaced by one with a different digest.
  - In check mode nothing is built; changed tells whether the sources differ from the last build.
options:
  project_dir:
    description: Directory with the project's pyproject.toml (the repository root).
    type: path
    required: true
  dest:
    description: Directory that keeps the built wheel (one wheel; older ones are removed).
    type: path
    required: true
  python:
    description: Python interpreter whose pip builds the wheel (default the one running this module).
    type: str
    default: ""
  index_url:
    description: Package index for the build requirements (setuptools); empty = pip's configuration.
    type: str
    default: ""
  source_date_epoch:
    description: Timestamp written into the wheel's files (SOURCE_DATE_EPOCH).
    type: int
    default: 315532800
"""

RETURN = r"""
path: {description: Path of the wheel (empty in check mode before the first build), type: str}
filename: {description: File name of the wheel, type: str}
sha256: {description: SHA-256 of the wheel (empty in check mode when a build is due), type: str}
version: {description: Version of the package, type: str}
fingerprint: {description: Digest of the sources the wheel was built from, type: str}
"""

STAMP = ".pdfcompare-wheel.json"
# Never part of a wheel: version control, virtual environments, caches, earlier build output.
SKIP_ANYWHERE = {"__pycache__"}
SKIP_TOP = {"build", "dist"}


def skipped(relative: Path) -> bool:
    parts = relative.parts
    return (
        any(part.startswith(".") or part in SKIP_ANYWHERE or part.endswith(".egg-info") for part in parts)
        or (bool(parts) and parts[0] in SKIP_TOP)
    )


def source_files(project: Path) -> list[Path]:
    """The project's files that go into the build, as paths relative to the project, sorted."""
    found = []
    for root, dirs, files in os.walk(project):
        here = Path(root).relative_to(project)
        dirs[:] = sorted(d for d in dirs if not skipped(here / d))
        found.extend(here / f for f in files if not skipped(here / f))
    return sorted(found)


def fingerprint(project: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for relative in files:
        path = project / relative
        digest.update(f"{relative.as_posix()}\0{os.access(path, os.X_OK)}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_version(filename: str) -> str:
    return filename.split("-")[1]


def read_stamp(dest: Path) -> dict:
    try:
        return json.loads((dest / STAMP).read_text())
    except (OSError, ValueError):
        return {}


def build(project: Path, files: list[Path], python: str, index_url: str, epoch: int) -> tuple[Path, Path]:
    """Build the wheel in a private temporary copy; returns (temporary directory, wheel)."""
    work = Path(tempfile.mkdtemp(prefix="pdfcompare-wheel-"))
    source = work / "src"
    for relative in files:
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / relative, target)
    command = [python, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
               "--wheel-dir", str(work / "out"), str(source)]
    if index_url:
        command[4:4] = ["--index-url", index_url]
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch), PYTHONDONTWRITEBYTECODE="1", PIP_NO_INPUT="1")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"pip wheel failed ({result.returncode}): {' '.join(command)}\n{tail}")
    wheels = sorted((work / "out").glob("*.whl"))
    if len(wheels) != 1:
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"pip wheel produced {len(wheels)} wheels, expected 1")
    return work, wheels[0]


def run(project: Path, dest: Path, python: str, index_url: str, epoch: int, check_mode: bool) -> dict:
    if not (project / "pyproject.toml").is_file():
        raise RuntimeError(f"{project} has no pyproject.toml (app_project_dir must be the repository root)")
    files = source_files(project)
    current = fingerprint(project, files)
    stamp = read_stamp(dest)
    kept = dest / stamp["filename"] if stamp.get("filename") else None
    kept_ok = kept is not None and kept.is_file() and sha256_file(kept) == stamp.get("sha256")
    result = {"changed": False, "fingerprint": current}
    if kept_ok:
        result.update(path=str(kept), filename=kept.name, sha256=stamp["sha256"],
                      version=wheel_version(kept.name))
        if stamp.get("fingerprint") == current:
            return result
    else:
        result.update(path="", filename="", sha256="", version="")
    if check_mode:
        # A rebuild is due; whether the wheel would differ is only known by building it.
        result.update(changed=True, sha256="")
        return result
    work, wheel = build(project, files, python, index_url, epoch)
    try:
        digest = sha256_file(wheel)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / wheel.name
        if not (target.is_file() and sha256_file(target) == digest):
            # Copied under a temporary name and renamed: a concurrent run never reads half a wheel.
            partial = dest / f".{wheel.name}.partial"
            shutil.copyfile(wheel, partial)
            os.replace(partial, target)
            for old in dest.glob("*.whl"):
                if old.name != target.name:
                    old.unlink()
            result["changed"] = True
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stamp_text = json.dumps({"fingerprint": current, "filename": target.name, "sha256": digest})
    (dest / f"{STAMP}.partial").write_text(stamp_text)
    os.replace(dest / f"{STAMP}.partial", dest / STAMP)
    result.update(path=str(target), filename=target.name, sha256=digest, version=wheel_version(target.name))
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "project_dir": {"type": "path", "required": True},
            "dest": {"type": "path", "required": True},
            "python": {"type": "str", "default": ""},
            "index_url": {"type": "str", "default": ""},
            "source_date_epoch": {"type": "int", "default": 315532800},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = run(Path(params["project_dir"]), Path(params["dest"]), params["python"] or sys.executable,
                     params["index_url"], params["source_date_epoch"], module.check_mode)
    except (OSError, RuntimeError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
