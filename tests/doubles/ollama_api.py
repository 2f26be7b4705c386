"""A test double of the Ollama HTTP API (not Ollama): the endpoints PDF Compare uses, with
deterministic answers, so the AI features can be tested without a model or a GPU.

Endpoints: ``GET /api/version``, ``GET /api/tags``, ``POST /api/pull`` (streams NDJSON status lines,
then the model is "installed"), ``POST /api/show``, ``POST /api/chat`` and ``POST /api/generate``
(NDJSON streams, or one JSON object with ``"stream": false``), ``POST /api/embed`` (bag-of-words
vectors hashed into :data:`EMBED_DIMENSIONS` dimensions and normalised, so texts sharing words are
close), ``GET /`` ("Ollama is running"). A model that is not installed answers 404 with Ollama's
``model "x" not found, try pulling it first``.

The answers: a chat or generate request answers ``Double answer to: <first words of the last user
message>`` followed by the words of the first line of any context given in the prompt, cut into a
few chunks (so streaming is visible); nothing random.

Test controls (on the :class:`OllamaDouble` object, or over HTTP under ``/_double/``):
``add_model(name)`` / ``remove_model(name)`` (``POST /_double/models`` ``{"add": [...], "remove": [...]}``),
``delay_s`` (seconds before every answer; ``POST /_double/delay`` ``{"seconds": N}``), ``chunk_delay_s``
(between stream chunks), ``fail_status`` (answer every /api request with this HTTP status),
``requests`` (every request received: method, path, JSON body; ``GET /_double/requests``),
``stop()`` (the port closes: "Ollama is down").

Persistence: with ``models_dir`` (``--models-dir``) the installed models are kept as small manifest files
in Ollama's layout under that directory (``manifests/registry.ollama.ai/library/<name>/<tag>``), so they
survive a restart of the double, as pulled models survive a restart of Ollama.

Standalone: ``python tests/doubles/ollama_api.py --port 11434 [--model llama3.2 ...]`` serves until
interrupted. :mod:`tests.doubles.ollama_archive` packs it as a fake ``ollama`` binary in the layout of
Ollama's official Linux archive for the Ansible role's tests (``bin/ollama serve`` runs this double).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OllamaDouble", "EMBED_DIMENSIONS", "DEFAULT_MODELS", "VERSION", "embed_text", "answer_text",
           "main"]

VERSION = "0.12.3-double"
EMBED_DIMENSIONS = 768
DEFAULT_MODELS = ("llama3.2", "nomic-embed-text")
_WORD = re.compile(r"\w+", re.UNICODE)


def full_name(model: str) -> str:
    """Ollama's canonical model name (``llama3.2`` -> ``llama3.2:latest``)."""
    return model if ":" in model else f"{model}:latest"


def embed_text(text: str, dimensions: int = EMBED_DIMENSIONS) -> list[float]:
    """A deterministic unit vector: each lower-cased word adds 1 to a dimension chosen by its hash."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        vector[int.from_bytes(digest, "little") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


def answer_text(messages: list[dict[str, Any]]) -> str:
    """The double's deterministic answer to a conversation."""
    user = [m.get("content") or "" for m in messages if m.get("role") == "user"]
    last = user[-1] if user else ""
    question = " ".join(last.split()[:12])
    answer = f"Double answer to: {question}"
    context = [line.strip() for line in last.splitlines() if line.strip().startswith("[")]
    if context:
        answer += f" | first source: {context[0][:200]}"
    return answer


def _chunks(text: str, parts: int = 4) -> list[str]:
    words = text.split(" ")
    size = max(1, math.ceil(len(words) / parts))
    pieces = [" ".join(words[k:k + size]) for k in range(0, len(words), size)]
    return [p + (" " if k < len(pieces) - 1 else "") for k, p in enumerate(pieces)]


class OllamaDouble:
    """The double's state and its HTTP server (127.0.0.1 by default; port 0 picks a free one)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, models: tuple[str, ...] = DEFAULT_MODELS,
                 delay_s: float = 0.0, chunk_delay_s: float = 0.0, models_dir: str | None = None) -> None:
        self.host = host
        self.port = port
        self.models_dir = models_dir
        self.models: set[str] = {full_name(m) for m in models} | set(self._persisted())
        self.delay_s = delay_s
        self.chunk_delay_s = chunk_delay_s
        self.fail_status: int | None = None
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- controls --------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL (what PDFCOMPARE_OLLAMA_URL is set to)."""
        return f"http://{self.host}:{self.port}"

    def add_model(self, name: str) -> None:
        with self._lock:
            self.models.add(full_name(name))
            self._persist(full_name(name), present=True)

    def remove_model(self, name: str) -> None:
        with self._lock:
            self.models.discard(full_name(name))
            self._persist(full_name(name), present=False)

    # --- persistence (models_dir) ------------------------------------------------------------------

    def _manifest_path(self, name: str) -> str:
        model, _, tag = name.partition(":")
        assert self.models_dir is not None
        return os.path.join(self.models_dir, "manifests", "registry.ollama.ai", "library", model, tag)

    def _persisted(self) -> list[str]:
        """Models whose manifest files exist under ``models_dir``."""
        if not self.models_dir:
            return []
        root = os.path.join(self.models_dir, "manifests", "registry.ollama.ai", "library")
        found = []
        for model in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            for tag in sorted(os.listdir(os.path.join(root, model))):
                found.append(f"{model}:{tag}")
        return found

    def _persist(self, name: str, present: bool) -> None:
        if not self.models_dir:
            return
        path = self._manifest_path(name)
        if present:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                json.dump({"schemaVersion": 2, "test_double": True, "model": name}, fh)
        elif os.path.exists(path):
            os.unlink(path)

    def has_model(self, name: str) -> bool:
        with self._lock:
            return full_name(name) in self.models

    def requests_to(self, path: str) -> list[dict[str, Any]]:
        """The requests received on ``path`` (oldest first)."""
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    def start(self) -> OllamaDouble:
        """Listen (again, on the same port after a :meth:`stop`) and serve in a thread."""
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="ollama-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port (clients then get "connection refused")."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OllamaDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread (standalone mode)."""
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        print(f"Ollama API test double listening on {self.url}", flush=True)
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    double: OllamaDouble
    protocol_version = "HTTP/1.1"
    server_version = "OllamaDouble"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet: tests read `requests` instead

    # --- plumbing --------------------------------------------------------------------------------------

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            data = {"_invalid": raw[:200].decode("utf-8", "replace")}
        return data if isinstance(data, dict) else {"_value": data}

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, lines: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for k, line in enumerate(lines):
            if k and self.double.chunk_delay_s:
                time.sleep(self.double.chunk_delay_s)
            data = json.dumps(line).encode("utf-8") + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _not_found(self, model: str) -> None:
        self._json(404, {"error": f'model "{model}" not found, try pulling it first'})

    def _record(self, body: dict[str, Any]) -> None:
        with self.double._lock:
            self.double.requests.append({"method": self.command, "path": self.path, "body": body,
                                         "at": time.time()})

    def _gate(self) -> bool:
        """Apply the configured delay and failure; False when the request was answered already."""
        if self.double.delay_s:
            time.sleep(self.double.delay_s)
        if self.double.fail_status is not None and self.path.startswith("/api/"):
            self._json(self.double.fail_status, {"error": "the Ollama test double was told to fail"})
            return False
        return True

    # --- routes ----------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record({})
        if self.path.startswith("/_double/requests"):
            with self.double._lock:
                self._json(200, self.double.requests)
            return
        if not self._gate():
            return
        if self.path == "/":
            data = b"Ollama is running"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/api/version":
            self._json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            with self.double._lock:
                names = sorted(self.double.models)
            self._json(200, {"models": [_model_entry(n) for n in names]})
        else:
            self._json(404, {"error": "not found"})

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming; `ollama` probes the server so
        self._record({})
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self._body()
        self._record(body)
        if self.path.startswith("/_double/"):
            self._control(body)
            return
        if not self._gate():
            return
        route = {"/api/pull": self._pull, "/api/show": self._show, "/api/chat": self._chat,
                 "/api/generate": self._generate, "/api/embed": self._embed}.get(self.path)
        if route is None:
            self._json(404, {"error": "not found"})
            return
        route(body)

    def _control(self, body: dict[str, Any]) -> None:
        if self.path == "/_double/models":
            for name in body.get("add", []):
                self.double.add_model(name)
            for name in body.get("remove", []):
                self.double.remove_model(name)
            self._json(200, {"models": sorted(self.double.models)})
        elif self.path == "/_double/delay":
            self.double.delay_s = float(body.get("seconds", 0))
            self._json(200, {"delay_s": self.double.delay_s})
        elif self.path == "/_double/fail":
            status = body.get("status")
            self.double.fail_status = int(status) if status else None
            self._json(200, {"fail_status": self.double.fail_status})
        else:
            self._json(404, {"error": "not found"})

    def _pull(self, body: dict[str, Any]) -> None:
        model = body.get("model") or body.get("name") or ""
        if not model:
            self._json(400, {"error": "model is required"})
            return
        self.double.add_model(model)
        lines = [{"status": "pulling manifest"},
                 {"status": "pulling 0123456789ab", "digest": "sha256:0123456789ab", "total": 1000,
                  "completed": 1000},
                 {"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                 {"status": "success"}]
        if body.get("stream", True):
            self._stream(lines)
        else:
            self._json(200, {"status": "success"})

    def _show(self, body: dict[str, Any]) -> None:
        model = body.get("model") or body.get("name") or ""
        if not self.double.has_model(model):
            self._not_found(model)
            return
        embedding = "embed" in model
        self._json(200, {
            "modelfile": f"# test double\nFROM {full_name(model)}\n",
            "parameters": "temperature 0",
            "template": "{{ .Prompt }}",
            "details": _details(model),
            "model_info": {"general.architecture": "bert" if embedding else "llama",
                           "general.parameter_count": 137_000_000 if embedding else 3_200_000_000},
            "capabilities": ["embedding"] if embedding else ["completion"],
            "modified_at": _now(),
        })

    def _chat(self, body: dict[str, Any]) -> None:
        model = body.get("model") or ""
        if not self.double.has_model(model):
            self._not_found(model)
            return
        text = answer_text(body.get("messages") or [])
        if not body.get("stream", True):
            self._json(200, {"model": model, "created_at": _now(), "done": True, "done_reason": "stop",
                             "message": {"role": "assistant", "content": text}, **_counts(text)})
            return
        lines: list[dict[str, Any]] = [
            {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": piece},
             "done": False} for piece in _chunks(text)]
        lines.append({"model": model, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                      "done": True, "done_reason": "stop", **_counts(text)})
        self._stream(lines)

    def _generate(self, body: dict[str, Any]) -> None:
        model = body.get("model") or ""
        if not self.double.has_model(model):
            self._not_found(model)
            return
        text = answer_text([{"role": "user", "content": body.get("prompt") or ""}])
        if not body.get("stream", True):
            self._json(200, {"model": model, "created_at": _now(), "response": text, "done": True,
                             "done_reason": "stop", **_counts(text)})
            return
        lines: list[dict[str, Any]] = [
            {"model": model, "created_at": _now(), "response": piece, "done": False}
            for piece in _chunks(text)]
        lines.append({"model": model, "created_at": _now(), "response": "", "done": True,
                      "done_reason": "stop", **_counts(text)})
        self._stream(lines)

    def _embed(self, body: dict[str, Any]) -> None:
        model = body.get("model") or ""
        if not self.double.has_model(model):
            self._not_found(model)
            return
        given = body.get("input", "")
        texts = [given] if isinstance(given, str) else list(given)
        dimensions = int(body.get("dimensions") or EMBED_DIMENSIONS)
        self._json(200, {"model": model, "embeddings": [embed_text(t, dimensions) for t in texts],
                         "total_duration": 1000, "load_duration": 10,
                         "prompt_eval_count": sum(len(t.split()) for t in texts)})


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _details(model: str) -> dict[str, Any]:
    embedding = "embed" in model
    return {"format": "gguf", "family": "nomic-bert" if embedding else "llama",
            "families": ["nomic-bert" if embedding else "llama"],
            "parameter_size": "137M" if embedding else "3.2B",
            "quantization_level": "F16" if embedding else "Q4_K_M"}


def _model_entry(name: str) -> dict[str, Any]:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {"name": name, "model": name, "modified_at": _now(), "size": 1_000_000 + len(name),
            "digest": digest, "details": _details(name)}


def _counts(text: str) -> dict[str, int]:
    words = len(text.split())
    return {"total_duration": 1_000_000, "load_duration": 1000, "prompt_eval_count": 10,
            "prompt_eval_duration": 1000, "eval_count": words, "eval_duration": 1000 * max(words, 1)}


def main(argv: list[str] | None = None) -> int:
    """``python tests/doubles/ollama_api.py --port N``: serve until interrupted."""
    parser = argparse.ArgumentParser(description="A test double of the Ollama HTTP API (not Ollama).")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=11434, help="listen port (11434)")
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help=f"installed model; repeatable (default: {', '.join(DEFAULT_MODELS)})")
    parser.add_argument("--no-models", action="store_true", help="start with no model installed")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS", help="delay of every answer")
    parser.add_argument("--models-dir", default=None, metavar="DIR",
                        help="keep installed models as manifest files under DIR (they survive a restart)")
    args = parser.parse_args(argv)
    models = () if args.no_models else tuple(args.models or DEFAULT_MODELS)
    double = OllamaDouble(args.host, args.port, models, delay_s=args.delay, models_dir=args.models_dir)
    with contextlib.suppress(KeyboardInterrupt):
        double.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
