-- Review and dashboards: the effective defect type beside the effective
-- verdict (both recomputed whenever an override is added; existing rows
-- are filled in by the store's Go step for this migration, see
-- migrate.go), acknowledgement of records, and indexes for the new
-- search filter and for statistics. records_stats and records_stats_time
-- cover every column RecordStats reads, so counting all records, a line's
-- or a time range's never touches the rows with their large bodies.

ALTER TABLE records ADD COLUMN defect_type TEXT NOT NULL DEFAULT '';
ALTER TABLE records ADD COLUMN acknowledged_at BIGINT;
ALTER TABLE records ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';

CREATE INDEX records_defect ON records (defect_type, captured_at, record_id);
CREATE INDEX records_stats      ON records (line, product_code, captured_at, verdict, defect_type);
CREATE INDEX records_stats_time ON records (captured_at, line, product_code, verdict, defect_type);
