"""A TEST DOUBLE of Ollama's official Linux release archive (not Ollama).

The Ansible role ``ollama`` installs the official archive ``ollama-linux-<arch>.tgz`` (``bin/ollama``
and ``lib/ollama/``), from the release URL or, on air-gapped sites, from a local file
(``ollama_archive_local``). This machine cannot download Ollama, so the role's tests give it this
archive instead, in the same layout:

    bin/ollama                         a Python launcher: ``ollama serve`` runs the Ollama HTTP API
                                       test double (tests/doubles/ollama_api.py) on OLLAMA_HOST,
                                       keeping pulled models under OLLAMA_MODELS;
                                       ``ollama --version`` / ``-v`` prints the double's version
    lib/ollama/ollama_api_double.py    a copy of tests/doubles/ollama_api.py
    lib/ollama/TEST-DOUBLE.txt         says what this is

The role does not know it is being tested: it checks the archive's sha256 against
``ollama_archive_sha256`` and the served version against ``ollama_version`` as it does for the real
release, so the tests set both to this archive's values. The archive is byte-for-byte reproducible
(sorted entries, fixed owner, mode and time, gzip without a time stamp), so its sha256 only changes
when the double's code or the version changes.

    python -m tests.doubles.ollama_archive --out DIR [--version V] [--arch amd64]

writes ``DIR/ollama-linux-<arch>.tgz`` and ``DIR/ollama-linux-<arch>.tgz.sha256`` (the hex digest) and
prints the digest.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DOUBLE_VERSION", "BuiltArchive", "build_archive", "launcher_source", "main"]

# The version the double's API reports (GET /api/version) and `ollama --version` prints.
DOUBLE_VERSION = "0.0.0-test-double"
_API_DOUBLE = Path(__file__).with_name("ollama_api.py")
# A fixed time stamp (2024-01-01 00:00:00 UTC) for every entry: a reproducible archive.
_MTIME = 1704067200

_LAUNCHER = '''#!/usr/bin/python3
"""TEST DOUBLE of the `ollama` binary (not Ollama), from tests/doubles/ollama_archive.py.

`ollama serve` runs the Ollama HTTP API test double of PDF Compare's tests on OLLAMA_HOST
(default 127.0.0.1:11434), keeping pulled models as manifest files under OLLAMA_MODELS.
`ollama --version` prints the double's version. Nothing else of Ollama is here.
"""
import os
import sys

VERSION = {version!r}
HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib", "ollama"))
sys.dont_write_bytecode = True

import ollama_api_double as double  # noqa: E402


def split_host(value):
    value = value.strip() or "127.0.0.1:11434"
    if "://" in value:
        value = value.split("://", 1)[1]
    if value.startswith("["):
        host, _, port = value[1:].partition("]:")
        return host, int(port or 11434)
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, 11434
    return host or "127.0.0.1", int(port)


def main(argv):
    if argv[:1] in (["-v"], ["--version"]):
        print("ollama version is " + VERSION)
        return 0
    if argv[:1] == ["serve"]:
        double.VERSION = VERSION
        host, port = split_host(os.environ.get("OLLAMA_HOST", ""))
        models_dir = os.environ.get("OLLAMA_MODELS") or os.path.expanduser("~/.ollama/models")
        server = double.OllamaDouble(host, port, models=(), models_dir=models_dir)
        print("Ollama API TEST DOUBLE (not Ollama) " + VERSION + ", models in " + models_dir, flush=True)
        server.serve_forever()
        return 0
    print("usage: ollama serve | ollama --version  (Ollama API test double)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

_README = """TEST DOUBLE - this is not Ollama.

An archive in the layout of Ollama's official Linux release (bin/ollama, lib/ollama/) whose
bin/ollama serves PDF Compare's Ollama HTTP API test double. Built by
tests/doubles/ollama_archive.py for the tests of the Ansible role `ollama`.
"""


@dataclass(frozen=True)
class BuiltArchive:
    """An archive written by :func:`build_archive`."""

    path: Path
    sha256: str
    version: str


def launcher_source(version: str = DOUBLE_VERSION) -> str:
    """The text of the fake ``bin/ollama``."""
    return _LAUNCHER.format(version=version)


def _add(tar: tarfile.TarFile, name: str, data: bytes | None, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mode = mode
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def build_archive(out_dir: Path, version: str = DOUBLE_VERSION, arch: str = "amd64") -> BuiltArchive:
    """Write ``out_dir/ollama-linux-<arch>.tgz`` (+ ``.sha256``); unchanged bytes are not rewritten."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _add(tar, "./bin", None, 0o755)
        _add(tar, "./bin/ollama", launcher_source(version).encode(), 0o755)
        _add(tar, "./lib", None, 0o755)
        _add(tar, "./lib/ollama", None, 0o755)
        _add(tar, "./lib/ollama/TEST-DOUBLE.txt", _README.encode(), 0o644)
        _add(tar, "./lib/ollama/ollama_api_double.py", _API_DOUBLE.read_bytes(), 0o644)
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    data = packed.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    path = out_dir / f"ollama-linux-{arch}.tgz"
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    (out_dir / f"{path.name}.sha256").write_text(digest + "\n")
    return BuiltArchive(path=path, sha256=digest, version=version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the fake Ollama release archive (a test double).")
    parser.add_argument("--out", required=True, type=Path, help="directory to write the archive to")
    parser.add_argument("--version", default=DOUBLE_VERSION, help=f"version it reports ({DOUBLE_VERSION})")
    parser.add_argument("--arch", default="amd64", choices=["amd64", "arm64"],
                        help="architecture in the file name")
    args = parser.parse_args(argv)
    built = build_archive(args.out, args.version, args.arch)
    print(built.sha256)
    return 0


if __name__ == "__main__":
    sys.exit(main())
