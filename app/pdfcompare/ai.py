"""The AI assistant: summaries of a comparison and answers about the documents, from an Ollama
server through the official ``ollama`` client. Optional: without ``PDFCOMPARE_OLLAMA_URL``, or when
the server or a model is missing, :meth:`Assistant.status` says so in one sentence for the UI and
nothing else of the app is affected.

- :meth:`Assistant.status` asks the server for its version and installed models (cached for
  :data:`STATUS_TTL_S` seconds); a missing model is named with the command that installs it.
- :meth:`Assistant.summarize` streams a summary written from a bounded prompt (the report's counts
  and the first changes' texts, at most :data:`PROMPT_LIMIT_CHARS` characters).
- :meth:`Assistant.answer` answers a question about two documents from the passages retrieval finds:
  by vector similarity (pgvector) when the database has it and the embedding model is installed
  (chunks without an embedding are embedded on demand, at most :data:`EMBED_ON_DEMAND_LIMIT` per
  question), else by PostgreSQL full-text search.

Latency and failures of every Ollama request are in the metrics
(``pdfcompare_ollama_request_duration_seconds{operation}``, ``pdfcompare_ollama_errors_total``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import ollama

from . import metrics
from .logs import RateLimitedLogger
from .settings import Settings

__all__ = [
    "Assistant",
    "AiStatus",
    "Answer",
    "Source",
    "AiUnavailableError",
    "summary_prompt",
    "question_prompt",
    "STATUS_TTL_S",
    "PROMPT_LIMIT_CHARS",
    "EMBED_ON_DEMAND_LIMIT",
]

log = logging.getLogger("pdfcompare.ai")

STATUS_TTL_S = 30.0
STATUS_TIMEOUT_S = 3.0
PROMPT_LIMIT_CHARS = 6000
CHANGE_TEXT_LIMIT = 240
CONTEXT_LIMIT_CHARS = 6000
EMBED_ON_DEMAND_LIMIT = 256
EMBED_BATCH = 32
CHAT_OPTIONS = {"temperature": 0.2, "num_ctx": 4096}

SUMMARY_SYSTEM = (
    "You summarise the differences between two versions of a document for a reviewer. Write a few short "
    "bullet points, most important first, with page numbers. Use only the changes listed; never invent "
    "one. If the list says it is cut short, say that the summary covers the first changes only."
)
ANSWER_SYSTEM = (
    "You answer questions about two versions of a document (old and new) using only the passages given. "
    "Each passage starts with its label in brackets; cite the label of each fact you use, e.g. "
    "[new: terms.pdf p.3]. If the passages do not contain the answer, say that you cannot find it in the "
    "documents."
)


class AiUnavailableError(Exception):
    """The assistant cannot answer now; the message says why, for the person using the app."""


@dataclass(frozen=True, slots=True)
class AiStatus:
    """Whether the assistant can be used, and what to tell the user if not (or only partly)."""

    available: bool
    """Summaries and answers can be asked for (the server answers and has the chat model)."""
    notice: str | None
    """One or two sentences for the UI when something is off or missing; None when all is well."""
    chat_model: str
    embed_model: str
    embed_available: bool = False
    """The embedding model is installed (answers can use vector retrieval)."""
    version: str | None = None
    """The Ollama server's version, when it told us."""


@dataclass(frozen=True, slots=True)
class Source:
    """A passage an answer was given from."""

    document_id: int
    page_no: int
    text: str
    score: float | None = None
    label: str = ""
    """How the prompt names it, e.g. ``old p.3`` or ``contract_v2.pdf p.3``."""


@dataclass
class Answer:
    """An answer being written: iterate ``stream`` for its text; ``sources`` are the passages used."""

    stream: Iterator[str]
    sources: list[Source] = field(default_factory=list)
    retrieval: Literal["vector", "text", "none"] = "none"


def _full_name(model: str) -> str:
    return model if ":" in model else f"{model}:latest"


def _clip(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _report_dict(report: Any) -> Mapping[str, Any]:
    if isinstance(report, Mapping):
        return report
    if isinstance(report, str):
        return json.loads(report)
    return report.to_dict()


def summary_prompt(report: Any, old_name: str = "old", new_name: str = "new",
                   limit: int = PROMPT_LIMIT_CHARS) -> str:
    """The user message of a summary: counts, page changes and the first changes' texts, cut to at
    most ``limit`` characters (``report``: a Report, its dict or its JSON)."""
    data = _report_dict(report)
    changes: Sequence[Mapping[str, Any]] = data.get("changes") or []
    summary = data.get("summary") or {}
    old_pages = (data.get("old") or {}).get("pages")
    new_pages = (data.get("new") or {}).get("pages")
    head = [
        f"Old version: {old_name} ({old_pages} pages). New version: {new_name} ({new_pages} pages).",
        f"{len(changes)} changes: " + ", ".join(f"{k} {summary.get(k, 0)}" for k in
                                                 ("text", "page", "geometry", "raster")) + ".",
    ]
    if not changes:
        head.append("The documents have no differences.")
        return "\n".join(head)
    lines: list[str] = []
    used = sum(len(h) + 1 for h in head) + 80
    for change in changes:
        line = _change_line(change)
        if used + len(line) + 1 > limit:
            break
        lines.append(line)
        used += len(line) + 1
    if len(lines) < len(changes):
        head.append(f"The list is cut short: the first {len(lines)} of {len(changes)} changes.")
    return "\n".join([*head, "Changes:", *lines])


def _change_line(change: Mapping[str, Any]) -> str:
    kind, op = change.get("kind"), change.get("op")
    old_page, new_page = change.get("old_page"), change.get("new_page")
    where = f"new p.{new_page}" if new_page else f"old p.{old_page}"
    if kind == "text":
        old_text = _clip(change.get("old_text"), CHANGE_TEXT_LIMIT)
        new_text = _clip(change.get("new_text"), CHANGE_TEXT_LIMIT)
        if op == "insert":
            return f"- {where}: inserted \"{new_text}\""
        if op == "delete":
            return f"- {where}: deleted \"{old_text}\""
        if op == "move":
            return f"- moved from old p.{old_page} to new p.{new_page}: \"{old_text or new_text}\""
        return f"- {where}: \"{old_text}\" replaced by \"{new_text}\""
    if kind == "page":
        return {"insert": f"- page inserted: new p.{new_page}", "delete": f"- page deleted: old p.{old_page}",
                }.get(op or "", f"- page moved: old p.{old_page} is now new p.{new_page}")
    what = "drawing (vector geometry)" if kind == "geometry" else "image/scanned area"
    return f"- {where}: {what} {op}"


def question_prompt(question: str, sources: Sequence[Source], limit: int = CONTEXT_LIMIT_CHARS) -> str:
    """The user message of a question: the question, then the passages (``[label] text``), bounded."""
    lines = [f"Question: {question.strip()}", "", "Passages from the documents:"]
    used = sum(len(line) + 1 for line in lines)
    if not sources:
        lines.append("(no passage of the documents matches the question)")
    for source in sources:
        line = f"[{source.label}] {_clip(source.text, 1500)}"
        if used + len(line) + 1 > limit:
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


class Assistant:
    """The AI features of one process (thread-safe). ``storage`` (a
    :class:`pdfcompare.storage.Storage`) is needed for :meth:`answer` only."""

    def __init__(self, settings: Settings, storage: Any = None) -> None:
        self.settings = settings
        self.storage = storage
        self._status: AiStatus | None = None
        self._status_at = 0.0
        self._lock = threading.Lock()
        self._warn = RateLimitedLogger(log, 60.0)
        self._client: ollama.Client | None = None
        self._status_client: ollama.Client | None = None
        if settings.ollama_url:
            timeout = httpx.Timeout(settings.ollama_timeout_s, connect=min(5.0, settings.ollama_timeout_s))
            self._client = ollama.Client(host=settings.ollama_url, timeout=timeout)
            self._status_client = ollama.Client(host=settings.ollama_url, timeout=STATUS_TIMEOUT_S)

    @property
    def _url(self) -> str:
        return self.settings.ollama_url.rstrip("/")

    def close(self) -> None:
        """Close the HTTP connections."""
        for client in (self._client, self._status_client):
            if client is not None:
                client.close()

    # --- status --------------------------------------------------------------------------------------

    def status(self, refresh: bool = False) -> AiStatus:
        """What the assistant can do now (asked from the server at most every 30 s). Never raises."""
        with self._lock:
            if (not refresh and self._status is not None
                    and time.monotonic() - self._status_at < STATUS_TTL_S):
                return self._status
        status = self._check()
        with self._lock:
            self._status, self._status_at = status, time.monotonic()
        return status

    def _check(self) -> AiStatus:
        chat, embed = self.settings.ollama_chat_model, self.settings.ollama_embed_model
        if self._status_client is None:
            return AiStatus(False, "AI features are off: no Ollama server is configured "
                            "(PDFCOMPARE_OLLAMA_URL).", chat, embed)
        started = time.monotonic()
        try:
            installed = {_full_name(m.model or "") for m in self._status_client.list().models}
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the answer is "unavailable"
            metrics.count_ollama_error("status")
            self._warn.warning("status", "Ollama at %s: %s", self._url, self._describe(exc))
            return AiStatus(False, f"The AI assistant is unavailable: the Ollama server at {self._url} "
                            f"{self._describe(exc)}. Comparisons work as usual.", chat, embed)
        finally:
            metrics.observe_ollama("status", time.monotonic() - started)
        version = self._version()
        chat_ok = _full_name(chat) in installed
        embed_ok = _full_name(embed) in installed
        notices = []
        if not chat_ok:
            notices.append(f"The AI assistant needs the model {chat}, which the Ollama server at {self._url} "
                           f"does not have. An administrator can install it with `ollama pull {chat}`.")
        if not embed_ok:
            notices.append(f"The embedding model {embed} is not installed, so questions are answered from a "
                           f"keyword search of the documents (`ollama pull {embed}` installs it).")
        return AiStatus(chat_ok, " ".join(notices) or None, chat, embed, embed_ok, version)

    def _version(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self._url}/api/version",  # noqa: S310 - configured URL
                                        timeout=STATUS_TIMEOUT_S) as response:
                return str(json.loads(response.read(4096)).get("version") or "") or None
        except (urllib.error.URLError, OSError, ValueError):
            return None

    @staticmethod
    def _describe(exc: BaseException) -> str:
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            return "does not answer (connection refused or unreachable)"
        if isinstance(exc, httpx.TimeoutException):
            return "did not answer in time"
        if isinstance(exc, ollama.ResponseError):
            return f"answered with an error: {exc.error} (HTTP {exc.status_code})"
        return f"failed: {type(exc).__name__}: {exc}"

    def _require(self) -> AiStatus:
        status = self.status()
        if not status.available or self._client is None:
            raise AiUnavailableError(status.notice or "The AI assistant is unavailable.")
        return status

    # --- chat ----------------------------------------------------------------------------------------

    def _explain(self, exc: BaseException, model: str) -> str:
        if isinstance(exc, ollama.ResponseError) and exc.status_code == 404:
            with self._lock:
                self._status = None  # the model went away: check again on the next status()
            return (f"The Ollama server at {self._url} does not have the model {model}. An administrator "
                    f"can install it with `ollama pull {model}`.")
        return f"The AI assistant is unavailable: the Ollama server at {self._url} {self._describe(exc)}."

    def _chat_stream(self, operation: str, messages: list[dict[str, str]]) -> Iterator[str]:
        model = self.settings.ollama_chat_model
        assert self._client is not None
        started = time.monotonic()
        parts: Any = None
        try:
            parts = self._client.chat(model=model, messages=messages, stream=True, options=CHAT_OPTIONS)
            for part in parts:
                text = part.message.content or ""
                if text:
                    yield text
        except (ollama.ResponseError, ollama.RequestError, ConnectionError, httpx.HTTPError) as exc:
            metrics.count_ollama_error(operation)
            self._warn.warning(operation, "Ollama %s failed: %s", operation, self._describe(exc))
            raise AiUnavailableError(self._explain(exc, model)) from None
        finally:
            if parts is not None and hasattr(parts, "close"):
                parts.close()
            metrics.observe_ollama(operation, time.monotonic() - started)

    def summarize(self, report: Any, *, old_name: str = "old", new_name: str = "new") -> Iterator[str]:
        """Stream a summary of ``report`` (a Report, its dict or JSON). Raises
        :class:`AiUnavailableError` (at once, or while streaming) when the assistant cannot answer."""
        self._require()
        messages = [{"role": "system", "content": SUMMARY_SYSTEM},
                    {"role": "user", "content": summary_prompt(report, old_name, new_name)}]
        return self._chat_stream("summary", messages)

    # --- questions -----------------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings of ``texts`` with the embedding model; raises :class:`AiUnavailableError`."""
        if self._client is None:
            raise AiUnavailableError(self.status().notice or "The AI assistant is off.")
        model = self.settings.ollama_embed_model
        started = time.monotonic()
        try:
            response = self._client.embed(model=model, input=list(texts))
        except (ollama.ResponseError, ollama.RequestError, ConnectionError, httpx.HTTPError) as exc:
            metrics.count_ollama_error("embed")
            self._warn.warning("embed", "Ollama embed failed: %s", self._describe(exc))
            raise AiUnavailableError(self._explain(exc, model)) from None
        finally:
            metrics.observe_ollama("embed", time.monotonic() - started)
        return [list(vector) for vector in response.embeddings]

    def ensure_embeddings(self, user: Any, document_ids: Iterable[int],
                          limit: int = EMBED_ON_DEMAND_LIMIT) -> int:
        """Embed up to ``limit`` chunks of the documents that have no embedding yet; returns how
        many were embedded."""
        assert self.storage is not None
        model = self.settings.ollama_embed_model
        missing = self.storage.chunks_without_embedding(user, list(document_ids), model, limit)
        done = 0
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start:start + EMBED_BATCH]
            vectors = self.embed([chunk.text for chunk in batch])
            by_document: dict[int, dict[int, list[float]]] = {}
            for chunk, vector in zip(batch, vectors, strict=True):
                by_document.setdefault(chunk.document_id, {})[chunk.chunk_no] = vector
            for document_id, embeddings in by_document.items():
                done += self.storage.set_embeddings(user, document_id, embeddings, model)
        return done

    def _retrieve(self, user: Any, document_ids: list[int], question: str, k: int,
                  status: AiStatus) -> tuple[list[Any], Literal["vector", "text", "none"]]:
        if self.storage is None:
            return [], "none"
        if status.embed_available and self.storage.vector_available():
            try:
                self.ensure_embeddings(user, document_ids)
                [vector] = self.embed([question])
                chunks = self.storage.retrieve_chunks_vector(user, document_ids, vector,
                                                             self.settings.ollama_embed_model, k)
                if chunks:
                    return chunks, "vector"
            except AiUnavailableError as exc:
                log.info("vector retrieval unavailable (%s); using full-text search", exc)
        return self.storage.retrieve_chunks_text(user, document_ids, question, k), "text"

    def _labels(self, user: Any, document_ids: list[int]) -> dict[int, str]:
        labels: dict[int, str] = {}
        if len(document_ids) == 2:
            labels = {document_ids[0]: "old", document_ids[1]: "new"}
        if self.storage is not None:
            for document_id in document_ids:
                try:
                    name = self.storage.get_document(user, document_id).filename
                except Exception:  # noqa: BLE001 - a label is not worth failing the answer
                    continue
                labels[document_id] = f"{labels[document_id]}: {name}" if document_id in labels else name
        return labels

    def answer(self, user: Any, document_ids: Sequence[int], question: str, k: int = 6) -> Answer:
        """Answer ``question`` about the documents (``document_ids``: old first, then new). The
        retrieval happens now; the answer streams from ``Answer.stream``. Raises
        :class:`AiUnavailableError` when the assistant cannot answer."""
        status = self._require()
        ids = list(document_ids)
        chunks, method = self._retrieve(user, ids, question, k, status)
        labels = self._labels(user, ids)
        sources = []
        for chunk in chunks:
            name = labels.get(chunk.document_id, f"document {chunk.document_id}")
            sources.append(Source(chunk.document_id, chunk.page_no, chunk.text, chunk.score,
                                  f"{name} p.{chunk.page_no}"))
        messages = [{"role": "system", "content": ANSWER_SYSTEM},
                    {"role": "user", "content": question_prompt(question, sources)}]
        return Answer(self._chat_stream("answer", messages), sources, method if chunks else "none")
