package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedFileIsCurrent: store/observed/observed_gen.go is what the generator makes
// of today's store.Store, so the decorator has every method (CI also regenerates and
// diffs everything go generate writes).
func TestGeneratedFileIsCurrent(t *testing.T) {
	got, err := generate("../../../store")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../../store/observed/observed_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("store/observed/observed_gen.go is stale: run go generate ./store/observed")
	}
	if !bytes.Contains(got, []byte("func (o *Store) AdvanceSession(")) || !bytes.Contains(got, []byte("func (o sessionUser) AdvanceSessionWithUser(")) {
		t.Errorf("generated code lacks a method of Store or SessionUserStore")
	}
}
