package demoshop

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned for a missing account or session.
var ErrNotFound = errors.New("not found")

// ErrEmailTaken is returned when an email already names an account.
var ErrEmailTaken = errors.New("email already registered")

// Account is a customer of the shop.
type Account struct {
	ID           string
	Email        string // normalized
	PasswordHash string // argon2id, PHC string format
	Name         string
	Phone        string
	Address      Address
	NotifyLogin  bool // email on a login from a new device
	NotifyOrders bool // email on every order
	CreatedAt    time.Time
}

// Address is a delivery address in Japan.
type Address struct {
	PostalCode string `json:"postal_code"`
	Region     string `json:"region"`
	City       string `json:"city"`
	Line1      string `json:"line1"`
}

func (a Address) String() string {
	return strings.TrimSpace("〒" + a.PostalCode + " " + a.Region + a.City + a.Line1)
}

// session is a logged-in (or step-up pending) session.
type session struct {
	Hash      []byte // SHA-256 of the cookie secret
	PublicID  string // s-…, what the guard sees as session_id
	AccountID string
	DeviceID  string
	IP        string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Pending step-up: the login is not complete until it passes.
	Challenge        string
	ChallengeMethods string // comma separated
	ChallengeExpires time.Time
}

func (s session) pending() bool { return s.Challenge != "" }

// Order is an order as the shop keeps it.
type Order struct {
	ID          string
	AccountID   string
	CreatedAt   time.Time
	Amount      int64
	Items       []OrderItem
	Delivery    string // home, convenience_store
	PickupStore string
	Shipping    Address
	ShipName    string
	Payment     string // credit_card, carrier_billing, convenience_store
	Status      string // accepted, held, refused, needs_step_up
	Decision    string // the guard's decision
}

// OrderItem is one line of an order or a cart.
type OrderItem struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// Mail is a notification the shop sent (kept in the outbox).
type Mail struct {
	ID        int64
	At        time.Time
	To        string
	AccountID string
	Subject   string
	Body      string
}

// Store is the shop's own storage: SQLite in a file, or in memory.
type Store struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  address TEXT NOT NULL DEFAULT '{}',
  notify_login INTEGER NOT NULL DEFAULT 1,
  notify_orders INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  hash BLOB PRIMARY KEY,
  public_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  device_id TEXT NOT NULL DEFAULT '',
  ip TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  challenge TEXT NOT NULL DEFAULT '',
  challenge_methods TEXT NOT NULL DEFAULT '',
  challenge_expires INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_pending ON sessions (challenge_expires) WHERE challenge <> '';
CREATE TABLE IF NOT EXISTS devices (
  account_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (account_id, device_id)
);
CREATE TABLE IF NOT EXISTS carts (
  account_id TEXT NOT NULL,
  sku TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  PRIMARY KEY (account_id, sku)
);
CREATE TABLE IF NOT EXISTS orders (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  items TEXT NOT NULL,
  delivery TEXT NOT NULL,
  pickup_store TEXT NOT NULL DEFAULT '',
  shipping TEXT NOT NULL,
  ship_name TEXT NOT NULL DEFAULT '',
  payment TEXT NOT NULL,
  status TEXT NOT NULL,
  decision TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_account ON orders (account_id, created_at);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  to_addr TEXT NOT NULL,
  account_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL
);
`

// OpenStore opens (creating if needed) the shop's SQLite database at path,
// or an in-memory one when path is "".
func OpenStore(ctx context.Context, path string) (*Store, error) {
	dsn := "file::memory:"
	if path != "" {
		dsn = "file:" + (&url.URL{Path: path}).EscapedPath()
	}
	dsn += "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening shop database: %w", err)
	}
	// One connection: an in-memory database lives in it, and the shop's
	// queries are short.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if _, err := db.ExecContext(ctx, schema+noticeSchema+actionSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating shop schema: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Store) insertAccount(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, a Account) error {
	addr, _ := json.Marshal(a.Address)
	_, err := ex.ExecContext(ctx, `INSERT INTO accounts (id, email, password_hash, name, phone, address, notify_login, notify_orders, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Email, a.PasswordHash, a.Name, a.Phone, string(addr), b2i(a.NotifyLogin), b2i(a.NotifyOrders), ms(a.CreatedAt))
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: accounts.email") {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("inserting account: %w", err)
	}
	return nil
}

// CreateAccount stores a new account; ErrEmailTaken when its email is used.
func (s *Store) CreateAccount(ctx context.Context, a Account) error {
	return s.insertAccount(ctx, s.db, a)
}

// SeedAccounts stores many accounts in one transaction.
func (s *Store) SeedAccounts(ctx context.Context, accts []Account) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seeding accounts: %w", err)
	}
	defer tx.Rollback()
	for _, a := range accts {
		if err := s.insertAccount(ctx, tx, a); err != nil {
			return fmt.Errorf("seeding %s: %w", a.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seeding accounts: %w", err)
	}
	return nil
}

// CountAccounts returns the number of accounts.
func (s *Store) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, err
}

const accountCols = `id, email, password_hash, name, phone, address, notify_login, notify_orders, created_at`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var addr string
	var nl, no int
	var created int64
	if err := row.Scan(&a.ID, &a.Email, &a.PasswordHash, &a.Name, &a.Phone, &addr, &nl, &no, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Account{}, ErrNotFound
		}
		return Account{}, fmt.Errorf("reading account: %w", err)
	}
	_ = json.Unmarshal([]byte(addr), &a.Address)
	a.NotifyLogin, a.NotifyOrders, a.CreatedAt = nl != 0, no != 0, fromMS(created)
	return a, nil
}

// AccountByEmail returns the account of a normalized email.
func (s *Store) AccountByEmail(ctx context.Context, email string) (Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE email = ?`, email))
}

// AccountByID returns an account.
func (s *Store) AccountByID(ctx context.Context, id string) (Account, error) {
	return scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

// UpdateAccount writes an account's contact data and settings.
func (s *Store) UpdateAccount(ctx context.Context, a Account) error {
	addr, _ := json.Marshal(a.Address)
	_, err := s.db.ExecContext(ctx, `UPDATE accounts SET email = ?, name = ?, phone = ?, address = ?, notify_login = ?, notify_orders = ? WHERE id = ?`,
		a.Email, a.Name, a.Phone, string(addr), b2i(a.NotifyLogin), b2i(a.NotifyOrders), a.ID)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: accounts.email") {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("updating account: %w", err)
	}
	return nil
}

func (s *Store) createSession(ctx context.Context, se session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, public_id, account_id, device_id, ip, created_at, expires_at, challenge, challenge_methods, challenge_expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		se.Hash, se.PublicID, se.AccountID, se.DeviceID, se.IP, ms(se.CreatedAt), ms(se.ExpiresAt), se.Challenge, se.ChallengeMethods, ms(se.ChallengeExpires))
	if err != nil {
		return fmt.Errorf("creating session: %w", err)
	}
	return nil
}

const sessionCols = `hash, public_id, account_id, device_id, ip, created_at, expires_at, challenge, challenge_methods, challenge_expires`

func scanSession(row interface{ Scan(...any) error }) (session, error) {
	var se session
	var c, e, ce int64
	if err := row.Scan(&se.Hash, &se.PublicID, &se.AccountID, &se.DeviceID, &se.IP, &c, &e, &se.Challenge, &se.ChallengeMethods, &ce); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return session{}, ErrNotFound
		}
		return session{}, fmt.Errorf("reading session: %w", err)
	}
	se.CreatedAt, se.ExpiresAt, se.ChallengeExpires = fromMS(c), fromMS(e), fromMS(ce)
	return se, nil
}

func (s *Store) sessionByHash(ctx context.Context, hash []byte) (session, error) {
	return scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = ?`, hash))
}

func (s *Store) deleteSession(ctx context.Context, hash []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	if err != nil {
		return fmt.Errorf("deleting session: %w", err)
	}
	return nil
}

// completeStepUp turns a pending session into a logged-in one.
func (s *Store) completeStepUp(ctx context.Context, hash []byte) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET challenge = '', challenge_methods = '', challenge_expires = 0 WHERE hash = ?`, hash)
	if err != nil {
		return fmt.Errorf("completing step-up: %w", err)
	}
	return nil
}

// expiredPending returns sessions whose step-up expired before now, and
// deletes logged-in sessions past their expiry.
func (s *Store) expiredPending(ctx context.Context, now time.Time) ([]session, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, ms(now)); err != nil {
		return nil, fmt.Errorf("deleting expired sessions: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE challenge <> '' AND challenge_expires < ? LIMIT 1000`, ms(now))
	if err != nil {
		return nil, fmt.Errorf("listing expired step-ups: %w", err)
	}
	defer rows.Close()
	var out []session
	for rows.Next() {
		se, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, se)
	}
	return out, rows.Err()
}

// knownDevice reports whether the account has logged in from the device
// before, and remembers it.
func (s *Store) knownDevice(ctx context.Context, accountID, deviceID string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT OR IGNORE INTO devices (account_id, device_id, first_seen) VALUES (?, ?, ?)`, accountID, deviceID, ms(now))
	if err != nil {
		return false, fmt.Errorf("recording device: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording device: %w", err)
	}
	return n == 0, nil
}

func (s *Store) cart(ctx context.Context, accountID string) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sku, quantity FROM carts WHERE account_id = ?`, accountID)
	if err != nil {
		return nil, fmt.Errorf("reading cart: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var sku string
		var q int64
		if err := rows.Scan(&sku, &q); err != nil {
			return nil, fmt.Errorf("reading cart: %w", err)
		}
		out[sku] = q
	}
	return out, rows.Err()
}

func (s *Store) setCartItem(ctx context.Context, accountID, sku string, qty int64) error {
	var err error
	if qty <= 0 {
		_, err = s.db.ExecContext(ctx, `DELETE FROM carts WHERE account_id = ? AND sku = ?`, accountID, sku)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO carts (account_id, sku, quantity) VALUES (?, ?, ?)
			ON CONFLICT (account_id, sku) DO UPDATE SET quantity = excluded.quantity`, accountID, sku, qty)
	}
	if err != nil {
		return fmt.Errorf("updating cart: %w", err)
	}
	return nil
}

func (s *Store) clearCart(ctx context.Context, accountID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM carts WHERE account_id = ?`, accountID); err != nil {
		return fmt.Errorf("clearing cart: %w", err)
	}
	return nil
}

func (s *Store) createOrder(ctx context.Context, o Order) error {
	items, _ := json.Marshal(o.Items)
	ship, _ := json.Marshal(o.Shipping)
	_, err := s.db.ExecContext(ctx, `INSERT INTO orders (id, account_id, created_at, amount, items, delivery, pickup_store, shipping, ship_name, payment, status, decision)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		o.ID, o.AccountID, ms(o.CreatedAt), o.Amount, string(items), o.Delivery, o.PickupStore, string(ship), o.ShipName, o.Payment, o.Status, o.Decision)
	if err != nil {
		return fmt.Errorf("recording order: %w", err)
	}
	return nil
}

// Orders returns an account's orders, newest first.
func (s *Store) Orders(ctx context.Context, accountID string) ([]Order, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, account_id, created_at, amount, items, delivery, pickup_store, shipping, ship_name, payment, status, decision
		FROM orders WHERE account_id = ? ORDER BY created_at DESC, id LIMIT 200`, accountID)
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	defer rows.Close()
	var out []Order
	for rows.Next() {
		var o Order
		var created int64
		var items, ship string
		if err := rows.Scan(&o.ID, &o.AccountID, &created, &o.Amount, &items, &o.Delivery, &o.PickupStore, &ship, &o.ShipName, &o.Payment, &o.Status, &o.Decision); err != nil {
			return nil, fmt.Errorf("reading order: %w", err)
		}
		o.CreatedAt = fromMS(created)
		_ = json.Unmarshal([]byte(items), &o.Items)
		_ = json.Unmarshal([]byte(ship), &o.Shipping)
		out = append(out, o)
	}
	return out, rows.Err()
}

func (s *Store) addMail(ctx context.Context, m Mail) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO outbox (at, to_addr, account_id, subject, body) VALUES (?, ?, ?, ?, ?)`,
		ms(m.At), m.To, m.AccountID, m.Subject, m.Body)
	if err != nil {
		return fmt.Errorf("writing outbox: %w", err)
	}
	return nil
}

// Outbox returns the most recent notifications, newest first.
func (s *Store) Outbox(ctx context.Context, limit int) ([]Mail, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, at, to_addr, account_id, subject, body FROM outbox ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	defer rows.Close()
	var out []Mail
	for rows.Next() {
		var m Mail
		var at int64
		if err := rows.Scan(&m.ID, &at, &m.To, &m.AccountID, &m.Subject, &m.Body); err != nil {
			return nil, fmt.Errorf("reading outbox: %w", err)
		}
		m.At = fromMS(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// CountOutbox returns the number of notifications sent.
func (s *Store) CountOutbox(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, err
}
