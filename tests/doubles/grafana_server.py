"""A TEST DOUBLE of Grafana's HTTP server (not Grafana), installed by the `grafana-test-double` .deb
that tests/doubles/grafana_deb.py builds for the tests of the Ansible role `grafana`.

It reads what the role writes - grafana.ini ([server] http_addr/http_port, [security]
admin_user/admin_password, [auth.anonymous], [paths] provisioning) and the provisioning files
(datasources/*.yaml, dashboards/*.yaml and the JSON files their providers point at) - and serves the
part of Grafana's HTTP API that provisioning checks need:

    GET /api/health                                 {"database": "ok", "version": ...} (no auth)
    GET /api/datasources                            provisioned datasources (admin basic auth)
    GET /api/datasources/uid/<uid> | name/<name>    one of them
    GET /api/datasources/uid/<uid>/health           queries the datasource's Prometheus (1+1)
    GET /api/search?type=dash-db                    provisioned dashboards (uid, title, folderTitle)
    GET /api/dashboards/uid/<uid>                   {"dashboard": <JSON>, "meta": {...}}

Everything but /api/health answers 401 without the admin's credentials (anonymous access is not
implemented: the double refuses to start when grafana.ini enables it). Provisioning is read at
start, like Grafana's datasources; invalid provisioning files make the start fail, as in Grafana.

    grafana server --config=/etc/grafana/grafana.ini [--homepath=...] [cfg:default.paths.provisioning=DIR ...]
    grafana --version
"""

from __future__ import annotations

import base64
import configparser
import glob
import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

VERSION = "0.0.0-test-double"


def read_ini(path: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True, inline_comment_prefixes=None)
    with open(path, encoding="utf-8") as fh:
        parser.read_string(fh.read())
    return parser


def ini_value(parser: configparser.RawConfigParser, section: str, key: str, default: str = "") -> str:
    value = parser.get(section, key, fallback=default).strip()
    if value.startswith('"""') and value.endswith('"""') and len(value) >= 6:
        value = value[3:-3]
    return value


class Provisioned:
    """Datasources and dashboards read from the provisioning directory."""

    def __init__(self, directory: str) -> None:
        import yaml  # python3-yaml: a dependency of the double's package

        self.datasources: list[dict] = []
        self.dashboards: list[dict] = []
        for path in sorted(glob.glob(os.path.join(directory, "datasources", "*.y*ml"))):
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
            for ds in data.get("datasources", []):
                self.datasources.append({"id": len(self.datasources) + 1, "uid": ds.get("uid", ""),
                                         "name": ds["name"], "type": ds["type"], "url": ds.get("url", ""),
                                         "access": ds.get("access", "proxy"),
                                         "isDefault": ds.get("isDefault", False),
                                         "jsonData": ds.get("jsonData", {}), "readOnly": True})
        for path in sorted(glob.glob(os.path.join(directory, "dashboards", "*.y*ml"))):
            with open(path, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
            for provider in data.get("providers", []):
                folder = provider.get("folder", "")
                for file in sorted(glob.glob(os.path.join(provider["options"]["path"], "*.json"))):
                    with open(file, encoding="utf-8") as fh:
                        dashboard = json.load(fh)
                    self.dashboards.append({"dashboard": dashboard, "folder": folder, "file": file})

    def datasource(self, key: str, value: str) -> dict | None:
        return next((d for d in self.datasources if str(d.get(key)) == value), None)


class Handler(BaseHTTPRequestHandler):
    server_version = "GrafanaTestDouble"
    admin: tuple[str, str]
    provisioned: Provisioned

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        sys.stderr.write("grafana-test-double: " + (format % args) + "\n")

    def _json(self, status: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == self.admin

    def do_GET(self):  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        path = url.path.rstrip("/")
        if path == "/api/health":
            self._json(200, {"database": "ok", "version": VERSION, "commit": "test-double"})
            return
        if not self._authorised():
            self._json(401, {"message": "Unauthorized"})
            return
        parts = [unquote(p) for p in path.split("/")[1:]]
        prov = self.provisioned
        if parts == ["api", "datasources"]:
            self._json(200, prov.datasources)
        elif parts[:2] == ["api", "datasources"] and len(parts) == 4 and parts[2] in ("uid", "name"):
            ds = prov.datasource(parts[2], parts[3])
            self._json(200, ds) if ds else self._json(404, {"message": "Data source not found"})
        elif parts[:3] == ["api", "datasources", "uid"] and len(parts) == 5 and parts[4] == "health":
            ds = prov.datasource("uid", parts[3])
            if ds is None:
                self._json(404, {"message": "Data source not found"})
                return
            try:
                probe = ds["url"].rstrip("/") + "/api/v1/query?query=1%2B1"
                with urllib.request.urlopen(probe, timeout=10) as r:
                    ok = json.load(r).get("status") == "success"
            except OSError as exc:
                self._json(400, {"status": "ERROR", "message": str(exc)})
                return
            self._json(200 if ok else 400, {"status": "OK" if ok else "ERROR",
                                            "message": "Successfully queried the Prometheus API."})
        elif parts == ["api", "search"]:
            wanted = parse_qs(url.query).get("type", ["dash-db"])[0]
            found = [{"uid": d["dashboard"]["uid"], "title": d["dashboard"]["title"], "type": "dash-db",
                      "tags": d["dashboard"].get("tags", []), "folderTitle": d["folder"]}
                     for d in prov.dashboards] if wanted == "dash-db" else []
            self._json(200, found)
        elif parts[:3] == ["api", "dashboards", "uid"] and len(parts) == 4:
            match = next((d for d in prov.dashboards if d["dashboard"]["uid"] == parts[3]), None)
            if match is None:
                self._json(404, {"message": "Dashboard not found"})
            else:
                self._json(200, {"dashboard": match["dashboard"],
                                 "meta": {"provisioned": True, "folderTitle": match["folder"],
                                          "provisionedExternalId": os.path.basename(match["file"])}})
        else:
            self._json(404, {"message": "Not found (Grafana test double)"})


def serve(argv: list[str]) -> int:
    config = "/etc/grafana/grafana.ini"
    overrides: dict[str, str] = {}
    for arg in argv:
        if arg.startswith("--config="):
            config = arg.split("=", 1)[1]
        elif arg.startswith("cfg:"):
            key, _, value = arg[4:].partition("=")
            overrides[key] = value
    ini = read_ini(config)
    if ini_value(ini, "auth.anonymous", "enabled", "false").lower() == "true":
        print("grafana-test-double: anonymous access is not implemented", file=sys.stderr)
        return 1
    provisioning = (overrides.get("default.paths.provisioning")
                    or ini_value(ini, "paths", "provisioning", "/etc/grafana/provisioning"))
    handler = type("ConfiguredHandler", (Handler,), {
        "admin": (ini_value(ini, "security", "admin_user", "admin"),
                  ini_value(ini, "security", "admin_password", "admin")),
        "provisioned": Provisioned(provisioning)})
    address = ini_value(ini, "server", "http_addr", "") or "0.0.0.0"
    port = int(ini_value(ini, "server", "http_port", "3000"))
    httpd = ThreadingHTTPServer((address, port), handler)
    print(f"Grafana TEST DOUBLE (not Grafana) {VERSION} on {address}:{port}, provisioning {provisioning}",
          flush=True)
    httpd.serve_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-v"], ["--version"], ["-version"]):
        print(f"grafana version {VERSION}")
        return 0
    if args[:1] in (["server"], ["grafana-server"]):
        return serve(args[1:])
    print("usage: grafana server --config=FILE | grafana --version  (Grafana test double)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
