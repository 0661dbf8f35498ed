-- The whole schema of the PostgreSQL backend, the same records as the
-- SQLite backend's migrations 1 to 4. Times are unix nanoseconds (UTC) in
-- a bigint, 0 for the zero time, so that they round-trip to the
-- nanosecond (timestamptz keeps microseconds). Lists of strings and of
-- sources are JSON text (text, not jsonb: jsonb refuses the escape \u0000).
-- Identifiers that are sorted or compared use the "C" collation, so that
-- they order byte by byte as Go strings do, whatever the database's
-- locale.

-- +goose Up
CREATE TABLE audit (
    seq           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      text    COLLATE "C" NOT NULL UNIQUE,
    received_at   bigint  NOT NULL,
    occurred_at   bigint  NOT NULL,
    type          text    NOT NULL,
    account       text    COLLATE "C" NOT NULL,
    login         text    NOT NULL,
    ip            text    NOT NULL,
    session_id    text    NOT NULL,
    request_id    text    NOT NULL,
    decision      text    NOT NULL,
    risk          bigint  NOT NULL,
    reasons       text    NOT NULL,
    incident_id   text    NOT NULL,
    challenge_id  text    NOT NULL,
    password_hmac bytea,
    event         bytea
);
CREATE INDEX audit_received ON audit (received_at, seq);
CREATE INDEX audit_account_received ON audit (account, received_at, seq);

CREATE TABLE profiles (
    account    text    COLLATE "C" PRIMARY KEY,
    data       bytea,
    updated_at bigint  NOT NULL
);

CREATE TABLE incidents (
    id                   text    COLLATE "C" PRIMARY KEY,
    kind                 text    NOT NULL,
    state                text    NOT NULL,
    started_at           bigint  NOT NULL,
    ended_at             bigint  NOT NULL,
    attempts             bigint  NOT NULL,
    distinct_ips         bigint  NOT NULL,
    distinct_prefixes    bigint  NOT NULL,
    accounts_targeted    bigint  NOT NULL,
    accounts_compromised bigint  NOT NULL,
    top_sources          text    NOT NULL,
    updated_at           bigint  NOT NULL
);
CREATE INDEX incidents_started ON incidents (started_at, id);
CREATE INDEX incidents_state_started ON incidents (state, started_at, id);

-- No foreign key to incidents: the accounts of an incident may be written
-- before the incident itself, as in the memory backend.
CREATE TABLE incident_accounts (
    incident_id text    COLLATE "C" NOT NULL,
    account     text    COLLATE "C" NOT NULL,
    known       boolean NOT NULL,
    outcome     text    NOT NULL,
    attempts    bigint  NOT NULL,
    first_seen  bigint  NOT NULL,
    last_seen   bigint  NOT NULL,
    PRIMARY KEY (incident_id, account)
);
CREATE INDEX incident_accounts_first_seen ON incident_accounts (incident_id, first_seen, account);

CREATE TABLE challenges (
    id          text    COLLATE "C" PRIMARY KEY,
    user_id     text    NOT NULL,
    session_id  text    NOT NULL,
    purpose     text    NOT NULL,
    methods     text    NOT NULL,
    state       text    NOT NULL,
    attempts    bigint  NOT NULL,
    created_at  bigint  NOT NULL,
    expires_at  bigint  NOT NULL,
    event_id    text    NOT NULL,
    incident_id text    NOT NULL,
    ip          text    NOT NULL,
    device_id   text    NOT NULL,
    user_agent  text    NOT NULL
);

CREATE TABLE api_keys (
    id         text    COLLATE "C" PRIMARY KEY,
    name       text    NOT NULL,
    hash       bytea   NOT NULL UNIQUE,
    scopes     text    NOT NULL,
    created_at bigint  NOT NULL,
    disabled   boolean NOT NULL
);

CREATE TABLE state (
    name  text  COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- Step-up verification (package stepup): enrolled factors (secrets sealed
-- by stepup, never in clear), recovery code and email code hashes,
-- WebAuthn ceremony state.
CREATE TABLE factors (
    id             text    COLLATE "C" PRIMARY KEY,
    user_id        text    COLLATE "C" NOT NULL,
    type           text    NOT NULL,
    name           text    NOT NULL,
    secret         bytea   NOT NULL,
    confirmed      boolean NOT NULL,
    created_at     bigint  NOT NULL,
    last_used_at   bigint  NOT NULL,
    totp_last_step bigint  NOT NULL,
    credential_id  bytea,             -- NULL unless WebAuthn
    public_key     bytea   NOT NULL,
    sign_count     bigint  NOT NULL,
    clone_warning  boolean NOT NULL
);
CREATE INDEX factors_user ON factors (user_id, created_at, id);
CREATE UNIQUE INDEX factors_credential ON factors (credential_id) WHERE credential_id IS NOT NULL;

CREATE TABLE recovery_codes (
    user_id    text    COLLATE "C" NOT NULL,
    seq        bigint  NOT NULL,
    hash       bytea   NOT NULL,
    created_at bigint  NOT NULL,
    used_at    bigint  NOT NULL,
    PRIMARY KEY (user_id, seq)
);

CREATE TABLE email_otps (
    otp_key    text    COLLATE "C" PRIMARY KEY,
    user_id    text    NOT NULL,
    hash       bytea   NOT NULL,
    sent_at    bigint  NOT NULL,
    expires_at bigint  NOT NULL,
    sends      bigint  NOT NULL,
    attempts   bigint  NOT NULL
);

CREATE TABLE webauthn_sessions (
    session_key text    COLLATE "C" PRIMARY KEY,
    user_id     text    NOT NULL,
    data        bytea   NOT NULL,
    expires_at  bigint  NOT NULL
);

-- The outbox of owner and operator notifications (package notify). The
-- payload is JSON, kept as bytes.
CREATE TABLE notifications (
    id              text    COLLATE "C" PRIMARY KEY,
    dedupe_key      text    COLLATE "C" NOT NULL UNIQUE,
    kind            text    NOT NULL,
    channel         text    NOT NULL,
    recipient       text    NOT NULL,
    account         text    COLLATE "C" NOT NULL,
    payload         bytea   NOT NULL,
    created_at      bigint  NOT NULL,
    next_attempt_at bigint  NOT NULL,
    attempts        bigint  NOT NULL,
    state           text    NOT NULL,
    last_error      text    NOT NULL,
    sent_at         bigint  NOT NULL
);
-- What is due, in the order it is claimed.
CREATE INDEX notifications_due ON notifications (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX notifications_created ON notifications (created_at, id);
CREATE INDEX notifications_account_created ON notifications (account, created_at, id);

-- Orders held for a person (decision review).
CREATE TABLE reviews (
    id          text    COLLATE "C" PRIMARY KEY,
    event_id    text    NOT NULL,
    user_id     text    NOT NULL,
    session_id  text    NOT NULL,
    order_id    text    NOT NULL,
    amount      bigint  NOT NULL,
    currency    text    NOT NULL,
    reasons     text    NOT NULL,
    incident_id text    NOT NULL,
    state       text    NOT NULL,
    created_at  bigint  NOT NULL,
    decided_at  bigint  NOT NULL,
    decided_by  text    NOT NULL,
    note        text    NOT NULL
);
CREATE INDEX reviews_state_created ON reviews (state, created_at, id);
CREATE INDEX reviews_created ON reviews (created_at, id);

-- +goose Down
DROP TABLE reviews;
DROP TABLE notifications;
DROP TABLE webauthn_sessions;
DROP TABLE email_otps;
DROP TABLE recovery_codes;
DROP TABLE factors;
DROP TABLE state;
DROP TABLE api_keys;
DROP TABLE challenges;
DROP TABLE incident_accounts;
DROP TABLE incidents;
DROP TABLE profiles;
DROP TABLE audit;
