-- Initial schema. Written in the SQL subset SQLite and PostgreSQL share:
-- times are BIGINT Unix nanoseconds (UTC), documents are TEXT protojson,
-- no AUTOINCREMENT, no SQLite-only types. The PostgreSQL store can run a
-- copy of this file unchanged (JSONB columns would be an optional tweak).

CREATE TABLE pipelines (
    id             TEXT    PRIMARY KEY,
    latest_version INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    created_by     TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    deleted_at     BIGINT
);

-- One row per immutable version; the row is never updated.
CREATE TABLE pipeline_versions (
    pipeline_id TEXT    NOT NULL REFERENCES pipelines (id),
    version     INTEGER NOT NULL,
    definition  TEXT    NOT NULL, -- protojson of ifc.v1.PipelineDefinition
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (pipeline_id, version)
);

CREATE TABLE files (
    file_id      TEXT    PRIMARY KEY,
    object_key   TEXT    NOT NULL,
    sha256       TEXT    NOT NULL,
    size         BIGINT  NOT NULL,
    content_type TEXT    NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    metadata     TEXT    NOT NULL, -- JSON object of strings
    created_by   TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX files_sha256 ON files (sha256);

-- The indexed columns are copies of fields of body, kept in step by the
-- store on every write; body is the whole ifc.v1.Execution as protojson.
CREATE TABLE executions (
    id               TEXT    PRIMARY KEY,
    pipeline_id      TEXT    NOT NULL,
    pipeline_version INTEGER NOT NULL,
    status           INTEGER NOT NULL,
    created_by       TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    body             TEXT    NOT NULL
);
CREATE INDEX executions_created    ON executions (created_at, id);
CREATE INDEX executions_pipeline   ON executions (pipeline_id, created_at, id);
CREATE INDEX executions_status     ON executions (status, created_at, id);
CREATE INDEX executions_created_by ON executions (created_by, created_at, id);

CREATE TABLE users (
    username      TEXT   PRIMARY KEY,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL
);
