-- The ids of the batches written (store.Batch.IDs, set by the journal),
-- each in the transaction of its batch, so that a batch written again
-- writes nothing twice. applied_at is unix nanoseconds; ids applied long
-- enough ago are pruned (store.BatchIDPruner).

-- +goose Up
CREATE TABLE applied_batches (
    id         TEXT    PRIMARY KEY,
    applied_at INTEGER NOT NULL
);
CREATE INDEX applied_batches_at ON applied_batches (applied_at);

-- +goose Down
DROP TABLE applied_batches;
