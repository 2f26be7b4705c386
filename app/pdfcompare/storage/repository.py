"""``Storage``: the app's data access — documents, pages, comparisons, changes, search, the region
query, retrieval chunks and artifacts.

Every method takes the acting user first (a ``pdfcompare.identity.User``, or an owner id for jobs)
and touches only that user's rows, unless the user is an admin (who may read and delete every
user's documents and comparisons; search and the region query are personal even for admins). The
database enforces the same with Row-Level Security; the queries also filter by owner, so they use
the owner indexes. Another user's id gives :class:`NotFoundError`, exactly like a missing one.

Bulk rows (pages, chunks, changes) go in with ``INSERT ... SELECT FROM unnest(<arrays>)``: one
statement per batch of hundreds or thousands of rows, never one round trip per row. (``COPY FROM``
would be as fast, but PostgreSQL refuses it on tables with Row-Level Security.)
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from ..settings import Settings
from .database import Database, Who, identity_of
from .errors import NotFoundError, UploadTooLargeError
from .records import (
    Box,
    ChangeRecord,
    Chunk,
    ComparisonRecord,
    PageText,
    RegionHit,
    SearchHit,
    StoredDocument,
    change_rows,
)
from .records import options_hash as compute_options_hash

__all__ = ["Storage", "TEXT_SEARCH_CONFIG", "REGION_SQL"]

T = TypeVar("T")

TEXT_SEARCH_CONFIG = "english"
"""Text search configuration of pages and chunks (the generated ``tsv`` columns use the same)."""
MAX_QUERY_CHARS = 500
PAGE_BATCH = 200
"""Pages per INSERT (a page's words are ~20 KB of JSON: a batch stays a few MB)."""
CHUNK_BATCH = 2000
CHANGE_BATCH = 10_000
HEADLINE_OPTIONS = "MaxFragments=2, MaxWords=20, MinWords=8, FragmentDelimiter=' … ', StartSel=«, StopSel=»"

_DOCUMENT_COLUMNS = "id, owner, sha256, filename, size_bytes, page_count, status, error, created_at"
_COMPARISON_SELECT = """
SELECT c.id, c.owner, c.old_document_id, c.new_document_id, o.filename, n.filename, o.sha256, n.sha256,
       c.options, c.options_hash, c.engine_version, c.status, c.error, c.cached, c.instance, c.timings,
       c.summary, c.created_at, c.started_at, c.finished_at
FROM comparisons c
JOIN documents o ON o.id = c.old_document_id
JOIN documents n ON n.id = c.new_document_id
"""
REGION_SQL = """
WITH hits AS (
    SELECT ch.comparison_id, ch.idx, ch.kind, ch.op, 'new' AS side, ch.new_page AS page, ch.new_box AS box,
           ch.old_text, ch.new_text
    FROM changes ch
    WHERE %(new)s AND ch.owner = %(owner)s AND ch.new_page = %(page)s::int
      AND ch.new_box && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 0)
    UNION ALL
    SELECT ch.comparison_id, ch.idx, ch.kind, ch.op, 'old', ch.old_page, ch.old_box, ch.old_text, ch.new_text
    FROM changes ch
    WHERE %(old)s AND ch.owner = %(owner)s AND ch.old_page = %(page)s::int
      AND ch.old_box && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 0)
      AND NOT coalesce(%(new)s AND ch.new_page = %(page)s::int
                       AND ch.new_box && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 0), false)
)
SELECT h.comparison_id, h.idx, c.created_at, c.old_document_id, c.new_document_id, o.filename, n.filename,
       h.kind, h.op, h.side, h.page, ST_XMin(h.box), ST_YMin(h.box), ST_XMax(h.box), ST_YMax(h.box),
       h.old_text, h.new_text
FROM hits h
JOIN comparisons c ON c.id = h.comparison_id
JOIN documents o ON o.id = c.old_document_id
JOIN documents n ON n.id = c.new_document_id
WHERE %(filename)s::text IS NULL OR o.filename = %(filename)s OR n.filename = %(filename)s
ORDER BY c.created_at DESC, c.id DESC, h.idx
LIMIT %(limit)s
"""
"""The region query (:meth:`Storage.changes_in_region`); parameters: owner, page, x0, y0, x1, y1, new,
old (which sides to match), filename, limit."""
_INSERT_CHANGES = """
INSERT INTO changes (comparison_id, idx, owner, kind, op, old_page, new_page, old_box, new_box, old_text,
                     new_text)
SELECT %(id)s, %(first)s + u.n - 1, %(owner)s, u.kind, u.op, u.old_page, u.new_page,
       CASE WHEN u.ox0 IS NOT NULL THEN ST_MakeEnvelope(u.ox0, u.oy0, u.ox1, u.oy1, 0) END,
       CASE WHEN u.nx0 IS NOT NULL THEN ST_MakeEnvelope(u.nx0, u.ny0, u.nx1, u.ny1, 0) END,
       u.old_text, u.new_text
FROM unnest(%(kind)s::text[], %(op)s::text[], %(old_page)s::int[], %(new_page)s::int[],
            %(ox0)s::float8[], %(oy0)s::float8[], %(ox1)s::float8[], %(oy1)s::float8[],
            %(nx0)s::float8[], %(ny0)s::float8[], %(nx1)s::float8[], %(ny1)s::float8[],
            %(old_text)s::text[], %(new_text)s::text[])
     WITH ORDINALITY AS u(kind, op, old_page, new_page, ox0, oy0, ox1, oy1, nx0, ny0, nx1, ny1,
                          old_text, new_text, n)
"""
_VISIBLE = "({alias}owner = %(owner)s OR %(admin)s)"


def _visible(alias: str = "") -> str:
    return _VISIBLE.format(alias=f"{alias}." if alias else "")


def _document(row: Sequence[Any], created: bool = False) -> StoredDocument:
    return StoredDocument(*row, created=created)


def _comparison(row: Sequence[Any]) -> ComparisonRecord:
    return ComparisonRecord(*row)


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _box(values: Sequence[float | None]) -> Box | None:
    if values[0] is None:
        return None
    return (values[0], values[1], values[2], values[3])  # type: ignore[return-value]


class Storage:
    """The app's data access over a :class:`Database` (see the module docstring)."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or db.settings
        self._vector: bool | None = None

    @staticmethod
    def _params(user: Who, **values: Any) -> dict[str, Any]:
        owner, admin = identity_of(user)
        return {"owner": owner, "admin": admin, **values}

    # --- documents ---------------------------------------------------------------------------------
    def add_document(self, user: Who, filename: str, data: bytes) -> StoredDocument:
        """Store an uploaded PDF (status ``ingesting``). The same bytes uploaded again by the same user
        return the existing document (``created`` False) instead of a copy."""
        limit = self.settings.max_upload_bytes
        if len(data) > limit:
            raise UploadTooLargeError(len(data), limit)
        p = self._params(user, sha256=hashlib.sha256(data).hexdigest(),
                         filename=filename[:255] or "document.pdf", size=len(data), content=data)
        existing = (f"SELECT {_DOCUMENT_COLUMNS} FROM documents "
                    "WHERE owner = %(owner)s AND sha256 = %(sha256)s")
        with self.db.write(user) as cur:
            row = cur.execute(existing, p).fetchone()
            if row is not None:
                return _document(row)
            row = cur.execute(
                "INSERT INTO documents (owner, sha256, filename, size_bytes, content) "
                "VALUES (%(owner)s, %(sha256)s, %(filename)s, %(size)s, %(content)s) "
                f"ON CONFLICT (owner, sha256) DO NOTHING RETURNING {_DOCUMENT_COLUMNS}", p).fetchone()
            if row is not None:
                return _document(row, created=True)
            return _document(cur.execute(existing, p).fetchone())  # a concurrent upload won

    def save_pages(self, user: Who, document_id: int, pages: Iterable[PageText]) -> int:
        """Replace the document's page texts (search, words for highlighting); ``pages`` may be a
        generator. Returns the number of pages stored."""
        count = 0
        with self.db.write(user) as cur:
            self._require_document(cur, {**self._params(user), "document_id": document_id})
            cur.execute("DELETE FROM pages WHERE document_id = %s", (document_id,))
            for batch in _batches(pages, PAGE_BATCH):
                cur.execute(
                    "INSERT INTO pages (document_id, owner, page_no, width, height, text, words) "
                    "SELECT %(document_id)s, %(owner)s, u.page_no, u.width, u.height, u.text, u.words::jsonb "
                    "FROM unnest(%(page_no)s::int[], %(width)s::real[], %(height)s::real[], "
                    "%(text)s::text[], %(words)s::text[]) AS u(page_no, width, height, text, words)",
                    self._params(user, document_id=document_id, page_no=[pg.page_no for pg in batch],
                                 width=[float(pg.width) for pg in batch],
                                 height=[float(pg.height) for pg in batch],
                                 text=[pg.text for pg in batch], words=[pg.words_json() for pg in batch]))
                count += len(batch)
        return count

    def mark_document_ready(self, user: Who, document_id: int, page_count: int) -> None:
        """The document was read successfully (``page_count`` pages)."""
        self._set_document_status(user, document_id, "ready", None, page_count)

    def mark_document_failed(self, user: Who, document_id: int, error: str) -> None:
        """The document could not be read; ``error`` is shown to the user."""
        self._set_document_status(user, document_id, "failed", error[:2000], None)

    def _set_document_status(self, user: Who, document_id: int, status: str, error: str | None,
                             page_count: int | None) -> None:
        p = self._params(user, id=document_id, status=status, error=error, page_count=page_count)
        with self.db.write(user) as cur:
            row = cur.execute(
                "UPDATE documents SET status = %(status)s, error = %(error)s, "
                "page_count = coalesce(%(page_count)s, page_count) "
                f"WHERE id = %(id)s AND {_visible()} RETURNING id", p).fetchone()
        if row is None:
            raise NotFoundError("document", document_id)

    def list_documents(self, user: Who, limit: int = 100, offset: int = 0) -> list[StoredDocument]:
        """The user's documents (an admin: everyone's), newest first."""
        p = self._params(user, limit=limit, offset=offset)
        rows = self.db.run_read(user, lambda cur: cur.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE {_visible()} "
            "ORDER BY created_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s", p).fetchall())
        return [_document(r) for r in rows]

    def get_document(self, user: Who, document_id: int) -> StoredDocument:
        p = self._params(user, id=document_id)
        row = self.db.run_read(user, lambda cur: cur.execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id = %(id)s AND {_visible()}", p).fetchone())
        if row is None:
            raise NotFoundError("document", document_id)
        return _document(row)

    def get_document_content(self, user: Who, document_id: int) -> bytes:
        """The PDF's bytes (fetched in binary: no hex encoding on the wire)."""
        p = self._params(user, id=document_id)
        row = self.db.run_read(user, lambda cur: cur.execute(
            f"SELECT content FROM documents WHERE id = %(id)s AND {_visible()}", p, binary=True).fetchone())
        if row is None:
            raise NotFoundError("document", document_id)
        return bytes(row[0])

    def get_page_words(self, user: Who, document_id: int, page_no: int) -> list[list[Any]]:
        """``[[text, x0, y0, x1, y1], ...]`` of one page (empty when the page has no text)."""
        p = self._params(user, id=document_id, page_no=page_no)
        row = self.db.run_read(user, lambda cur: cur.execute(
            f"SELECT words FROM pages WHERE document_id = %(id)s AND page_no = %(page_no)s AND {_visible()}",
            p).fetchone())
        if row is None:
            raise NotFoundError("page", f"{page_no} of document {document_id}")
        return row[0]

    def delete_document(self, user: Who, document_id: int) -> int:
        """Delete the document with its pages and chunks, and every comparison that uses it (with their
        changes and artifacts). Returns the number of comparisons deleted with it."""
        p = self._params(user, id=document_id)
        with self.db.write(user) as cur:
            row = cur.execute(
                "WITH gone AS (DELETE FROM comparisons WHERE (old_document_id = %(id)s OR new_document_id = "
                f"%(id)s) AND {_visible()} RETURNING 1) "
                "SELECT count(*) FROM gone", p).fetchone()
            deleted = cur.execute(f"DELETE FROM documents WHERE id = %(id)s AND {_visible()} RETURNING id",
                                  p).fetchone()
            if deleted is None:
                raise NotFoundError("document", document_id)
        return int(row[0])

    @staticmethod
    def _require_document(cur: psycopg.Cursor, p: Mapping[str, Any]) -> None:
        # FOR NO KEY UPDATE, not FOR SHARE: two jobs replacing the same document's pages or chunks
        # take turns instead of both deleting nothing and then colliding on the primary key.
        query = f"SELECT 1 FROM documents WHERE id = %(document_id)s AND {_visible()} FOR NO KEY UPDATE"
        if cur.execute(query, p).fetchone() is None:
            raise NotFoundError("document", p["document_id"])

    # --- search ------------------------------------------------------------------------------------
    def search(self, user: Who, query: str, limit: int = 20) -> list[SearchHit]:
        """Pages of the user's own documents matching ``query`` (web-search syntax: words, "quoted
        phrases", ``or``, ``-excluded``), best first, with a snippet. Stemmed English: "bearings"
        finds "bearing"; part numbers and codes are kept whole."""
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query:
            return []
        p = self._params(user, q=query, limit=limit, cfg=TEXT_SEARCH_CONFIG, headline=HEADLINE_OPTIONS)
        rows = self.db.run_read(user, lambda cur: cur.execute(
            """
            WITH q AS (SELECT websearch_to_tsquery(%(cfg)s::regconfig, %(q)s) AS query),
            best AS (
                SELECT p.document_id, p.page_no, ts_rank_cd(p.tsv, q.query) AS rank
                FROM pages p, q
                WHERE p.owner = %(owner)s AND p.tsv @@ q.query
                ORDER BY rank DESC, p.document_id DESC, p.page_no
                LIMIT %(limit)s
            )
            SELECT b.document_id, d.filename, b.page_no, b.rank,
                   ts_headline(%(cfg)s::regconfig, p.text, q.query, %(headline)s)
            FROM best b
            JOIN pages p ON p.document_id = b.document_id AND p.page_no = b.page_no
            JOIN documents d ON d.id = b.document_id, q
            ORDER BY b.rank DESC, b.document_id DESC, b.page_no
            """, p).fetchall())
        return [SearchHit(r[0], r[1], r[2], float(r[3]), r[4]) for r in rows]

    # --- comparisons -------------------------------------------------------------------------------
    def create_comparison(self, user: Who, old_document_id: int, new_document_id: int,
                          options: Mapping[str, Any], engine_version: str,
                          instance: str | None = None) -> ComparisonRecord:
        """A new comparison (status ``queued``) of two of the user's documents."""
        p = self._params(user, old=old_document_id, new=new_document_id, options=Jsonb(dict(options)),
                         hash=compute_options_hash(options), version=engine_version,
                         instance=instance or self.settings.instance)
        with self.db.write(user) as cur:
            try:  # the composite foreign keys refuse documents of another owner
                row = cur.execute(
                    "INSERT INTO comparisons (owner, old_document_id, new_document_id, options, "
                    "options_hash, engine_version, instance) VALUES (%(owner)s, %(old)s, %(new)s, "
                    "%(options)s, %(hash)s, %(version)s, %(instance)s) RETURNING id", p).fetchone()
            except psycopg.errors.ForeignKeyViolation:
                raise NotFoundError("document", f"{old_document_id} or {new_document_id}") from None
            row = cur.execute(_COMPARISON_SELECT + "WHERE c.id = %(id)s", {"id": row[0]}).fetchone()
            return _comparison(row)

    def find_comparison(self, user: Who, old_sha256: str, new_sha256: str, options_hash: str,
                        engine_version: str) -> ComparisonRecord | None:
        """The user's own newest finished comparison of the same files, options and engine version."""
        p = self._params(user, old=old_sha256, new=new_sha256, hash=options_hash, version=engine_version)
        row = self.db.run_read(user, lambda cur: cur.execute(
            _COMPARISON_SELECT + "WHERE c.owner = %(owner)s AND c.status = 'done' "
            "AND c.options_hash = %(hash)s AND c.engine_version = %(version)s "
            "AND o.sha256 = %(old)s AND n.sha256 = %(new)s "
            "ORDER BY c.finished_at DESC LIMIT 1", p).fetchone())
        return None if row is None else _comparison(row)

    def start_comparison(self, user: Who, comparison_id: int, instance: str | None = None) -> None:
        """Mark the comparison running (on ``instance``)."""
        self._update_comparison(user, comparison_id, "status = 'running', started_at = now(), "
                                "instance = coalesce(%(instance)s, instance)", instance=instance)

    def finish_comparison(self, user: Who, comparison_id: int, report_json: str, changes: Sequence[Any],
                          timings: Mapping[str, float] | None = None, *, cached: bool = False,
                          summary: Mapping[str, int] | None = None) -> None:
        """Store the result: the engine's JSON report, its changes (the engine's ``Change`` objects, in
        report order), the timings; status ``done``. Calling it again replaces the stored result."""
        if summary is None:
            counts = dict.fromkeys(("text", "geometry", "raster", "page"), 0)
            for change in changes:
                counts[change.kind] = counts.get(change.kind, 0) + 1
            summary = counts
        with self.db.write(user) as cur:
            self._update_comparison_in(cur, user, comparison_id,
                                       "status = 'done', error = NULL, report = %(report)s::jsonb, "
                                       "summary = %(summary)s, timings = %(timings)s, cached = %(cached)s, "
                                       "finished_at = now()",
                                       report=report_json, summary=Jsonb(dict(summary)),
                                       timings=Jsonb(dict(timings or {})), cached=cached)
            cur.execute("DELETE FROM changes WHERE comparison_id = %s", (comparison_id,))
            for start in range(0, len(changes), CHANGE_BATCH):
                batch = changes[start:start + CHANGE_BATCH]
                cur.execute(_INSERT_CHANGES, self._params(user, id=comparison_id, first=start,
                                                          **change_rows(batch)))

    def fail_comparison(self, user: Who, comparison_id: int, error: str) -> None:
        """The comparison failed; ``error`` (one line for the user) is stored."""
        self._update_comparison(user, comparison_id,
                                "status = 'failed', error = %(error)s, finished_at = now()",
                                error=error[:2000])

    def _update_comparison(self, user: Who, comparison_id: int, assignments: str, **values: Any) -> None:
        with self.db.write(user) as cur:
            self._update_comparison_in(cur, user, comparison_id, assignments, **values)

    def _update_comparison_in(self, cur: psycopg.Cursor, user: Who, comparison_id: int, assignments: str,
                              **values: Any) -> None:
        p = self._params(user, id=comparison_id, **values)
        sql = f"UPDATE comparisons SET {assignments} WHERE id = %(id)s AND {_visible()} RETURNING id"
        if cur.execute(sql, p).fetchone() is None:
            raise NotFoundError("comparison", comparison_id)

    def get_comparison(self, user: Who, comparison_id: int) -> ComparisonRecord:
        p = self._params(user, id=comparison_id)
        row = self.db.run_read(user, lambda cur: cur.execute(
            _COMPARISON_SELECT + f"WHERE c.id = %(id)s AND {_visible('c')}", p).fetchone())
        if row is None:
            raise NotFoundError("comparison", comparison_id)
        return _comparison(row)

    def get_report_json(self, user: Who, comparison_id: int) -> str:
        """The engine's JSON report (``pdfcompare.report/1``) of a finished comparison."""
        p = self._params(user, id=comparison_id)
        row = self.db.run_read(user, lambda cur: cur.execute(
            f"SELECT report::text FROM comparisons WHERE id = %(id)s AND {_visible()} AND report IS NOT NULL",
            p).fetchone())
        if row is None:
            raise NotFoundError("finished comparison", comparison_id)
        return row[0]

    def list_comparisons(self, user: Who, limit: int = 50, offset: int = 0) -> list[ComparisonRecord]:
        """The user's comparisons (an admin: everyone's), newest first."""
        p = self._params(user, limit=limit, offset=offset)
        rows = self.db.run_read(user, lambda cur: cur.execute(
            _COMPARISON_SELECT + f"WHERE {_visible('c')} ORDER BY c.created_at DESC, c.id DESC "
            "LIMIT %(limit)s OFFSET %(offset)s", p).fetchall())
        return [_comparison(r) for r in rows]

    def delete_comparison(self, user: Who, comparison_id: int) -> None:
        """Delete a comparison with its changes and artifacts (the documents stay)."""
        p = self._params(user, id=comparison_id)
        with self.db.write(user) as cur:
            if cur.execute(f"DELETE FROM comparisons WHERE id = %(id)s AND {_visible()} RETURNING id",
                           p).fetchone() is None:
                raise NotFoundError("comparison", comparison_id)

    def get_changes(self, user: Who, comparison_id: int,
                    kinds: Sequence[str] | None = None) -> list[ChangeRecord]:
        """The comparison's changes in report order (only ``kinds`` when given)."""
        p = self._params(user, id=comparison_id, kinds=list(kinds) if kinds else None)

        def query(cur: psycopg.Cursor) -> list[tuple[Any, ...]] | None:
            exists = f"SELECT 1 FROM comparisons WHERE id = %(id)s AND {_visible()}"
            if cur.execute(exists, p).fetchone() is None:
                return None
            return cur.execute(
                "SELECT idx, kind, op, old_page, new_page, ST_XMin(old_box), ST_YMin(old_box), "
                "ST_XMax(old_box), ST_YMax(old_box), ST_XMin(new_box), ST_YMin(new_box), ST_XMax(new_box), "
                "ST_YMax(new_box), "
                f"old_text, new_text FROM changes WHERE comparison_id = %(id)s AND {_visible()} "
                "AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[])) ORDER BY idx", p).fetchall()

        rows = self.db.run_read(user, query)
        if rows is None:
            raise NotFoundError("comparison", comparison_id)
        return [ChangeRecord(comparison_id, r[0], r[1], r[2], r[3], r[4], _box(r[5:9]), _box(r[9:13]),
                             r[13], r[14]) for r in rows]

    def changes_in_region(self, user: Who, page: int, box: Box, *, filename: str | None = None,
                          side: Literal["new", "old", "any"] = "any", limit: int = 500) -> list[RegionHit]:
        """"This region of this sheet across all revisions": every change of the user's own comparisons
        whose box on ``page`` (of the new document, or of the old one) intersects ``box``, newest
        comparison first. ``filename`` keeps comparisons where either document has that file name.

        Boxes are axis-aligned rectangles, so the bounding-box overlap ``&&`` (answered by the GiST
        indexes) is the exact intersection test; no geometry computation is needed."""
        x0, y0, x1, y1 = (float(v) for v in box)
        p = self._params(user, page=page, x0=min(x0, x1), y0=min(y0, y1), x1=max(x0, x1), y1=max(y0, y1),
                         filename=filename, limit=limit, new=side in ("new", "any"),
                         old=side in ("old", "any"))
        rows = self.db.run_read(user, lambda cur: cur.execute(REGION_SQL, p).fetchall())
        return [RegionHit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                          (r[11], r[12], r[13], r[14]), r[15], r[16]) for r in rows]

    # --- retrieval chunks --------------------------------------------------------------------------
    def save_chunks(self, user: Who, document_id: int, chunks: Iterable[Chunk]) -> int:
        """Replace the document's retrieval chunks (``chunks`` may be a generator); returns how many
        were stored."""
        count = 0
        with self.db.write(user) as cur:
            self._require_document(cur, {**self._params(user), "document_id": document_id})
            cur.execute("DELETE FROM chunks WHERE document_id = %s", (document_id,))
            for batch in _batches(chunks, CHUNK_BATCH):
                cur.execute(
                    "INSERT INTO chunks (document_id, owner, chunk_no, page_no, text) "
                    "SELECT %(document_id)s, %(owner)s, u.chunk_no, u.page_no, u.text "
                    "FROM unnest(%(chunk_no)s::int[], %(page_no)s::int[], %(text)s::text[]) "
                    "AS u(chunk_no, page_no, text)",
                    self._params(user, document_id=document_id, chunk_no=[c.chunk_no for c in batch],
                                 page_no=[c.page_no for c in batch], text=[c.text for c in batch]))
                count += len(batch)
        return count

    def retrieve_chunks_text(self, user: Who, document_ids: Sequence[int], question: str,
                             k: int = 6) -> list[Chunk]:
        """The ``k`` chunks of the user's ``document_ids`` that share the most words with ``question``
        (any of its words, ranked by cover density)."""
        question = question.strip()[:MAX_QUERY_CHARS]
        if not question:
            return []
        p = self._params(user, ids=list(document_ids), q=question, k=k, cfg=TEXT_SEARCH_CONFIG)
        rows = self.db.run_read(user, lambda cur: cur.execute(
            """
            WITH q AS (SELECT to_tsquery(%(cfg)s::regconfig, replace(
                                  plainto_tsquery(%(cfg)s::regconfig, %(q)s)::text, ' & ', ' | ')) AS query)
            SELECT c.document_id, c.chunk_no, c.page_no, c.text, ts_rank_cd(c.tsv, q.query) AS rank
            FROM chunks c, q
            WHERE c.owner = %(owner)s AND c.document_id = ANY(%(ids)s::bigint[]) AND c.tsv @@ q.query
            ORDER BY rank DESC, c.document_id, c.chunk_no
            LIMIT %(k)s
            """, p).fetchall())
        return [Chunk(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]

    def vector_available(self) -> bool:
        """True when pgvector is installed and the chunks have an embedding column."""
        if self._vector is None:
            row = self.db.run_read("system:vector-check", lambda cur: cur.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AND EXISTS ("
                "SELECT 1 FROM information_schema.columns WHERE table_name = 'chunks' "
                "AND column_name = 'embedding')").fetchone())
            self._vector = bool(row[0])
        return self._vector

    def chunks_without_embedding(self, user: Who, document_ids: Sequence[int], model: str,
                                 limit: int = 256) -> list[Chunk]:
        """Chunks of the documents that have no embedding of ``model`` yet (empty without pgvector)."""
        if not self.vector_available():
            return []
        p = self._params(user, ids=list(document_ids), model=model, limit=limit)
        rows = self.db.run_read(user, lambda cur: cur.execute(
            "SELECT document_id, chunk_no, page_no, text FROM chunks WHERE owner = %(owner)s "
            "AND document_id = ANY(%(ids)s::bigint[]) "
            "AND (embedding IS NULL OR embedding_model IS DISTINCT FROM %(model)s) "
            "ORDER BY document_id, chunk_no LIMIT %(limit)s", p).fetchall())
        return [Chunk(*r) for r in rows]

    def set_embeddings(self, user: Who, document_id: int, embeddings: Mapping[int, Sequence[float]],
                       model: str) -> int:
        """Store embeddings (``{chunk_no: vector}``) of one document's chunks; returns how many were set
        (0 without pgvector)."""
        if not embeddings or not self.vector_available():
            return 0
        p = self._params(user, document_id=document_id, model=model, chunk_no=list(embeddings),
                         vec=[json.dumps([float(x) for x in v]) for v in embeddings.values()])
        with self.db.write(user) as cur:
            cur.execute(
                "UPDATE chunks c SET embedding = u.vec::vector, embedding_model = %(model)s "
                "FROM unnest(%(chunk_no)s::int[], %(vec)s::text[]) AS u(chunk_no, vec) "
                "WHERE c.document_id = %(document_id)s AND c.owner = %(owner)s "
                "AND c.chunk_no = u.chunk_no", p)
            return cur.rowcount

    def retrieve_chunks_vector(self, user: Who, document_ids: Sequence[int], embedding: Sequence[float],
                               model: str, k: int = 6) -> list[Chunk]:
        """The ``k`` chunks nearest to ``embedding`` (cosine distance; score = 1 - distance) among the
        user's ``document_ids``, comparing only vectors of ``model``. Empty without pgvector."""
        if not self.vector_available():
            return []
        p = self._params(user, ids=list(document_ids), model=model, k=k,
                         vec=json.dumps([float(x) for x in embedding]))
        rows = self.db.run_read(user, lambda cur: cur.execute(
            "SELECT document_id, chunk_no, page_no, text, 1 - (embedding <=> %(vec)s::vector) FROM chunks "
            "WHERE owner = %(owner)s AND document_id = ANY(%(ids)s::bigint[]) "
            "AND embedding_model = %(model)s "
            "ORDER BY embedding <=> %(vec)s::vector LIMIT %(k)s", p).fetchall())
        return [Chunk(r[0], r[1], r[2], r[3], float(r[4])) for r in rows]

    # --- artifacts ---------------------------------------------------------------------------------
    def save_artifact(self, user: Who, comparison_id: int, kind: str, content: bytes) -> None:
        """Store (or replace) an artifact of a comparison, e.g. ``annotated_pdf``."""
        p = self._params(user, id=comparison_id, kind=kind, content=content)
        with self.db.write(user) as cur:
            # Check first: an upsert that conflicts with another owner's row fails with an RLS error,
            # which would tell that the row exists.
            if cur.execute(f"SELECT 1 FROM comparisons WHERE id = %(id)s AND {_visible()} FOR NO KEY UPDATE",
                           p).fetchone() is None:
                raise NotFoundError("comparison", comparison_id)
            try:
                cur.execute(
                    "INSERT INTO artifacts (comparison_id, kind, owner, content) "
                    "VALUES (%(id)s, %(kind)s, %(owner)s, %(content)s) ON CONFLICT (comparison_id, kind) "
                    "DO UPDATE SET content = excluded.content, created_at = now()", p)
            except (psycopg.errors.ForeignKeyViolation, psycopg.errors.InsufficientPrivilege):
                raise NotFoundError("comparison", comparison_id) from None

    def get_artifact(self, user: Who, comparison_id: int, kind: str) -> bytes:
        p = self._params(user, id=comparison_id, kind=kind)
        row = self.db.run_read(user, lambda cur: cur.execute(
            "SELECT content FROM artifacts WHERE comparison_id = %(id)s AND kind = %(kind)s "
            f"AND {_visible()}",
            p, binary=True).fetchone())
        if row is None:
            raise NotFoundError(f"{kind} of comparison", comparison_id)
        return bytes(row[0])
