// Package deadport gives tests a loopback TCP address that refuses every connection for as
// long as the test runs: a server that is down.
//
// Listening on a port and closing it leaves the port free, and on a busy machine another
// process may listen on it before the test dials, so the test would meet a live server.
// Here the port stays bound by a socket that never listens: nobody else can listen on it,
// and the kernel answers every connection attempt with a reset (ECONNREFUSED).
package deadport

import "testing"

// Addr returns "127.0.0.1:PORT" refusing connections until t ends.
func Addr(t testing.TB) string {
	t.Helper()
	addr, closeFn, err := bind()
	if err != nil {
		t.Fatalf("deadport: %v", err)
	}
	t.Cleanup(closeFn)
	return addr
}
