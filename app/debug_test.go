package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
)

// TestDebugAddrServesProfiles: --debug-addr opens a second listener with Go's profiles
// (the soak script reads the goroutine count there); the service's own address never
// serves them, and without the setting nothing listens.
func TestDebugAddrServesProfiles(t *testing.T) {
	for _, on := range []bool{true, false} {
		debugAddr := freeLoopbackAddr(t)
		args := []string{"--data-dir=" + t.TempDir(), "--argon2-memory=64", "--argon2-time=1"}
		if on {
			args = append(args, "--debug-addr="+debugAddr)
		}
		addr, stop := serveWith(t, args)
		get := getBody
		if code, _, err := get("http://" + addr + "/debug/pprof/goroutine?debug=1"); err != nil || code != http.StatusNotFound {
			t.Errorf("on=%v: the service's address answered profiles: HTTP %d, %v", on, code, err)
		}
		code, body, err := waitFor(get, "http://"+debugAddr+"/debug/pprof/goroutine?debug=1", on)
		switch {
		case on && (err != nil || code != http.StatusOK || !strings.HasPrefix(body, "goroutine profile: total ")):
			t.Errorf("--debug-addr=%s: HTTP %d, %v: %.60q", debugAddr, code, err, body)
		case !on && err == nil:
			t.Errorf("no --debug-addr, yet %s answered HTTP %d", debugAddr, code)
		}
		stop()
		if on {
			if _, _, err := get("http://" + debugAddr + "/debug/pprof/"); err == nil {
				t.Errorf("profiles still served after shutdown")
			}
		}
	}
}

// waitFor calls get until the listener answers (Serve starts it on its own goroutine),
// or, when it should not exist, once.
func waitFor(get func(string) (int, string, error), url string, listening bool) (int, string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, err := get(url)
		if err == nil || !listening || time.Now().After(deadline) {
			return code, body, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// getBody GETs url: the status code and body.
func getBody(url string) (int, string, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// serveWith builds an app from the command line args and serves it on a free loopback
// address until stop, which shuts it down and closes it, failing t on an error.
func serveWith(t *testing.T, args []string) (addr string, stop func()) {
	t.Helper()
	cfg, err := config.Load(args, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	a, err := New(ctx, cfg, Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	return ln.Addr().String(), func() {
		cancel()
		if err := <-served; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// freeLoopbackAddr is a loopback address with a port free at the time of the call.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
