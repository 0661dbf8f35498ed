-- What a restart needs to replay an audit record into the detectors
-- (store.AuditRecord.Replay): JSON encoded by the engine, NULL for
-- records written before.

-- +goose Up
ALTER TABLE audit ADD COLUMN replay BLOB;

-- +goose Down
ALTER TABLE audit DROP COLUMN replay;
