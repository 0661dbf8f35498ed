package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTracker(t *testing.T) {
	tr := New(64)
	at := time.Date(2026, 11, 21, 4, 0, 0, 0, time.UTC)
	tr.Login("s-1", State{UserID: "u-1", LoginAt: at, LoginDecision: "challenge", LoginRisk: 80, Unfamiliar: true, Challenged: true})
	tr.Weak("s-1")
	tr.Pass("s-1")
	tr.Pass("s-unknown")
	tr.Login("", State{UserID: "ignored"})
	got, ok := tr.Get("s-1")
	want := State{UserID: "u-1", LoginAt: at, LoginDecision: "challenge", LoginRisk: 80, Unfamiliar: true, Challenged: true, ChallengePassed: true, WeakFactor: true}
	if !ok {
		t.Fatal("session lost")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if _, ok := tr.Get("s-unknown"); ok {
		t.Error("Pass created a session")
	}
	for i := 0; i < 10000; i++ {
		tr.Login(fmt.Sprint("s-", i+2), State{})
	}
	if _, ok := tr.Get("s-1"); ok {
		t.Error("old session not evicted: memory unbounded")
	}
}
