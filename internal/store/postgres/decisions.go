package postgres

import (
	"context"
	"fmt"
	"time"
)

// DecisionCounts returns how many events received since since got each
// decision, for the dashboard.
func (s *Store) DecisionCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT decision, count(*) FROM audit WHERE received_at >= $1 GROUP BY decision`, unixNano(since))
	if err != nil {
		return nil, fmt.Errorf("counting decisions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var d string
		var n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("counting decisions: %w", err)
		}
		out[d] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting decisions: %w", err)
	}
	return out, nil
}
