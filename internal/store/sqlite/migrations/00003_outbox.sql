-- The outbox of owner and operator notifications (package notify). Times
-- are unix nanoseconds (UTC), 0 for the zero time. The payload is JSON.

-- +goose Up
CREATE TABLE notifications (
    id              TEXT    PRIMARY KEY,
    dedupe_key      TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    last_error      TEXT    NOT NULL,
    sent_at         INTEGER NOT NULL
);
-- What is due, in the order it is claimed.
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_created ON notifications (created_at, id);
CREATE INDEX notifications_account_created ON notifications (account, created_at, id);

-- +goose Down
DROP TABLE notifications;
