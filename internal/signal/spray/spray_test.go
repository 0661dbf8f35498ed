package spray

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"math"
	"testing"
	"time"
)

var (
	t0   = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	key1 = bytes.Repeat([]byte{1}, 32)
	key2 = bytes.Repeat([]byte{2}, 32)
	pwA  = sha1.Sum([]byte("123456"))
	pwB  = sha1.Sum([]byte("password"))
)

func newDetector(t *testing.T, cfg Config) *Detector {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = key1
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCountsDistinctFailedAccounts(t *testing.T) {
	d := newDetector(t, Config{OpenAt: 5})
	var r Result
	for i := 1; i <= 4; i++ {
		r = d.Observe(t0.Add(time.Duration(i)*time.Second), Obs{SHA1: pwA, Account: uint64(i), Failed: true})
	}
	// The same account again, and a success, add nothing.
	r = d.Observe(t0.Add(10*time.Second), Obs{SHA1: pwA, Account: 1, Failed: true})
	if r.Accounts != 4 || r.Hot || r.State.Active {
		t.Fatalf("after 4 accounts: %+v", r)
	}
	r = d.Observe(t0.Add(11*time.Second), Obs{SHA1: pwA, Account: 99, Failed: false})
	if r.Accounts != 4 {
		t.Fatalf("a success counted: %+v", r)
	}
	if r := d.Observe(t0.Add(12*time.Second), Obs{SHA1: pwB, Account: 1, Failed: true}); r.Accounts != 1 {
		t.Fatalf("another password: %+v", r)
	}
	r = d.Observe(t0.Add(20*time.Second), Obs{SHA1: pwA, Account: 5, Failed: true})
	if r.Accounts != 5 || !r.Hot || !r.State.Opened || !r.State.Active || !r.State.Since.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("the fifth account should open an episode: %+v", r)
	}
	r = d.Observe(t0.Add(21*time.Second), Obs{SHA1: pwA, Account: 6, Failed: true})
	if r.State.Opened || !r.State.Active {
		t.Fatalf("opened twice: %+v", r)
	}
	// Quiet: the episode closes CloseAfter (default 30m) after the last hot attempt.
	if st := d.Tick(t0.Add(21*time.Second + 29*time.Minute)); !st.Active {
		t.Fatalf("closed too early: %+v", st)
	}
	st := d.Tick(t0.Add(21*time.Second + 30*time.Minute))
	if !st.Closed || st.Active || !st.Until.Equal(t0.Add(21*time.Second)) || !st.Since.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("want closed at the last hot attempt: %+v", st)
	}
	if st := d.Tick(t0.Add(2 * time.Hour)); st.Closed || st.Active {
		t.Fatalf("closed twice: %+v", st)
	}
	// The window (default 1h) has passed: the count starts over.
	if r := d.Observe(t0.Add(2*time.Hour), Obs{SHA1: pwA, Account: 7, Failed: true}); r.Accounts != 1 {
		t.Fatalf("after the window: %+v", r)
	}
}

func TestManyAccountsAreEstimated(t *testing.T) {
	d := newDetector(t, Config{})
	var r Result
	for i := 1; i <= 500; i++ {
		r = d.Observe(t0.Add(time.Duration(i)*time.Second), Obs{SHA1: pwA, Account: uint64(i) * 7919, Failed: true})
	}
	if math.Abs(r.Accounts-500)/500 > 0.08 {
		t.Fatalf("500 accounts estimated as %.0f", r.Accounts)
	}
	// Across a window boundary the previous window still counts.
	r = d.Observe(t0.Add(time.Hour+30*time.Minute), Obs{SHA1: pwA, Account: 1_000_001, Failed: true})
	if r.Accounts < 400 {
		t.Fatalf("after the window boundary: %.0f accounts", r.Accounts)
	}
}

func TestBoundedMemory(t *testing.T) {
	d := newDetector(t, Config{MaxPasswords: 64})
	for i := 0; i < 5000; i++ {
		pw := sha1.Sum([]byte{byte(i), byte(i >> 8)})
		d.Observe(t0, Obs{SHA1: pw, Account: uint64(i + 1), Failed: true})
	}
	if n := d.Len(); n > 64 {
		t.Fatalf("%d passwords held, want at most 64", n)
	}
}

func TestKeys(t *testing.T) {
	if _, err := New(Config{Key: []byte("short")}); err == nil {
		t.Error("a short key was accepted")
	}
	if _, err := New(Config{Key: key1, PreviousKey: []byte("short")}); err == nil {
		t.Error("a short previous key was accepted")
	}
	if k := DeriveKey([]byte("secret")); len(k) < MinKeyBytes {
		t.Errorf("derived key of %d bytes", len(k))
	}
}

func TestSnapshotAndKeyRotation(t *testing.T) {
	d := newDetector(t, Config{OpenAt: 5})
	for i := 1; i <= 10; i++ {
		d.Observe(t0.Add(time.Duration(i)*time.Second), Obs{SHA1: pwA, Account: uint64(i), Failed: true})
	}
	d.Observe(t0.Add(11*time.Second), Obs{SHA1: pwB, Account: 1, Failed: true}) // one account: not saved
	now := t0.Add(time.Minute)
	snap, err := d.Snapshot(now)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(snap, pwA[:]) {
		t.Fatal("the snapshot holds a password digest")
	}

	t.Run("same key", func(t *testing.T) {
		d2 := newDetector(t, Config{OpenAt: 5})
		if err := d2.Restore(snap, now); err != nil {
			t.Fatal(err)
		}
		r := d2.Observe(now, Obs{SHA1: pwA, Account: 11, Failed: true})
		if r.Accounts != 11 || !r.State.Active || r.State.Opened {
			t.Fatalf("after restore: %+v", r)
		}
		if d2.Len() != 1 {
			t.Fatalf("%d passwords restored, want 1", d2.Len())
		}
	})
	t.Run("rotated key", func(t *testing.T) {
		d2 := newDetector(t, Config{OpenAt: 5, Key: key2, PreviousKey: key1})
		if err := d2.Restore(snap, now); err != nil {
			t.Fatal(err)
		}
		r := d2.Observe(now, Obs{SHA1: pwA, Account: 11, Failed: true})
		if r.Accounts != 11 {
			t.Fatalf("counts did not carry over the rotation: %+v", r)
		}
		if r := d2.Observe(now, Obs{SHA1: pwA, Account: 12, Failed: true}); r.Accounts != 12 {
			t.Fatalf("after the carry-over: %+v", r)
		}
	})
	t.Run("rotated key, previous window over", func(t *testing.T) {
		d2 := newDetector(t, Config{OpenAt: 5, Key: key2, PreviousKey: key1})
		if err := d2.Restore(snap, now); err != nil {
			t.Fatal(err)
		}
		if r := d2.Observe(now.Add(2*time.Hour), Obs{SHA1: pwA, Account: 11, Failed: true}); r.Accounts != 1 {
			t.Fatalf("old counts outlived the window: %+v", r)
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		d2 := newDetector(t, Config{Key: key2})
		if err := d2.Restore(snap, now); !errors.Is(err, ErrOtherKey) {
			t.Fatalf("err = %v, want ErrOtherKey", err)
		}
		if r := d2.Observe(now, Obs{SHA1: pwA, Account: 11, Failed: true}); r.Accounts != 1 {
			t.Fatalf("counts of an unknown key were used: %+v", r)
		}
	})
}

// TestDigestObservesAsSHA1 checks that a login observed by its Digest, as
// a restart replays it, counts as the same login observed by its SHA-1.
func TestDigestObservesAsSHA1(t *testing.T) {
	bySHA1, byDigest := newDetector(t, Config{OpenAt: 3}), newDetector(t, Config{OpenAt: 3})
	if bySHA1.KeyID() != byDigest.KeyID() {
		t.Fatal("detectors of one key name it differently")
	}
	for i, pw := range [][20]byte{pwA, pwB, pwA, pwA, pwB, pwA} {
		now := t0.Add(time.Duration(i) * time.Second)
		o := Obs{SHA1: pw, Account: uint64(i + 1), Failed: true}
		want := bySHA1.Observe(now, o)
		dg, id := byDigest.Digest(&pw)
		if id != byDigest.KeyID() {
			t.Errorf("Digest key id %q, want %q", id, byDigest.KeyID())
		}
		got := byDigest.Observe(now, Obs{Digest: &dg, Account: o.Account, Failed: true})
		if got != want {
			t.Errorf("login %d by digest = %+v, want %+v", i, got, want)
		}
	}
}
