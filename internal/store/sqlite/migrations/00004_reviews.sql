-- Orders held for a person (decision review). Times are unix nanoseconds
-- (UTC), 0 for the zero time; reasons are JSON text.

-- +goose Up
CREATE TABLE reviews (
    id          TEXT    PRIMARY KEY,
    event_id    TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    order_id    TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    currency    TEXT    NOT NULL,
    reasons     TEXT    NOT NULL,
    incident_id TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    decided_at  INTEGER NOT NULL,
    decided_by  TEXT    NOT NULL,
    note        TEXT    NOT NULL
);
CREATE INDEX reviews_state_created ON reviews (state, created_at);
CREATE INDEX reviews_created ON reviews (created_at);

-- +goose Down
DROP TABLE reviews;
