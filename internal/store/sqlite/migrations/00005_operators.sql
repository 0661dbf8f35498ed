-- Dashboard operators (package dashboard): an argon2id password hash and a
-- sealed TOTP secret, never either in clear. Times are unix nanoseconds.

-- +goose Up
CREATE TABLE operators (
    name           TEXT    PRIMARY KEY,
    password_hash  TEXT    NOT NULL,
    totp_secret    BLOB    NOT NULL,
    totp_last_step INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    disabled       INTEGER NOT NULL
);

-- +goose Down
DROP TABLE operators;
