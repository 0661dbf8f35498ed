package demoshop

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// SeedAccount is an account to create with a known password: demo and
// simulation data.
type SeedAccount struct {
	ID       string
	Email    string
	Password string
	Name     string
	Phone    string
	Address  Address
}

// Seed creates accounts, hashing their passwords with the shop's hasher on
// every core (with DemoParams, about 1.6 ms a hash: 5,000 accounts in a
// few seconds on two cores). Emails are normalized.
func (s *Shop) Seed(ctx context.Context, seeds []SeedAccount) error {
	accts, err := HashSeeds(ctx, s.hasher, seeds, s.now())
	if err != nil {
		return err
	}
	return s.store.SeedAccounts(ctx, accts)
}

// HashSeeds turns seed accounts into accounts, hashing the passwords with
// h on every core, for Store.SeedAccounts (one hashing, many stores).
func HashSeeds(ctx context.Context, h PasswordHasher, seeds []SeedAccount, now time.Time) ([]Account, error) {
	accts := make([]Account, len(seeds))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				hash, err := h.Hash(seeds[i].Password)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, fmt.Errorf("hashing %s: %w", seeds[i].ID, err))
					mu.Unlock()
					continue
				}
				sa := seeds[i]
				accts[i] = Account{ID: sa.ID, Email: NormalizeEmail(sa.Email), PasswordHash: hash, Name: sa.Name, Phone: sa.Phone,
					Address: sa.Address, NotifyLogin: true, NotifyOrders: true, CreatedAt: now.Add(-30 * 24 * time.Hour)}
			}
		}()
	}
feed:
	for i := range seeds {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return accts, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
