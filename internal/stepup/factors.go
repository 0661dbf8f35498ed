package stepup

import (
	"context"
	"errors"
	"fmt"

	"github.com/atoguard/atoguard/internal/store"
)

// Factors is what a user has enrolled.
type Factors struct {
	Factors           []FactorInfo
	RecoveryCodesLeft int
}

func infoOf(f store.Factor, address string) FactorInfo {
	return FactorInfo{
		ID: f.ID, Type: f.Type, Name: f.Name, Confirmed: f.Confirmed, CreatedAt: f.CreatedAt,
		LastUsedAt: f.LastUsedAt, CloneWarning: f.CloneWarning, Address: address,
	}
}

// ListFactors returns userID's factors, oldest first, and how many unused
// recovery codes are left.
func (s *Service) ListFactors(ctx context.Context, userID string) (Factors, error) {
	if err := checkID("user_id", userID); err != nil {
		return Factors{}, err
	}
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return Factors{}, fmt.Errorf("listing factors: %w", err)
	}
	out := Factors{Factors: make([]FactorInfo, 0, len(fs))}
	for _, f := range fs {
		addr := ""
		if f.Type == store.FactorEmail {
			plain, err := s.openSecret(ctx, f)
			if err != nil {
				return Factors{}, err
			}
			addr = maskAddress(string(plain))
		}
		out.Factors = append(out.Factors, infoOf(f, addr))
	}
	codes, err := s.store.ListRecoveryCodes(ctx, userID)
	if err != nil {
		return Factors{}, fmt.Errorf("listing recovery codes: %w", err)
	}
	for _, c := range codes {
		if c.UsedAt.IsZero() {
			out.RecoveryCodesLeft++
		}
	}
	return out, nil
}

// DeleteFactor removes factor factorID of userID.
func (s *Service) DeleteFactor(ctx context.Context, userID, factorID string) error {
	if err := checkID("user_id", userID); err != nil {
		return err
	}
	if err := checkID("factor_id", factorID); err != nil {
		return fmt.Errorf("no factor %q: %w", factorID, ErrNotFound)
	}
	unlock := s.lockUser(userID)
	defer unlock()
	err := s.store.DeleteFactor(ctx, userID, factorID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no factor %q for user %q: %w", factorID, userID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("deleting factor: %w", err)
	}
	return nil
}

// Rekey seals again, with the current key, every factor secret sealed
// with another one, and reports how many it resealed. After it, keys other
// than the current one can be removed from the key file.
func (s *Service) Rekey(ctx context.Context) (int, error) {
	n := 0
	after := ""
	for {
		page, err := s.store.ScanFactors(ctx, after, 500)
		if err != nil {
			return n, fmt.Errorf("scanning factors: %w", err)
		}
		if len(page) == 0 {
			return n, nil
		}
		for _, f := range page {
			if sealedKeyID(f.Secret) == s.keys.Current() {
				continue
			}
			unlock := s.lockUser(f.UserID)
			resealed, err := s.rekeyOne(ctx, f.ID)
			unlock()
			if err != nil {
				return n, err
			}
			if resealed {
				n++
			}
		}
		after = page[len(page)-1].ID
	}
}

func (s *Service) rekeyOne(ctx context.Context, id string) (bool, error) {
	f, err := s.store.GetFactor(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // deleted meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("loading factor: %w", err)
	}
	plain, stale, err := s.keys.Open(f.Secret, factorAAD(f))
	if err != nil {
		return false, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	if !stale {
		return false, nil
	}
	f.Secret = s.keys.Seal(plain, factorAAD(f))
	if err := s.store.PutFactor(ctx, f); err != nil {
		return false, fmt.Errorf("resealing factor %s: %w", f.ID, err)
	}
	return true, nil
}
