-- Step-up verification (package stepup): the context of challenged
-- requests, enrolled factors (secrets sealed by stepup, never in clear),
-- recovery code and email code hashes, WebAuthn ceremony state. Times are
-- unix nanoseconds (UTC), 0 for the zero time.

-- +goose Up
ALTER TABLE challenges ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE challenges ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE challenges ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

CREATE TABLE factors (
    id             TEXT    PRIMARY KEY,
    user_id        TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    secret         BLOB    NOT NULL,
    confirmed      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    totp_last_step INTEGER NOT NULL,
    credential_id  BLOB,              -- NULL unless WebAuthn
    public_key     BLOB    NOT NULL,
    sign_count     INTEGER NOT NULL,
    clone_warning  INTEGER NOT NULL
);
CREATE INDEX factors_user ON factors (user_id, created_at, id);
CREATE UNIQUE INDEX factors_credential ON factors (credential_id) WHERE credential_id IS NOT NULL;

CREATE TABLE recovery_codes (
    user_id    TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
);

CREATE TABLE email_otps (
    otp_key    TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    hash       BLOB    NOT NULL,
    sent_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    sends      INTEGER NOT NULL,
    attempts   INTEGER NOT NULL
);

CREATE TABLE webauthn_sessions (
    session_key TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    data        BLOB    NOT NULL,
    expires_at  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE webauthn_sessions;
DROP TABLE email_otps;
DROP TABLE recovery_codes;
DROP TABLE factors;
ALTER TABLE challenges DROP COLUMN user_agent;
ALTER TABLE challenges DROP COLUMN device_id;
ALTER TABLE challenges DROP COLUMN ip;
