"""Builds `grafana-test-double_<version>_all.deb`: a TEST DOUBLE of the vendor's grafana package (not
Grafana) for the tests of the Ansible role `grafana`, which installs a local .deb on air-gapped
sites (grafana_install_source: deb). This machine cannot download Grafana.

The package has the vendor package's layout, so the role uses it exactly as it uses the real one:

    /usr/share/grafana/bin/grafana        the stand-in (tests/doubles/grafana_server.py): `grafana server`
                                          serves the HTTP API the provisioning checks need
    /usr/sbin/grafana-server              wrapper, as in the vendor package
    /lib/systemd/system/grafana-server.service, /etc/default/grafana-server
    /etc/grafana/grafana.ini, /etc/grafana/provisioning/{datasources,dashboards}/
    user and group grafana, /var/lib/grafana, /var/log/grafana (postinst)

It depends on python3 and python3-yaml and `Provides: grafana`. Built with dpkg-deb, reproducibly
(fixed time stamps), so unchanged sources give the same file.

    python -m tests.doubles.grafana_deb --out DIR      prints the path of the .deb
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["build_deb", "PACKAGE", "main"]

PACKAGE = "grafana-test-double"
_SERVER = Path(__file__).with_name("grafana_server.py")
_EPOCH = "1704067200"

_CONTROL = """Package: {package}
Version: {version}
Architecture: all
Maintainer: PDF Compare tests <tests@pdfcompare.invalid>
Depends: python3, python3-yaml, adduser
Provides: grafana
Conflicts: grafana
Section: misc
Priority: optional
Description: TEST DOUBLE of Grafana (not Grafana) for the tests of PDF Compare's Ansible role
 A stand-in with the vendor package's layout whose `grafana server` serves the part of Grafana's
 HTTP API the role's provisioning checks need. Never install it on a real host.
"""

_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group grafana >/dev/null || addgroup --system grafana
    getent passwd grafana >/dev/null || adduser --system --ingroup grafana --home /usr/share/grafana \\
        --no-create-home --shell /usr/sbin/nologin grafana
    for d in /var/lib/grafana /var/log/grafana; do
        mkdir -p "$d"; chown grafana:grafana "$d"; chmod 0750 "$d"
    done
    chgrp -R grafana /etc/grafana
    if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
"""

_UNIT = """[Unit]
Description=Grafana instance (TEST DOUBLE of Grafana, from tests/doubles/grafana_deb.py)
Documentation=http://docs.grafana.org
Wants=network-online.target
After=network-online.target

[Service]
EnvironmentFile=/etc/default/grafana-server
User=grafana
Group=grafana
Type=simple
Restart=on-failure
WorkingDirectory=/usr/share/grafana
RuntimeDirectory=grafana
RuntimeDirectoryMode=0750
ExecStart=/usr/share/grafana/bin/grafana server --config=${CONF_FILE} \\
  --pidfile=${PID_FILE_DIR}/grafana-server.pid --packaging=deb \\
  cfg:default.paths.logs=${LOG_DIR} cfg:default.paths.data=${DATA_DIR} \\
  cfg:default.paths.plugins=${PLUGINS_DIR} cfg:default.paths.provisioning=${PROVISIONING_CFG_DIR}

[Install]
WantedBy=multi-user.target
"""

_DEFAULT = """GRAFANA_USER=grafana
GRAFANA_GROUP=grafana
GRAFANA_HOME=/usr/share/grafana
LOG_DIR=/var/log/grafana
DATA_DIR=/var/lib/grafana
MAX_OPEN_FILES=10000
CONF_DIR=/etc/grafana
CONF_FILE=/etc/grafana/grafana.ini
RESTART_ON_UPGRADE=true
PLUGINS_DIR=/var/lib/grafana/plugins
PROVISIONING_CFG_DIR=/etc/grafana/provisioning
PID_FILE_DIR=/run/grafana
"""

_INI = """; grafana.ini of the Grafana TEST DOUBLE package (the role replaces it)
[server]
http_port = 3000
[security]
admin_user = admin
admin_password = admin
"""

_WRAPPER = """#!/bin/sh
# TEST DOUBLE of Grafana: grafana-server runs the stand-in's server.
exec /usr/share/grafana/bin/grafana server "$@"
"""


def _write(root: Path, rel: str, text: str, mode: int) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def build_deb(out_dir: Path, version: str = "0.0.0-test-double") -> Path:
    """Build the package into ``out_dir``; returns its path (rewritten only when its bytes change)."""
    if shutil.which("dpkg-deb") is None:
        raise RuntimeError("dpkg-deb is needed to build the Grafana test double")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{PACKAGE}_{version}_all.deb"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pkg"
        _write(root, "DEBIAN/control", _CONTROL.format(package=PACKAGE, version=version), 0o644)
        _write(root, "DEBIAN/postinst", _POSTINST, 0o755)
        _write(root, "DEBIAN/conffiles", "/etc/grafana/grafana.ini\n/etc/default/grafana-server\n", 0o644)
        server = _SERVER.read_text().replace('VERSION = "0.0.0-test-double"', f'VERSION = "{version}"')
        _write(root, "usr/share/grafana/bin/grafana", "#!/usr/bin/python3\n" + server, 0o755)
        _write(root, "usr/share/grafana/TEST-DOUBLE.txt", "TEST DOUBLE - this is not Grafana.\n", 0o644)
        _write(root, "usr/sbin/grafana-server", _WRAPPER, 0o755)
        _write(root, "lib/systemd/system/grafana-server.service", _UNIT, 0o644)
        _write(root, "etc/default/grafana-server", _DEFAULT, 0o644)
        _write(root, "etc/grafana/grafana.ini", _INI, 0o640)
        for sub in ("datasources", "dashboards", "plugins", "alerting"):
            (root / "etc/grafana/provisioning" / sub).mkdir(parents=True, exist_ok=True)
        for path in root.rglob("*"):
            os.utime(path, (int(_EPOCH), int(_EPOCH)))
        built = Path(tmp) / target.name
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(built)],
                       check=True, capture_output=True, env={**os.environ, "SOURCE_DATE_EPOCH": _EPOCH})
        data = built.read_bytes()
    if not target.exists() or target.read_bytes() != data:
        target.write_bytes(data)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the grafana-test-double .deb (a test double).")
    parser.add_argument("--out", required=True, type=Path, help="directory to write the package to")
    parser.add_argument("--version", default="0.0.0-test-double", help="package version")
    args = parser.parse_args(argv)
    print(build_deb(args.out, args.version))
    return 0


if __name__ == "__main__":
    sys.exit(main())
