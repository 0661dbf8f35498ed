-- Dashboard operators (package dashboard), as the SQLite backend's
-- migration 5: an argon2id password hash and a sealed TOTP secret, never
-- either in clear. Times are unix nanoseconds, 0 for the zero time.

-- +goose Up
CREATE TABLE operators (
    name           text    COLLATE "C" PRIMARY KEY,
    password_hash  text    NOT NULL,
    totp_secret    bytea   NOT NULL,
    totp_last_step bigint  NOT NULL,
    created_at     bigint  NOT NULL,
    disabled       boolean NOT NULL
);

-- +goose Down
DROP TABLE operators;
