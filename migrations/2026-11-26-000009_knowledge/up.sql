-- Lessons learned: a release's evaluation published by a manager as a knowledge article.
CREATE TABLE knowledge_articles (
    id                BIGSERIAL PRIMARY KEY,
    title             TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body              TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 50000),
    category_id       BIGINT NOT NULL REFERENCES categories (id),
    affected_services TEXT NOT NULL DEFAULT '',
    release_id        BIGINT REFERENCES releases (id),
    published_by      BIGINT NOT NULL REFERENCES users (id),
    published_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_category ON knowledge_articles (category_id, published_at DESC);
CREATE INDEX knowledge_published ON knowledge_articles (published_at DESC);
CREATE INDEX knowledge_title_trgm ON knowledge_articles USING gin (title gin_trgm_ops);
CREATE INDEX knowledge_body_trgm ON knowledge_articles USING gin (body gin_trgm_ops);
-- One article per release.
CREATE UNIQUE INDEX knowledge_one_per_release ON knowledge_articles (release_id) WHERE release_id IS NOT NULL;
