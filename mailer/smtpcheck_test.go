package mailer

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/deadport"

	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

// Check goes through the session as Send does, up to the mail: with the right
// credentials it passes, with wrong ones the server's refusal is the error, and it never
// leaves a message or a recipient on the server.
func TestSMTPCheckAuthenticates(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{Username: "user", Password: "secret"})
	cfg := sinkConfig(sink, TLSNone)
	cfg.Username, cfg.Password = "user", "secret"
	if err := newSender(t, cfg).Check(t.Context()); err != nil {
		t.Fatalf("Check with the right credentials: %v", err)
	}
	cfg.Password = "wrong"
	err := newSender(t, cfg).Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "535") || !strings.Contains(err.Error(), sink.Addr()) {
		t.Errorf("Check with a wrong password: %v, want the server's 535 and its address", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
	if n := sink.Pending(); n != 0 {
		t.Errorf("Check left %d messages on the server", n)
	}
}

// Check speaks the configured TLS: STARTTLS and implicit TLS with the certificate
// verified (a self-signed one is refused unless told otherwise), and a server that does
// not offer the STARTTLS the configuration requires fails the check.
func TestSMTPCheckTLS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sink   smtpsink.TLSMode
		mode   string
		verify bool
		want   string // "" for a check that passes, else in the error
	}{
		{"starttls", smtpsink.TLSStartTLS, TLSStartTLS, false, ""},
		{"starttls verified", smtpsink.TLSStartTLS, TLSStartTLS, true, "certificate"},
		{"implicit", smtpsink.TLSImplicit, TLSImplicit, false, ""},
		{"implicit verified", smtpsink.TLSImplicit, TLSImplicit, true, "certificate"},
		{"starttls not offered", smtpsink.TLSNone, TLSStartTLS, false, "STARTTLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := smtpsink.New(t, smtpsink.Options{TLS: tc.sink, Username: "user", Password: "secret"})
			cfg := sinkConfig(sink, tc.mode)
			cfg.Username, cfg.Password = "user", "secret"
			cfg.InsecureSkipVerify = !tc.verify
			err := newSender(t, cfg).Check(t.Context())
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Check: %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// Nothing listening: the dial error, with the address tried.
func TestSMTPCheckRefused(t *testing.T) {
	_, p, err := net.SplitHostPort(deadport.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(t, SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "a@example.com", Timeout: 10 * time.Second})
	err = s.Check(t.Context())
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("Check on a closed port: %v, want connection refused naming the address", err)
	}
}

// A server that accepts and never says a word: cancelling the context ends the check at
// once, whatever the SMTP timeout.
func TestSMTPCheckCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	s := newSender(t, SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSNone, From: "a@example.com", Timeout: time.Minute})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Check(ctx) }()
	select {
	case c := <-accepted:
		defer c.Close()
	case err := <-errc:
		t.Fatalf("Check returned before the server accepted: %v", err)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Check = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // the SMTP timeout is a minute: this proves cancellation
		t.Fatal("Check did not return after its context was cancelled")
	}
}
