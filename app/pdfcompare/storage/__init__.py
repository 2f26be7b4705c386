"""Storage of the web service: PostgreSQL (PostGIS) through PgBouncer in transaction mode.

Design: docs/app-storage.md. The API below is stable; other modules use only these names.

``user`` below is a ``pdfcompare.identity.User`` (anything with ``.id: str`` and ``.is_admin: bool``)
or an owner id ``str`` (a job acting for that owner, never admin). Another user's id always gives
``NotFoundError``, as a missing one does. Errors: ``StorageError`` (base; ``str()`` is for the user),
``StorageUnavailableError``, ``NotFoundError``, ``UploadTooLargeError``, ``MigrationError``.

Database (database.py)::

    Database(settings, lsn_store: LsnStore | None = None, *,
             on_read_fallback: Callable[[Literal["lag", "unavailable"]], None] | None = None)
    with db.write(user) as cur: ...        # transaction on the primary; records the user's WAL position
    with db.system(owner_id) as cur: ...   # = write(owner_id), for jobs
    with db.read(user) as cur: ...         # read-only transaction: replica if it has the user's writes,
                                           # else (lag, unreachable) the primary; never a replica error
    db.run_read(user, fn: Callable[[Cursor], T]) -> T   # read(), re-run on the primary if the replica dies
    db.read_fallbacks -> {"lag": int, "unavailable": int};  db.reads -> {"replica": int, "primary": int}
    db.counters() -> {"reads": {...}, "read_fallbacks": {...}};  db.pool_stats() -> {pool name: stats}
    db.last_write_lsn(owner_id) -> int | None;  db.has_replicas -> bool;  db.close()
    LsnStore (Protocol): get_lsn(user_id) -> str | None;  set_lsn(user_id, lsn: str) -> None
    MemoryLsnStore(ttl_s=300)                  # the per-process one (always used as well)
    probe(settings, url, timeout) -> str | None   # None = reachable, else one line (health check)

Migrations (migrate.py)::

    migrate(settings, migrations=None) -> list[str]     # labels applied now, e.g. ["0001_initial"]
    schema_status(settings) -> SchemaStatus(current: int, latest: int, pending: tuple[str, ...])
    load_migrations(directory=None) -> list[Migration]

Storage (repository.py), ``Storage(db, settings=None)``::

    add_document(user, filename, data: bytes) -> StoredDocument   # dedup per owner (.created False);
                                                                  # UploadTooLargeError over the limit
    save_pages(user, document_id, pages: Iterable[PageText]) -> int     # replaces; batched INSERTs
    mark_document_ready(user, document_id, page_count) / mark_document_failed(user, document_id, error)
    list_documents(user, limit=100, offset=0) -> list[StoredDocument]       # admin: everyone's
    get_document(user, document_id) -> StoredDocument
    get_document_content(user, document_id) -> bytes
    get_page_words(user, document_id, page_no) -> list[[text, x0, y0, x1, y1]]
    delete_document(user, document_id) -> int     # cascades: returns comparisons deleted with it
    search(user, query, limit=20) -> list[SearchHit]   # own pages; websearch syntax; «snippet»
    create_comparison(user, old_document_id, new_document_id, options: Mapping, engine_version,
                      instance=None) -> ComparisonRecord
    find_comparison(user, old_sha256, new_sha256, options_hash, engine_version) -> ComparisonRecord | None
    start_comparison(user, comparison_id, instance=None)
    finish_comparison(user, comparison_id, report_json: str, changes: Sequence[engine Change],
                      timings=None, *, cached=False, summary=None)
    fail_comparison(user, comparison_id, error)
    get_comparison(user, comparison_id) -> ComparisonRecord
    get_report_json(user, comparison_id) -> str
    list_comparisons(user, limit=50, offset=0) -> list[ComparisonRecord]    # admin: everyone's
    delete_comparison(user, comparison_id)
    get_changes(user, comparison_id, kinds=None) -> list[ChangeRecord]     # .to_change() -> engine Change
    changes_in_region(user, page, box, *, filename=None, side="any", limit=500) -> list[RegionHit]
    save_chunks(user, document_id, chunks: Iterable[Chunk]) -> int
    retrieve_chunks_text(user, document_ids, question, k=6) -> list[Chunk]   # .score set
    vector_available() -> bool
    chunks_without_embedding(user, document_ids, model, limit=256) -> list[Chunk]
    set_embeddings(user, document_id, embeddings: Mapping[chunk_no, Sequence[float]], model) -> int
    retrieve_chunks_vector(user, document_ids, embedding, model, k=6) -> list[Chunk]
    save_artifact(user, comparison_id, kind, content: bytes)
    get_artifact(user, comparison_id, kind) -> bytes

Records (records.py): StoredDocument, PageText (.from_page_content(engine page)), Chunk,
ComparisonRecord, ChangeRecord, SearchHit, RegionHit, SchemaStatus, options_hash(options) -> str.
"""

from __future__ import annotations

from .database import Database, LsnStore, MemoryLsnStore, UserLike, Who, probe
from .errors import (
    MigrationError,
    NotFoundError,
    StorageError,
    StorageUnavailableError,
    UploadTooLargeError,
)
from .migrate import Migration, load_migrations, migrate, schema_status
from .records import (
    Box,
    ChangeRecord,
    Chunk,
    ComparisonRecord,
    PageText,
    RegionHit,
    SchemaStatus,
    SearchHit,
    StoredDocument,
    options_hash,
)
from .repository import TEXT_SEARCH_CONFIG, Storage

__all__ = [
    "Database",
    "LsnStore",
    "MemoryLsnStore",
    "UserLike",
    "Who",
    "probe",
    "Storage",
    "TEXT_SEARCH_CONFIG",
    "migrate",
    "schema_status",
    "load_migrations",
    "Migration",
    "StorageError",
    "StorageUnavailableError",
    "NotFoundError",
    "UploadTooLargeError",
    "MigrationError",
    "Box",
    "StoredDocument",
    "PageText",
    "Chunk",
    "ComparisonRecord",
    "ChangeRecord",
    "SearchHit",
    "RegionHit",
    "SchemaStatus",
    "options_hash",
]
