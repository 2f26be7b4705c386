-- Embeddings for retrieval, only where pgvector is installed (the database role creates the
-- extension; the app role cannot). Without it the assistant retrieves chunks by full-text search.
-- The column has no fixed dimension, so changing the embedding model needs no migration; the model
-- name is stored next to each vector and searches compare only vectors of the same model.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
        EXECUTE 'ALTER TABLE chunks ADD COLUMN embedding vector';
        EXECUTE 'ALTER TABLE chunks ADD COLUMN embedding_model text';
    END IF;
END
$$;
