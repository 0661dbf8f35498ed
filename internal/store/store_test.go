package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestBatchLenCountsEveryField guards against a new kind of record that
// Len (and so Empty and the group committer) would silently drop.
func TestBatchLenCountsEveryField(t *testing.T) {
	typ := reflect.TypeOf(Batch{})
	for i := 0; i < typ.NumField(); i++ {
		if name := typ.Field(i).Name; name == "IDs" || name == "AppliedAt" {
			continue // what names the batch, not a record (TestBatchIDsAppend)
		}
		var b Batch
		f := reflect.ValueOf(&b).Elem().Field(i)
		if f.Kind() != reflect.Slice {
			t.Fatalf("Batch.%s is not a slice", typ.Field(i).Name)
		}
		f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		if b.Len() != 1 || b.Empty() {
			t.Errorf("Batch with one %s: Len() = %d, Empty() = %v", typ.Field(i).Name, b.Len(), b.Empty())
		}
		var all Batch
		all.Append(b)
		if all.Len() != 1 {
			t.Errorf("Append drops Batch.%s", typ.Field(i).Name)
		}
	}
}

// TestBatchIDsAppend: a merged batch carries the ids of every batch in it.
func TestBatchIDsAppend(t *testing.T) {
	var all Batch
	all.Append(Batch{IDs: []string{"b1"}})
	all.Append(Batch{IDs: []string{"b2", "b3"}})
	if diff := cmp.Diff([]string{"b1", "b2", "b3"}, all.IDs); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestLiftLegacyContacts(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 5, time.UTC)
	legacy := func(user, data string) Profile {
		return Profile{Account: LegacyContactsPrefix + user, Data: []byte(data), UpdatedAt: at}
	}
	familiar := Profile{Account: "alice", Data: []byte("p"), UpdatedAt: at}
	own := Contacts{UserID: "bob", Email: "bob@example.com", UpdatedAt: at}
	tests := []struct {
		name    string
		in      Batch
		want    Batch
		wantErr bool
	}{
		{"none", Batch{Profiles: []Profile{familiar}, Contacts: []Contacts{own}},
			Batch{Profiles: []Profile{familiar}, Contacts: []Contacts{own}}, false},
		{"lifted after the batch's own, in order",
			Batch{Profiles: []Profile{legacy("alice", `{"email":"a@example.com","changes":[{"from":"x@example.com","at":"2026-11-25T10:00:00.000000005Z"}]}`),
				familiar, legacy("carol", `{}`)}, Contacts: []Contacts{own}},
			Batch{Profiles: []Profile{familiar}, Contacts: []Contacts{own,
				{UserID: "alice", Email: "a@example.com", Changes: []ContactChange{{From: "x@example.com", At: at}}, UpdatedAt: at},
				{UserID: "carol", UpdatedAt: at}}}, false},
		{"not JSON", Batch{Profiles: []Profile{legacy("alice", `{`)}}, Batch{}, true},
	}
	for _, tt := range tests {
		in := Batch{Profiles: append([]Profile(nil), tt.in.Profiles...), Contacts: append([]Contacts(nil), tt.in.Contacts...)}
		got, err := LiftLegacyContacts(in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
		if d := cmp.Diff(tt.in, in, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s: the batch given changed (-want +got):\n%s", tt.name, d)
		}
	}
}

// contactsOf is a ContactStore of one history.
type contactsOf Contacts

func (c contactsOf) GetContacts(_ context.Context, userID string) (Contacts, error) {
	if userID != c.UserID {
		return Contacts{}, ErrNotFound
	}
	return Contacts(c), nil
}

func TestContactsAsProfile(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 5, time.UTC)
	cs := contactsOf{UserID: "alice", Email: "a@example.com", Changes: []ContactChange{{From: "x@example.com", At: at}}, UpdatedAt: at}
	tests := []struct {
		account string
		wantOK  bool
		wantErr error
	}{
		{"alice", false, nil},
		{"contacts", false, nil},
		{LegacyContactsPrefix + "alice", true, nil},
		{LegacyContactsPrefix + "bob", true, ErrNotFound},
	}
	for _, tt := range tests {
		p, ok, err := ContactsAsProfile(t.Context(), cs, tt.account)
		if ok != tt.wantOK || !errors.Is(err, tt.wantErr) {
			t.Errorf("ContactsAsProfile(%q) = %v, %v; want %v, %v", tt.account, ok, err, tt.wantOK, tt.wantErr)
			continue
		}
		if !ok || err != nil {
			continue
		}
		// What it answers decodes back to the history.
		got, isLegacy, err := LegacyContacts(p)
		if err != nil || !isLegacy {
			t.Fatalf("LegacyContacts(%q) = %v, %v", p.Account, isLegacy, err)
		}
		if d := cmp.Diff(Contacts(cs), got); d != "" {
			t.Errorf("ContactsAsProfile(%q) round trip (-want +got):\n%s", tt.account, d)
		}
	}
}
