package store

import (
	"reflect"
	"testing"
)

// TestBatchLenCountsEveryField guards against a new kind of record that
// Len (and so Empty and the group committer) would silently drop.
func TestBatchLenCountsEveryField(t *testing.T) {
	typ := reflect.TypeOf(Batch{})
	for i := 0; i < typ.NumField(); i++ {
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
