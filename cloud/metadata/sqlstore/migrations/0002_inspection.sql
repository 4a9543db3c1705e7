-- Edge sync: enrollment, devices, uploads, inspection records, verdict
-- overrides, masters and per-line rollouts. Same SQL subset as 0001:
-- times are BIGINT Unix nanoseconds (UTC) with NULL for "not yet",
-- documents are TEXT protojson, indexed columns are copies of fields of
-- the document kept in step by the store.

CREATE TABLE enrollment_tokens (
    token_hash TEXT   PRIMARY KEY, -- hex sha256 of the token text
    line       TEXT   NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device_id  TEXT
);

CREATE TABLE devices (
    device_id     TEXT   PRIMARY KEY,
    name          TEXT   NOT NULL,
    line          TEXT   NOT NULL,
    secret_hash   TEXT   NOT NULL,
    enrolled_at   BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_seen     BIGINT,
    queued        BIGINT NOT NULL,
    queued_bytes  BIGINT NOT NULL,
    oldest_queued BIGINT,
    agent_version TEXT   NOT NULL,
    model_version TEXT   NOT NULL
);
CREATE INDEX devices_line ON devices (line, device_id);

-- One row per image a device finished uploading; records link to it.
CREATE TABLE sync_uploads (
    device_id  TEXT   NOT NULL,
    sha256     TEXT   NOT NULL,
    file_id    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, sha256)
);

-- body is the edge's immutable ifc.v1.InspectionRecord as protojson.
-- verdict is the effective verdict result (record verdict after
-- overrides), recomputed whenever an override is added.
CREATE TABLE records (
    record_id      TEXT    PRIMARY KEY,
    device_id      TEXT    NOT NULL,
    line           TEXT    NOT NULL,
    product_code   TEXT    NOT NULL,
    lot            TEXT    NOT NULL,
    serial         TEXT    NOT NULL,
    captured_at    BIGINT  NOT NULL,
    verdict        INTEGER NOT NULL,
    body           TEXT    NOT NULL,
    committed_at   BIGINT  NOT NULL,
    pipeline_state TEXT    NOT NULL,
    execution_id   TEXT    NOT NULL,
    pipeline_error TEXT    NOT NULL
);
CREATE INDEX records_captured ON records (captured_at, record_id);
CREATE INDEX records_line     ON records (line, captured_at, record_id);
CREATE INDEX records_device   ON records (device_id, captured_at, record_id);
CREATE INDEX records_product  ON records (product_code, captured_at, record_id);
CREATE INDEX records_lot      ON records (lot, captured_at, record_id);
CREATE INDEX records_verdict  ON records (verdict, captured_at, record_id);
CREATE INDEX records_pipeline ON records (pipeline_state, committed_at, record_id);

CREATE TABLE record_images (
    record_id TEXT    NOT NULL REFERENCES records (record_id),
    idx       INTEGER NOT NULL,
    sha256    TEXT    NOT NULL,
    file_id   TEXT    NOT NULL,
    PRIMARY KEY (record_id, idx)
);

-- Append-only; body is the ifc.v1.VerdictOverride as protojson.
CREATE TABLE verdict_overrides (
    override_id TEXT    PRIMARY KEY,
    record_id   TEXT    NOT NULL REFERENCES records (record_id),
    at          BIGINT  NOT NULL,
    origin      INTEGER NOT NULL,
    body        TEXT    NOT NULL
);
CREATE INDEX verdict_overrides_record ON verdict_overrides (record_id, at, override_id);

-- Masters and rollouts draw their seq from one counter (change_seq), so an
-- edge's single cursor covers both kinds of change.
CREATE TABLE change_seq (
    id    INTEGER PRIMARY KEY,
    value BIGINT  NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

-- body is the latest ifc.v1.InspectionMaster as protojson (version = seq).
CREATE TABLE masters (
    product_code TEXT   PRIMARY KEY,
    seq          BIGINT NOT NULL,
    body         TEXT   NOT NULL
);
CREATE INDEX masters_seq ON masters (seq);

CREATE TABLE rollouts (
    line          TEXT   NOT NULL,
    product_code  TEXT   NOT NULL REFERENCES masters (product_code),
    model_name    TEXT   NOT NULL,
    model_version TEXT   NOT NULL,
    threshold     REAL   NOT NULL,
    created_by    TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    seq           BIGINT NOT NULL,
    PRIMARY KEY (line, product_code)
);
CREATE INDEX rollouts_line_seq ON rollouts (line, seq);
