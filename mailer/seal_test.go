package mailer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/toktok/toktok/store"
)

func TestSealer(t *testing.T) {
	s, err := NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	m := store.Mail{ID: "M1", Text: "reset: https://x/#token=SECRET", HTML: `<a href="https://x/#token=SECRET">reset</a>`}
	sealed := s.Seal(m)
	for _, b := range []string{sealed.Text, sealed.HTML} {
		if !strings.HasPrefix(b, sealedPrefix) || strings.Contains(b, "SECRET") {
			t.Fatalf("not sealed: %q", b)
		}
	}
	if s.Seal(m).Text == sealed.Text {
		t.Fatal("two seals of one body are equal: the nonce is not random")
	}
	opened, err := s.Open(sealed)
	if err != nil || opened.Text != m.Text || opened.HTML != m.HTML {
		t.Fatalf("Open = %+v, %v", opened, err)
	}
	// A plain body (queued before sealing existed) passes through.
	if got, err := s.Open(m); err != nil || got.Text != m.Text {
		t.Fatalf("plain body: %+v, %v", got, err)
	}
	// Bound to the mail's id, the key, and intact bytes.
	moved := sealed
	moved.ID = "M2"
	other, err := NewSealer(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tampered := sealed
	tampered.Text = tampered.Text[:len(tampered.Text)-2] + "AA"
	for name, c := range map[string]struct {
		s *Sealer
		m store.Mail
	}{"moved": {s, moved}, "other key": {other, sealed}, "tampered": {s, tampered}} {
		if _, err := c.s.Open(c.m); !errors.Is(err, ErrUnsealable) {
			t.Errorf("%s: %v, want ErrUnsealable", name, err)
		}
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Error("a short secret was accepted")
	}
}
