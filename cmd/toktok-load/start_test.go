package main

import (
	"bytes"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/toktok/toktok/token"
)

// TestStart runs a real server (cmd/toktok-floor, which answers GET /readyz with 200)
// through -op start: the report gives the time to ready, and the server is stopped after.
// A command that exits before it is ready fails the run.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "toktok-floor")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/toktok/toktok/cmd/toktok-floor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build toktok-floor: %v\n%s", err, out)
	}
	keyFile := filepath.Join(dir, "jwt-es256.pem")
	if _, _, err := token.LoadOrGenerateKey(token.ES256, keyFile); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)

	o := testOptions("http://"+addr, "start")
	o.command = []string{bin, "-key", keyFile, "-issuer", testIssuer, "-addr", addr}
	out, res := mustRun(t, o)
	if ms, err := strconv.ParseFloat(res["start_ms"], 64); err != nil || ms <= 0 {
		t.Errorf("start_ms=%q in\n%s", res["start_ms"], out)
	}
	if res["op"] != "start" || res["target"] != addr {
		t.Errorf("result %v", res)
	}
	// Stopped: the port is free again.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("the server still holds %s after the run: %v", addr, err)
	} else {
		ln.Close()
	}

	o.command = []string{bin, "-issuer", testIssuer} // no -key: it exits at once
	var buf bytes.Buffer
	code, err := run(t.Context(), o, &buf)
	if code != 1 || err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Errorf("a server that exits: code %d, err %v", code, err)
	}
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
