-- Times are unix nanoseconds (UTC), 0 for the zero time. Lists of strings
-- and of sources are JSON text.

-- +goose Up
CREATE TABLE audit (
    seq           INTEGER PRIMARY KEY,
    event_id      TEXT    NOT NULL UNIQUE,
    received_at   INTEGER NOT NULL,
    occurred_at   INTEGER NOT NULL,
    type          TEXT    NOT NULL,
    account       TEXT    NOT NULL,
    login         TEXT    NOT NULL,
    ip            TEXT    NOT NULL,
    session_id    TEXT    NOT NULL,
    request_id    TEXT    NOT NULL,
    decision      TEXT    NOT NULL,
    risk          INTEGER NOT NULL,
    reasons       TEXT    NOT NULL,
    incident_id   TEXT    NOT NULL,
    challenge_id  TEXT    NOT NULL,
    password_hmac BLOB,
    event         BLOB
);
CREATE INDEX audit_received ON audit (received_at, seq);
CREATE INDEX audit_account_received ON audit (account, received_at, seq);

CREATE TABLE profiles (
    account    TEXT    PRIMARY KEY,
    data       BLOB,
    updated_at INTEGER NOT NULL
);

CREATE TABLE incidents (
    id                   TEXT    PRIMARY KEY,
    kind                 TEXT    NOT NULL,
    state                TEXT    NOT NULL,
    started_at           INTEGER NOT NULL,
    ended_at             INTEGER NOT NULL,
    attempts             INTEGER NOT NULL,
    distinct_ips         INTEGER NOT NULL,
    distinct_prefixes    INTEGER NOT NULL,
    accounts_targeted    INTEGER NOT NULL,
    accounts_compromised INTEGER NOT NULL,
    top_sources          TEXT    NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX incidents_started ON incidents (started_at);
CREATE INDEX incidents_state_started ON incidents (state, started_at);

-- No foreign key to incidents: the accounts of an incident may be written
-- before the incident itself, as in the memory backend.
CREATE TABLE incident_accounts (
    incident_id TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    known       INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (incident_id, account)
);
CREATE INDEX incident_accounts_first_seen ON incident_accounts (incident_id, first_seen, account);

CREATE TABLE challenges (
    id          TEXT    PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    purpose     TEXT    NOT NULL,
    methods     TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    event_id    TEXT    NOT NULL,
    incident_id TEXT    NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       BLOB    NOT NULL UNIQUE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    disabled   INTEGER NOT NULL
);

CREATE TABLE state (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- +goose Down
DROP TABLE state;
DROP TABLE api_keys;
DROP TABLE challenges;
DROP TABLE incident_accounts;
DROP TABLE incidents;
DROP TABLE profiles;
DROP TABLE audit;
