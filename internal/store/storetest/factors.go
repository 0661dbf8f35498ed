package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// factor returns a TOTP factor of user with every field set.
func factor(id, user string, created time.Time) store.Factor {
	return store.Factor{
		ID:           id,
		UserID:       user,
		Type:         store.FactorTOTP,
		Name:         "phone " + id,
		Secret:       []byte("sealed\x00\xff" + id),
		Confirmed:    true,
		CreatedAt:    created,
		LastUsedAt:   created.Add(time.Minute + 3),
		TOTPLastStep: 59000000 + int64(len(id)),
	}
}

// webauthnFactor returns a WebAuthn factor of user with every field set.
func webauthnFactor(id, user string, created time.Time) store.Factor {
	return store.Factor{
		ID:           id,
		UserID:       user,
		Type:         store.FactorWebAuthn,
		Name:         "key " + id,
		Secret:       []byte("sealed-credential-" + id),
		Confirmed:    true,
		CreatedAt:    created,
		CredentialID: []byte("cred\x00" + id),
		PublicKey:    []byte{0xa5, 0x01, 0x02, byte(len(id))},
		SignCount:    1 << 31,
		CloneWarning: false,
	}
}

func getFactor(t *testing.T, s store.Store, id string) store.Factor {
	t.Helper()
	f, err := s.GetFactor(t.Context(), id)
	if err != nil {
		t.Fatalf("GetFactor(%q): %v", id, err)
	}
	return f
}

func listFactors(t *testing.T, s store.Store, user string) []store.Factor {
	t.Helper()
	got, err := s.ListFactors(t.Context(), user)
	if err != nil {
		t.Fatalf("ListFactors(%q): %v", user, err)
	}
	return got
}

func putFactor(t *testing.T, s store.Store, f store.Factor) {
	t.Helper()
	if err := s.PutFactor(t.Context(), f); err != nil {
		t.Fatalf("PutFactor(%q): %v", f.ID, err)
	}
}

func testFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	a1 := factor("f-a1", "alice", at(time.Hour))
	a2 := webauthnFactor("f-a2", "alice", t0())
	a3 := factor("f-a3", "alice", at(time.Hour)) // ties with a1 on CreatedAt
	a3.Confirmed = false
	a3.LastUsedAt = time.Time{}
	a3.TOTPLastStep = 0
	b1 := webauthnFactor("f-b1", "bob", t0())
	for _, f := range []store.Factor{a1, a2, a3, b1} {
		putFactor(t, s, f)
	}
	diff(t, "GetFactor(f-a2)", getFactor(t, s, "f-a2"), a2)
	diff(t, "ListFactors(alice)", listFactors(t, s, "alice"), []store.Factor{a2, a1, a3})
	diff(t, "ListFactors(bob)", listFactors(t, s, "bob"), []store.Factor{b1})
	diff(t, "ListFactors(nobody)", listFactors(t, s, "nobody"), []store.Factor(nil))

	got, err := s.FactorByCredentialID(ctx, b1.CredentialID)
	if err != nil {
		t.Fatalf("FactorByCredentialID: %v", err)
	}
	diff(t, "FactorByCredentialID(b1)", got, b1)

	// Replacing a factor changes what may change.
	a3b := a3
	a3b.Confirmed = true
	a3b.Name = "renamed"
	a3b.Secret = []byte("resealed")
	putFactor(t, s, a3b)
	diff(t, "GetFactor(f-a3) after replace", getFactor(t, s, "f-a3"), a3b)

	// Deleting needs the owner.
	if err := s.DeleteFactor(ctx, "bob", "f-a2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteFactor(bob, f-a2) error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteFactor(ctx, "alice", "f-a2"); err != nil {
		t.Fatalf("DeleteFactor(alice, f-a2): %v", err)
	}
	if err := s.DeleteFactor(ctx, "alice", "f-a2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteFactor error = %v, want ErrNotFound", err)
	}
	if _, err := s.FactorByCredentialID(ctx, a2.CredentialID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FactorByCredentialID(deleted) error = %v, want ErrNotFound", err)
	}
	diff(t, "ListFactors(alice) after delete", listFactors(t, s, "alice"), []store.Factor{a1, a3b})
	// Its credential id is free again.
	reuse := webauthnFactor("f-a4", "alice", at(2*time.Hour))
	reuse.CredentialID = a2.CredentialID
	putFactor(t, s, reuse)
}

func testFactorCredentialUnique(t *testing.T, s store.Store) {
	f1 := webauthnFactor("f-1", "alice", t0())
	putFactor(t, s, f1)
	dup := webauthnFactor("f-2", "bob", t0())
	dup.CredentialID = f1.CredentialID
	if err := s.PutFactor(t.Context(), dup); err == nil {
		t.Errorf("PutFactor(f-2 with f-1's credential id) succeeded, want an error")
	}
	if _, err := s.GetFactor(t.Context(), "f-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetFactor(f-2) error = %v, want ErrNotFound", err)
	}
	// Factors without a credential id do not collide.
	putFactor(t, s, factor("f-3", "alice", t0()))
	putFactor(t, s, factor("f-4", "alice", t0()))
	// Replacing f-1 keeping its credential id is fine.
	f1.Name = "renamed"
	putFactor(t, s, f1)
	diff(t, "GetFactor(f-1)", getFactor(t, s, "f-1"), f1)
}

func testFactorCountersNeverGoBack(t *testing.T, s store.Store) {
	f := webauthnFactor("f-1", "alice", t0())
	f.TOTPLastStep = 100
	f.SignCount = 50
	f.LastUsedAt = at(time.Hour)
	f.CloneWarning = true
	putFactor(t, s, f)

	// A copy read before a use is written back with older counters.
	stale := f
	stale.TOTPLastStep = 99
	stale.SignCount = 49
	stale.LastUsedAt = t0()
	stale.CloneWarning = false
	stale.Name = "renamed"
	putFactor(t, s, stale)

	want := f
	want.Name = "renamed"
	diff(t, "GetFactor after a stale write", getFactor(t, s, "f-1"), want)

	newer := want
	newer.TOTPLastStep = 101
	newer.SignCount = 51
	newer.LastUsedAt = at(2 * time.Hour)
	putFactor(t, s, newer)
	diff(t, "GetFactor after a newer write", getFactor(t, s, "f-1"), newer)
}

func testScanFactors(t *testing.T, s store.Store) {
	ids := []string{"f-05", "f-01", "f-04", "f-02", "f-03"}
	for i, id := range ids {
		putFactor(t, s, factor(id, fmt.Sprintf("user-%d", i%2), at(time.Duration(i))))
	}
	var got []string
	after := ""
	for range 10 {
		page, err := s.ScanFactors(t.Context(), after, 2)
		if err != nil {
			t.Fatalf("ScanFactors(%q, 2): %v", after, err)
		}
		if len(page) > 2 {
			t.Fatalf("ScanFactors returned %d factors, want at most 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, f := range page {
			got = append(got, f.ID)
		}
		after = page[len(page)-1].ID
	}
	diff(t, "ScanFactors ids", got, []string{"f-01", "f-02", "f-03", "f-04", "f-05"})
	all, err := s.ScanFactors(t.Context(), "", 0)
	if err != nil || len(all) != 5 {
		t.Errorf("ScanFactors(\"\", 0) = %d factors, %v; want all 5", len(all), err)
	}
}

// totpSteps are TOTP time steps used one after the other, and whether
// each is accepted.
var totpSteps = []struct {
	step int64
	want bool
}{
	{59000000, true},
	{59000000, false}, // the same code again: a replay
	{58999999, false}, // an older code
	{59000001, true},
	{59000003, true},
}

func testAdvanceTOTPStep(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := factor("f-1", "alice", t0())
	f.TOTPLastStep = 0
	f.LastUsedAt = time.Time{}
	putFactor(t, s, f)
	steps := totpSteps
	for _, st := range steps {
		got, err := s.AdvanceTOTPStep(ctx, "f-1", st.step, at(time.Duration(st.step-59000000)*time.Second))
		if err != nil {
			t.Fatalf("AdvanceTOTPStep(%d): %v", st.step, err)
		}
		if got != st.want {
			t.Errorf("AdvanceTOTPStep(%d) = %v, want %v", st.step, got, st.want)
		}
	}
	want := f
	want.TOTPLastStep = 59000003
	want.LastUsedAt = at(3 * time.Second)
	diff(t, "GetFactor", getFactor(t, s, "f-1"), want)
	if _, err := s.AdvanceTOTPStep(ctx, "f-none", 1, t0()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AdvanceTOTPStep(unknown) error = %v, want ErrNotFound", err)
	}
}

func testAdvanceSignCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	zero := webauthnFactor("f-zero", "alice", t0())
	zero.SignCount = 0
	putFactor(t, s, zero)
	// An authenticator without a counter always says 0.
	for i := range 2 {
		ok, err := s.AdvanceSignCount(ctx, "f-zero", 0, at(time.Duration(i+1)*time.Second))
		if err != nil || !ok {
			t.Fatalf("AdvanceSignCount(0 on 0) = %v, %v; want true", ok, err)
		}
	}
	if got := getFactor(t, s, "f-zero"); got.CloneWarning || !got.LastUsedAt.Equal(at(2*time.Second)) {
		t.Errorf("counterless factor: CloneWarning %v, LastUsedAt %v", got.CloneWarning, got.LastUsedAt)
	}

	f := webauthnFactor("f-1", "alice", t0())
	f.SignCount = 0
	putFactor(t, s, f)
	steps := []struct {
		count uint32
		want  bool
	}{
		{10, true},
		{10, false}, // stood still: a clone may exist
		{11, true},  // the warning stays
		{3, false},  // went backwards
		{0, false},
		{1<<32 - 1, true},
	}
	for _, st := range steps {
		got, err := s.AdvanceSignCount(ctx, "f-1", st.count, at(time.Hour))
		if err != nil {
			t.Fatalf("AdvanceSignCount(%d): %v", st.count, err)
		}
		if got != st.want {
			t.Errorf("AdvanceSignCount(%d) = %v, want %v", st.count, got, st.want)
		}
	}
	got := getFactor(t, s, "f-1")
	if got.SignCount != 1<<32-1 || !got.CloneWarning {
		t.Errorf("after the steps: SignCount %d, CloneWarning %v; want %d, true", got.SignCount, got.CloneWarning, uint32(1<<32-1))
	}
	if _, err := s.AdvanceSignCount(ctx, "f-none", 1, t0()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AdvanceSignCount(unknown) error = %v, want ErrNotFound", err)
	}
}

// testConcurrentAdvance checks that of many concurrent uses of one TOTP
// step or one recovery code exactly one succeeds.
func testConcurrentAdvance(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := factor("f-1", "alice", t0())
	f.TOTPLastStep = 0
	putFactor(t, s, f)
	if err := s.PutRecoveryCodes(ctx, "alice", []store.RecoveryCode{{Hash: []byte("h1"), CreatedAt: t0()}}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	got := accepted(t, n,
		func() (bool, error) { return s.AdvanceTOTPStep(ctx, "f-1", 7, at(time.Second)) },
		func() (bool, error) { return s.UseRecoveryCode(ctx, "alice", []byte("h1"), at(time.Second)) })
	if got[0] != 1 || got[1] != 1 {
		t.Errorf("%d concurrent uses: %d TOTP steps and %d recovery codes accepted, want 1 and 1", n, got[0], got[1])
	}
}

// accepted runs the conditional changes uses, one after the other, in
// each of n goroutines at once, and returns how many times each use was
// accepted (returned true). It reports any error.
func accepted(t *testing.T, n int, uses ...func() (bool, error)) []int32 {
	t.Helper()
	counts := make([]atomic.Int32, len(uses))
	var wg sync.WaitGroup
	errs := make(chan error, n*len(uses))
	for range n {
		wg.Go(func() {
			for i, use := range uses {
				ok, err := use()
				if err != nil {
					errs <- err
				}
				if ok {
					counts[i].Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	out := make([]int32, len(uses))
	for i := range counts {
		out[i] = counts[i].Load()
	}
	return out
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	codes := []store.RecoveryCode{
		{Hash: []byte("hash-3\x00"), CreatedAt: t0()},
		{Hash: []byte("hash-1"), CreatedAt: t0()},
		{Hash: []byte("hash-2"), CreatedAt: t0()},
	}
	if err := s.PutRecoveryCodes(ctx, "alice", codes); err != nil {
		t.Fatalf("PutRecoveryCodes: %v", err)
	}
	if err := s.PutRecoveryCodes(ctx, "bob", []store.RecoveryCode{{Hash: []byte("hash-1"), CreatedAt: t0()}}); err != nil {
		t.Fatalf("PutRecoveryCodes(bob): %v", err)
	}
	want := make([]store.RecoveryCode, len(codes))
	for i, c := range codes {
		c.UserID = "alice"
		want[i] = c
	}
	list := func(user string) []store.RecoveryCode {
		t.Helper()
		got, err := s.ListRecoveryCodes(ctx, user)
		if err != nil {
			t.Fatalf("ListRecoveryCodes(%q): %v", user, err)
		}
		return got
	}
	diff(t, "ListRecoveryCodes(alice)", list("alice"), want)

	use := func(user, hash string, wantOK bool) {
		t.Helper()
		ok, err := s.UseRecoveryCode(ctx, user, []byte(hash), at(time.Minute))
		if err != nil {
			t.Fatalf("UseRecoveryCode(%s, %s): %v", user, hash, err)
		}
		if ok != wantOK {
			t.Errorf("UseRecoveryCode(%s, %q) = %v, want %v", user, hash, ok, wantOK)
		}
	}
	use("alice", "hash-1", true)
	use("alice", "hash-1", false) // single use
	use("alice", "unknown", false)
	use("carol", "hash-2", false)
	use("bob", "hash-1", true) // bob's own code is untouched by alice's use
	want[1].UsedAt = at(time.Minute)
	diff(t, "ListRecoveryCodes(alice) after use", list("alice"), want)

	if _, err := s.UseRecoveryCode(ctx, "alice", []byte("hash-2"), time.Time{}); err == nil {
		t.Errorf("UseRecoveryCode at the zero time succeeded, want an error")
	}

	// A new set replaces the old one whole.
	fresh := []store.RecoveryCode{{UserID: "alice", Hash: []byte("new"), CreatedAt: at(time.Hour)}}
	if err := s.PutRecoveryCodes(ctx, "alice", fresh); err != nil {
		t.Fatal(err)
	}
	diff(t, "ListRecoveryCodes(alice) after replace", list("alice"), fresh)
	use("alice", "hash-2", false)
	if err := s.PutRecoveryCodes(ctx, "alice", nil); err != nil {
		t.Fatal(err)
	}
	diff(t, "ListRecoveryCodes(alice) after clearing", list("alice"), []store.RecoveryCode(nil))
	diff(t, "ListRecoveryCodes(bob)", len(list("bob")), 1)
}

func testEmailOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	o := store.EmailOTP{Key: "ch-1", UserID: "alice", Hash: []byte{1, 2, 0, 3}, SentAt: t0(),
		ExpiresAt: at(5 * time.Minute), Sends: 1, Attempts: 2}
	if err := s.PutEmailOTP(ctx, o); err != nil {
		t.Fatalf("PutEmailOTP: %v", err)
	}
	got, err := s.GetEmailOTP(ctx, "ch-1")
	if err != nil {
		t.Fatalf("GetEmailOTP: %v", err)
	}
	diff(t, "GetEmailOTP", got, o)
	o2 := o
	o2.Hash = []byte("other")
	o2.Sends = 2
	o2.Attempts = 0
	o2.SentAt = at(time.Minute)
	if err := s.PutEmailOTP(ctx, o2); err != nil {
		t.Fatalf("PutEmailOTP(replace): %v", err)
	}
	got, err = s.GetEmailOTP(ctx, "ch-1")
	if err != nil {
		t.Fatalf("GetEmailOTP: %v", err)
	}
	diff(t, "GetEmailOTP after replace", got, o2)
}

func testWebAuthnSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws := store.WebAuthnSession{Key: "assert:ch-1", UserID: "alice", Data: []byte(`{"challenge":"x"}`), ExpiresAt: at(time.Minute)}
	if err := s.PutWebAuthnSession(ctx, ws); err != nil {
		t.Fatalf("PutWebAuthnSession: %v", err)
	}
	ws2 := ws
	ws2.Data = []byte(`{"challenge":"y"}`)
	if err := s.PutWebAuthnSession(ctx, ws2); err != nil {
		t.Fatalf("PutWebAuthnSession(replace): %v", err)
	}
	other := store.WebAuthnSession{Key: "register:alice", UserID: "alice", Data: []byte("r")}
	if err := s.PutWebAuthnSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeWebAuthnSession(ctx, "assert:ch-1")
	if err != nil {
		t.Fatalf("TakeWebAuthnSession: %v", err)
	}
	diff(t, "TakeWebAuthnSession", got, ws2)
	if _, err := s.TakeWebAuthnSession(ctx, "assert:ch-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second TakeWebAuthnSession error = %v, want ErrNotFound (single use)", err)
	}
	got, err = s.TakeWebAuthnSession(ctx, "register:alice")
	if err != nil {
		t.Fatalf("TakeWebAuthnSession(register): %v", err)
	}
	diff(t, "TakeWebAuthnSession(register)", got, other)
}

func testFactorNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	putFactor(t, s, webauthnFactor("f-1", "alice", t0()))
	if err := s.PutEmailOTP(ctx, store.EmailOTP{Key: "ch-1", Hash: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		lookup func() error
	}{
		{"GetFactor", func() error { _, err := s.GetFactor(ctx, "f-2"); return err }},
		{"FactorByCredentialID", func() error { _, err := s.FactorByCredentialID(ctx, []byte("nope")); return err }},
		{"FactorByCredentialID nil", func() error { _, err := s.FactorByCredentialID(ctx, nil); return err }},
		{"DeleteFactor", func() error { return s.DeleteFactor(ctx, "alice", "f-2") }},
		{"GetEmailOTP", func() error { _, err := s.GetEmailOTP(ctx, "ch-2"); return err }},
		{"TakeWebAuthnSession", func() error { _, err := s.TakeWebAuthnSession(ctx, "assert:ch-1"); return err }},
	}
	for _, tt := range tests {
		if err := tt.lookup(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s error = %v, want ErrNotFound", tt.name, err)
		}
	}
	// A factor without a credential id is not found by an empty one.
	putFactor(t, s, factor("f-3", "alice", t0()))
	if _, err := s.FactorByCredentialID(ctx, []byte{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FactorByCredentialID(empty) error = %v, want ErrNotFound", err)
	}
}

// testFactorCopies checks that the store shares no memory with callers.
func testFactorCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := webauthnFactor("f-1", "alice", t0())
	putFactor(t, s, f)
	f.Secret[0], f.CredentialID[0], f.PublicKey[0] = 'x', 'x', 'x'
	got := getFactor(t, s, "f-1")
	diff(t, "GetFactor after scribbling on the input", got, webauthnFactor("f-1", "alice", t0()))
	got.Secret[0], got.CredentialID[0], got.PublicKey[0] = 'y', 'y', 'y'
	lst := listFactors(t, s, "alice")
	lst[0].Secret[1] = 'y'
	diff(t, "GetFactor after scribbling on the output", getFactor(t, s, "f-1"), webauthnFactor("f-1", "alice", t0()))

	codes := []store.RecoveryCode{{Hash: []byte("abc"), CreatedAt: t0()}}
	if err := s.PutRecoveryCodes(ctx, "alice", codes); err != nil {
		t.Fatal(err)
	}
	codes[0].Hash[0] = 'x'
	out, _ := s.ListRecoveryCodes(ctx, "alice")
	if len(out) != 1 || string(out[0].Hash) != "abc" {
		t.Fatalf("ListRecoveryCodes = %+v, want the hash abc", out)
	}
	out[0].Hash[0] = 'y'
	out, _ = s.ListRecoveryCodes(ctx, "alice")
	if string(out[0].Hash) != "abc" {
		t.Errorf("stored hash changed through a returned slice: %q", out[0].Hash)
	}

	o := store.EmailOTP{Key: "k", Hash: []byte("h")}
	if err := s.PutEmailOTP(ctx, o); err != nil {
		t.Fatal(err)
	}
	o.Hash[0] = 'x'
	gotO, _ := s.GetEmailOTP(ctx, "k")
	if string(gotO.Hash) != "h" {
		t.Errorf("stored email code hash changed through the input: %q", gotO.Hash)
	}
	gotO.Hash[0] = 'y'
	gotO, _ = s.GetEmailOTP(ctx, "k")
	if string(gotO.Hash) != "h" {
		t.Errorf("stored email code hash changed through an output: %q", gotO.Hash)
	}
}
