package store

import (
	"context"
	"time"
)

// RetentionStore deletes what is kept only for a while: audit records and
// delivered notifications past their retention, a bounded batch per call
// so that pruning never holds the writers up for long.
type RetentionStore interface {
	// PruneAudit deletes up to limit audit records received before
	// before, oldest first, and returns how many it deleted.
	PruneAudit(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneNotifications deletes up to limit notifications delivered (sent,
	// or given up on) before before, oldest first, and returns how many.
	// Pending notifications are never pruned.
	PruneNotifications(ctx context.Context, before time.Time, limit int) (int64, error)
}
