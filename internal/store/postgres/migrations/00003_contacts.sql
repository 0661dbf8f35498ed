-- Owners' contact histories (store.Contacts), as the SQLite backend's
-- migration 6. There are no legacy contact profiles to move here: their
-- key, 'contacts' followed by a NUL character, is no PostgreSQL text, so
-- the engine's writes of them failed. changes is a JSON list of
-- {"from": address, "at": unix nanoseconds}.

-- +goose Up
CREATE TABLE contacts (
    user_id    text    COLLATE "C" PRIMARY KEY,
    email      text    NOT NULL,
    changes    text    NOT NULL,
    updated_at bigint  NOT NULL
);

-- +goose Down
DROP TABLE contacts;
