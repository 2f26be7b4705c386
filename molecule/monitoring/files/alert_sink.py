#!/usr/bin/python3
"""TEST DOUBLE of an alert receiver (a webhook endpoint), for scenario `monitoring` only.

Listens on 127.0.0.1:9095 and appends every POSTed body (Alertmanager's webhook JSON) as one line
to /var/lib/alert-sink/alerts.jsonl, answering 200. Started by prepare.yml with systemd-run.
"""

import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

OUT = "/var/lib/alert-sink/alerts.jsonl"


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            line = json.dumps(json.loads(body))
        except ValueError:
            line = json.dumps({"invalid": body.decode("utf-8", "replace")})
        with open(OUT, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


if __name__ == "__main__":
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    HTTPServer(("127.0.0.1", 9095), Sink).serve_forever()
