-- Pending challenges by expiry: the guard's sweep of challenges that
-- expired unanswered (store.ChallengeSweeper) reads them oldest first.

-- +goose Up
CREATE INDEX challenges_pending_expiry ON challenges (expires_at, id) WHERE state = 'pending';

-- +goose Down
DROP INDEX challenges_pending_expiry;
