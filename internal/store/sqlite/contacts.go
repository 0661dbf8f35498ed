package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlrec"
)

// moveLegacyContacts moves the contact histories kept as profiles (keys
// starting with store.LegacyContactsPrefix) to the contacts table, in one
// transaction: a profile replaces a stored history unless that one is
// newer, and is then deleted. One whose JSON does not decode stays where
// it is. Running it again changes nothing.
func moveLegacyContacts(ctx context.Context, w *sql.DB) (err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that matters is err
		}
	}()
	// The prefix ends with NUL: the keys after it and before the prefix
	// ending with byte 1 are the ones that start with it.
	end := store.LegacyContactsPrefix[:len(store.LegacyContactsPrefix)-1] + "\x01"
	rows, err := tx.QueryContext(ctx, `SELECT `+sqlrec.ProfileColumns+` FROM profiles
		WHERE account >= ? AND account < ?`, store.LegacyContactsPrefix, end)
	if err != nil {
		return err
	}
	var profiles []store.Profile
	for rows.Next() {
		p, err := sqlrec.ScanProfile(rows)
		if err != nil {
			rows.Close()
			return err
		}
		profiles = append(profiles, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(profiles) == 0 {
		return tx.Rollback()
	}
	for _, p := range profiles {
		c, _, err := store.LegacyContacts(p)
		if err != nil {
			continue // kept as it is: a later version may read it
		}
		sts, err := dialect.Statements(store.Batch{Contacts: []store.Contacts{c}})
		if err != nil {
			continue // a time out of range: likewise
		}
		if _, err := tx.ExecContext(ctx, sts[0].Query+` WHERE excluded.updated_at >= contacts.updated_at`,
			sts[0].Args...); err != nil {
			return fmt.Errorf("%s: %w", sts[0].Name(), err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM profiles WHERE account = ?`, p.Account); err != nil {
			return fmt.Errorf("profile %q: %w", p.Account, err)
		}
	}
	return tx.Commit()
}
