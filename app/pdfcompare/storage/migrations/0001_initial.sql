-- PDF Compare: documents, their pages and chunks, comparisons, their changes and artifacts.
--
-- Every table holding user data has an owner column and Row-Level Security, FORCEd so that the
-- app role (which owns the tables) is subject to it too. The owner of a request is set per
-- transaction by the app: set_config('pdfcompare.user', <owner id>, true) and
-- set_config('pdfcompare.admin', 'on'|'off', true). Without them no row is visible or writable.
-- Child tables reference their parent by (id, owner), so a row can never point at another
-- owner's document or comparison, whatever the app sends (foreign key checks bypass RLS).

-- btree_gist is a trusted extension: the database owner may create it. The database role of the
-- deployment creates it beforehand (with postgis), then this is a no-op.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE documents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner       text        NOT NULL CHECK (owner <> ''),
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    filename    text        NOT NULL,
    size_bytes  bigint      NOT NULL CHECK (size_bytes >= 0),
    page_count  integer,
    status      text        NOT NULL DEFAULT 'ingesting' CHECK (status IN ('ingesting', 'ready', 'failed')),
    error       text,
    content     bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT documents_owner_sha256_key UNIQUE (owner, sha256),
    CONSTRAINT documents_id_owner_key UNIQUE (id, owner)
);
-- PDFs are compressed already: store them out of line without trying pglz on every upload.
ALTER TABLE documents ALTER COLUMN content SET STORAGE EXTERNAL;
CREATE INDEX documents_owner_created ON documents (owner, created_at DESC);

CREATE TABLE pages (
    document_id bigint   NOT NULL,
    page_no     integer  NOT NULL CHECK (page_no >= 1),
    owner       text     NOT NULL,
    width       real     NOT NULL,
    height      real     NOT NULL,
    text        text     NOT NULL DEFAULT '',
    -- [[text, x0, y0, x1, y1], ...] in PDF points, origin top-left (as the engine)
    words       jsonb    NOT NULL DEFAULT '[]',
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
    PRIMARY KEY (document_id, page_no),
    FOREIGN KEY (document_id, owner) REFERENCES documents (id, owner) ON DELETE CASCADE
);
CREATE INDEX pages_tsv ON pages USING gin (tsv);
CREATE INDEX pages_owner ON pages (owner);

CREATE TABLE chunks (
    document_id bigint   NOT NULL,
    chunk_no    integer  NOT NULL CHECK (chunk_no >= 0),
    owner       text     NOT NULL,
    page_no     integer  NOT NULL CHECK (page_no >= 1),
    text        text     NOT NULL,
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
    PRIMARY KEY (document_id, chunk_no),
    FOREIGN KEY (document_id, owner) REFERENCES documents (id, owner) ON DELETE CASCADE
);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

CREATE TABLE comparisons (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner           text        NOT NULL CHECK (owner <> ''),
    old_document_id bigint      NOT NULL,
    new_document_id bigint      NOT NULL,
    options         jsonb       NOT NULL DEFAULT '{}',
    options_hash    text        NOT NULL,
    engine_version  text        NOT NULL,
    status          text        NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'done', 'failed')),
    error           text,
    cached          boolean     NOT NULL DEFAULT false,
    instance        text,
    timings         jsonb,
    summary         jsonb,
    report          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    CONSTRAINT comparisons_id_owner_key UNIQUE (id, owner),
    FOREIGN KEY (old_document_id, owner) REFERENCES documents (id, owner) ON DELETE CASCADE,
    FOREIGN KEY (new_document_id, owner) REFERENCES documents (id, owner) ON DELETE CASCADE
);
CREATE INDEX comparisons_owner_created ON comparisons (owner, created_at DESC);
CREATE INDEX comparisons_old_document ON comparisons (old_document_id);
CREATE INDEX comparisons_new_document ON comparisons (new_document_id);
CREATE INDEX comparisons_reuse ON comparisons (owner, options_hash, engine_version) WHERE status = 'done';

CREATE TABLE changes (
    comparison_id bigint  NOT NULL,
    idx           integer NOT NULL CHECK (idx >= 0),
    owner         text    NOT NULL,
    kind          text    NOT NULL CHECK (kind IN ('text', 'geometry', 'raster', 'page')),
    op            text    NOT NULL CHECK (op IN ('insert', 'delete', 'replace', 'move')),
    old_page      integer,
    new_page      integer,
    -- ST_MakeEnvelope(x0, y0, x1, y1) in page points (SRID 0), origin top-left as in the engine
    old_box       geometry(Polygon, 0),
    new_box       geometry(Polygon, 0),
    old_text      text,
    new_text      text,
    PRIMARY KEY (comparison_id, idx),
    FOREIGN KEY (comparison_id, owner) REFERENCES comparisons (id, owner) ON DELETE CASCADE
);
-- The region query ("this region of this sheet across all revisions"). Under Row-Level Security
-- only LEAKPROOF operators may drive an index scan, and PostGIS's && is not leakproof: a GiST index
-- on the box alone is never used for the app's queries (a sequential scan instead). So the GiST
-- indexes lead with owner and page (btree_gist), which are leakproof equalities: the app's queries
-- use them as index conditions and check && on those few rows; queries not subject to RLS (the
-- superuser, maintenance) use all three columns. docs/app-storage.md has the plans and figures.
CREATE INDEX changes_new_region ON changes USING gist (owner, new_page, new_box);
CREATE INDEX changes_old_region ON changes USING gist (owner, old_page, old_box);

CREATE TABLE artifacts (
    comparison_id bigint      NOT NULL,
    kind          text        NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,40}$'),
    owner         text        NOT NULL,
    content       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (comparison_id, kind),
    FOREIGN KEY (comparison_id, owner) REFERENCES comparisons (id, owner) ON DELETE CASCADE
);
ALTER TABLE artifacts ALTER COLUMN content SET STORAGE EXTERNAL;

-- Row-Level Security: one policy per table, for every command. An admin reads and writes all rows.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['documents', 'pages', 'chunks', 'comparisons', 'changes', 'artifacts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING ('
            'owner = current_setting(''pdfcompare.user'', true) '
            'OR current_setting(''pdfcompare.admin'', true) = ''on'')',
            t || '_owner', t);
    END LOOP;
END
$$;
