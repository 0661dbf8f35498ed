-- The ids of the batches written (store.Batch.IDs, set by the journal),
-- as the SQLite backend's migration 7: each is inserted in the
-- transaction of its batch, so that a batch written again (a journal
-- replayed after a crash, a write whose acknowledgement was lost) fails
-- on its id and writes nothing twice. applied_at is unix nanoseconds; ids
-- applied long enough ago are pruned (store.BatchIDPruner).

-- +goose Up
CREATE TABLE applied_batches (
    id         text    COLLATE "C" PRIMARY KEY,
    applied_at bigint  NOT NULL
);
CREATE INDEX applied_batches_at ON applied_batches (applied_at);

-- +goose Down
DROP TABLE applied_batches;
