-- Owners' contact histories (store.Contacts), a record of their own: the
-- engine kept them as profiles under the key 'contacts' || char(0) ||
-- user id. Open moves such profiles here (decoding their JSON in Go),
-- every time, so that none an older guard writes is left behind. changes
-- is a JSON list of {"from": address, "at": unix nanoseconds}.

-- +goose Up
CREATE TABLE contacts (
    user_id    TEXT    PRIMARY KEY,
    email      TEXT    NOT NULL,
    changes    TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE contacts;
