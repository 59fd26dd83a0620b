package deadport

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestRefusesAndStaysTaken: a connection is refused, and nobody can listen on the port
// while the test runs.
func TestRefusesAndStaysTaken(t *testing.T) {
	addr := Addr(t)
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("dial %s: connected, want refused", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want ECONNREFUSED", addr, err)
		}
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Errorf("listen on %s succeeded while it is held", addr)
	}
}
