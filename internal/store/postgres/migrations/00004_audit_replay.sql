-- What a restart needs to replay an audit record into the detectors
-- (store.AuditRecord.Replay), as the SQLite backend's migration 7.

-- +goose Up
ALTER TABLE audit ADD COLUMN replay bytea;

-- +goose Down
ALTER TABLE audit DROP COLUMN replay;
