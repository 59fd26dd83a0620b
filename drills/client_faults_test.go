//go:build linux

package drills

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/proc"
)

// Slow and hostile clients against the real binary, over raw TCP where a well-behaved
// client library would hide what the drill needs to do: dribble a request a byte at a
// time, hold thousands of connections, push a body far over the limit.

// faultsConnBound is the deadline a drill puts on each of its raw connections, so that a
// server that never closes one fails the drill instead of hanging it.
const faultsConnBound = 60 * time.Second

// faultsHost is the host:port of p's URL.
func faultsHost(t testing.TB, p *proc.Process) string {
	t.Helper()
	u, err := url.Parse(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// faultsDial opens a raw connection to addr, closed when the test ends.
func faultsDial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(faultsConnBound)); err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// faultsServed checks that a well-behaved client gets /healthz and a GraphQL answer
// (anonymousToken, which goes through the store's rate-limit counter) on connections of
// its own.
func faultsServed(t testing.TB, base string) {
	t.Helper()
	api := newFaultsAPI(t, base)
	api.wantStatus(t, "/healthz", http.StatusOK)
	r, err := api.gql(t.Context(), "", `mutation { anonymousToken { token } }`, nil)
	if err != nil || !r.ok() {
		t.Errorf("anonymousToken: %+v, %v", r, err)
	}
}

// faultsCutAfter is how long past --read-timeout a drill waits for the server to close a
// slow connection before it fails: generous, because it bounds the wait and measures
// nothing.
const faultsCutAfter = 20 * time.Second

// faultsSlow dribbles a request on its own connection, one byte per tick, until the server
// closes the connection; closed is closed then, and answer holds what the server sent.
type faultsSlow struct {
	conn   *net.TCPConn
	closed chan struct{}
	sent   atomic.Int64
	answer bytes.Buffer // read only after closed
}

// startFaultsSlow sends head at once, then dribble one byte every tick (forever, repeating the
// last byte once dribble is exhausted), until the server closes the connection.
func startFaultsSlow(t *testing.T, addr, head, dribble string, tick time.Duration) *faultsSlow {
	t.Helper()
	s := &faultsSlow{conn: faultsDial(t, addr), closed: make(chan struct{})}
	if _, err := io.WriteString(s.conn, head); err != nil {
		t.Fatalf("send the start of the request: %v", err)
	}
	s.sent.Add(int64(len(head)))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(s.closed)
		_, _ = io.Copy(&s.answer, s.conn) // until EOF, a reset, or faultsConnBound
	})
	wg.Go(func() {
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-s.closed:
				return
			case <-tk.C:
			}
			b := dribble[min(i, len(dribble)-1)]
			if _, err := s.conn.Write([]byte{b}); err != nil {
				return
			}
			s.sent.Add(1)
		}
	})
	t.Cleanup(func() { close(stop); s.conn.Close(); wg.Wait() })
	return s
}

// TestClientSlowloris: clients that send their headers, or a declared body, one byte
// every 500 ms are cut off by --read-timeout (2 s here; it bounds the headers and the
// body together), and while they hang on, other clients are served. A cut-off header gets
// no answer (the server just closes); a cut-off body gets the 400 "could not be read".
func TestClientSlowloris(t *testing.T) {
	const readTimeout = 2 * time.Second
	p := proc.Start(t, toktokBin, proc.Options{Args: faultsArgs(t.TempDir(),
		"--read-timeout="+readTimeout.String())})
	addr := faultsHost(t, p)
	const tick = 500 * time.Millisecond

	for _, tc := range []struct {
		name, head, dribble string
		wantStatus          string // of the answer, "" for none
	}{
		{
			name:    "headers",
			head:    "POST /graphql HTTP/1.1\r\nHost: drill\r\nContent-Type: application/json\r\nX-Slow: ",
			dribble: strings.Repeat("a", 100),
		},
		{
			name: "body",
			head: "POST /graphql HTTP/1.1\r\nHost: drill\r\nContent-Type: application/json\r\n" +
				"Content-Length: 60000\r\n\r\n",
			dribble:    `{"query":"` + strings.Repeat(" ", 100),
			wantStatus: "HTTP/1.1 400 ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20
			var slow []*faultsSlow
			for range n {
				slow = append(slow, startFaultsSlow(t, addr, tc.head, tc.dribble, tick))
			}
			faultsServed(t, p.URL())
			open := 0
			for _, s := range slow {
				select {
				case <-s.closed:
				default:
					open++
				}
			}
			if open == 0 {
				t.Error("every slow connection was already closed when the other client was answered: nothing shows it was served meanwhile")
			}
			deadline := time.After(readTimeout + faultsCutAfter)
			for i, s := range slow {
				select {
				case <-s.closed:
				case <-deadline:
					t.Fatalf("slow connection %d still open %s after --read-timeout (%d bytes sent)", i, faultsCutAfter, s.sent.Load())
				}
				got := s.answer.String()
				if tc.wantStatus == "" && got != "" {
					t.Errorf("connection %d: the server answered %q; want a plain close", i, got)
				}
				if tc.wantStatus != "" && !strings.HasPrefix(got, tc.wantStatus) {
					t.Errorf("connection %d: the server answered %q; want %q", i, got, tc.wantStatus)
				}
			}
			t.Logf("%d slow clients cut off, each after about %d bytes; %d were still open when the other client was served",
				n, slow[0].sent.Load(), open)
			// And the server still serves once they are gone.
			faultsServed(t, p.URL())
		})
	}
}

// faultsNofile makes sure this process may open need files, raising its soft
// RLIMIT_NOFILE to the hard one if need be (the toktok it starts inherits the raised
// limit, and raises its own to its hard limit anyway). A hard limit too low fails the
// test: the drill cannot show anything under it.
func faultsNofile(t testing.TB, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= need {
		return
	}
	if lim.Max < need {
		t.Fatalf("RLIMIT_NOFILE hard limit %d < %d: raise it (ulimit -Hn) to run this drill", lim.Max, need)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raise RLIMIT_NOFILE to %d: %v", lim.Max, err)
	}
}

// faultsProcNofile is the soft open-file limit of process pid, from /proc.
func faultsProcNofile(t testing.TB, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if f[0] == "unlimited" {
					return ^uint64(0)
				}
				n, err := strconv.ParseUint(f[0], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
	}
	t.Fatalf("no open-file limit in /proc/%d/limits", pid)
	return 0
}

// faultsOpenFiles counts the open descriptors of process pid.
func faultsOpenFiles(t testing.TB, pid int) int {
	t.Helper()
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// faultsKept is a connection that has had one request answered and stays open.
type faultsKept struct {
	conn *net.TCPConn
	r    *bufio.Reader
}

// healthz sends GET /healthz on the connection, keeping it alive, and reads the answer.
func (k *faultsKept) healthz() error {
	if _, err := io.WriteString(k.conn, "GET /healthz HTTP/1.1\r\nHost: drill\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		return fmt.Errorf("HTTP %d, close %v", resp.StatusCode, resp.Close)
	}
	return nil
}

// faultsOpenConns opens n connections to addr, at most 64 dialling at once; with request set,
// each has one GET /healthz answered on it first.
func faultsOpenConns(t *testing.T, addr string, n int, request bool) []*faultsKept {
	t.Helper()
	conns := make([]*faultsKept, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			k := &faultsKept{conn: c.(*net.TCPConn), r: bufio.NewReader(c)}
			conns[i] = k
			if err := c.SetDeadline(time.Now().Add(faultsConnBound)); err != nil {
				errs <- err
				return
			}
			if request {
				if err := k.healthz(); err != nil {
					errs <- fmt.Errorf("connection %d, first request: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, k := range conns {
			if k != nil {
				k.conn.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return conns
}

// TestClientIdleKeepAlive: 2 000 keep-alive connections that had one request answered
// and then idle do not stop the service to others (new clients get /healthz, a token, a
// registration and me), and with the default --idle-timeout (2 min) the server keeps
// every one of them, usable for a second request. With a short --idle-timeout the server
// closes them once idle that long; connections that never send a byte are closed by
// --read-timeout.
func TestClientIdleKeepAlive(t *testing.T) {
	const n = 2000
	// Both ends of each connection live on this machine, in two processes: each needs n
	// descriptors and its own few dozen.
	faultsNofile(t, n+512)
	bin := toktokBin

	t.Run("held", func(t *testing.T) {
		p := proc.Start(t, bin, proc.Options{Args: faultsArgs(t.TempDir())})
		if lim := faultsProcNofile(t, p.PID()); lim < n+512 {
			t.Fatalf("toktok may open %d files; the drill needs %d", lim, n+512)
		}
		conns := faultsOpenConns(t, faultsHost(t, p), n, true)
		t.Logf("%d idle keep-alive connections open; toktok holds %d descriptors", n, faultsOpenFiles(t, p.PID()))

		faultsServed(t, p.URL())
		api := newFaultsAPI(t, p.URL())
		r, err := api.register(t.Context(), "busy@example.com")
		tok := api.must(t, "register while 2000 connections idle", "register", r, err)
		r, err = api.me(t.Context(), tok.Access)
		api.must(t, "me while 2000 connections idle", "", r, err)

		// Each idle connection is still there, and serves a second request.
		var failed atomic.Int64
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i, k := range conns {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				if err := k.healthz(); err != nil {
					if failed.Add(1) <= 5 {
						t.Errorf("idle connection %d, second request: %v", i, err)
					}
				}
			})
		}
		wg.Wait()
		if f := failed.Load(); f > 0 {
			t.Errorf("%d of %d idle connections were dropped", f, n)
		}
	})

	t.Run("closed by the timeouts", func(t *testing.T) {
		const idle, read = 1 * time.Second, 2 * time.Second
		p := proc.Start(t, bin, proc.Options{Args: faultsArgs(t.TempDir(),
			"--idle-timeout="+idle.String(), "--read-timeout="+read.String())})
		addr := faultsHost(t, p)
		kept := faultsOpenConns(t, addr, n/2, true)
		silent := faultsOpenConns(t, addr, n/2, false)
		faultsServed(t, p.URL())
		// Each read ends when the server closes the connection: EOF, nothing sent.
		var wg sync.WaitGroup
		var open atomic.Int64
		for i, k := range append(kept, silent...) {
			wg.Go(func() {
				if err := k.conn.SetReadDeadline(time.Now().Add(read + faultsCutAfter)); err != nil {
					t.Error(err)
					return
				}
				b, err := k.r.ReadByte()
				switch {
				case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
				case err == nil:
					t.Errorf("connection %d: the server sent %q unasked", i, b)
				default:
					if open.Add(1) <= 5 {
						t.Errorf("connection %d not closed by the server: %v", i, err)
					}
				}
			})
		}
		wg.Wait()
		if o := open.Load(); o > 0 {
			t.Errorf("%d of %d idle connections were not closed", o, n)
		}
		faultsServed(t, p.URL())
	})
}

// faultsRchar is the number of bytes process pid has read by read(2) and its relatives,
// sockets included, from /proc/PID/io: what the server took off the connection, seen
// from the server's side.
func faultsRchar(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/io (needs task I/O accounting): %v", pid, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no rchar in /proc/%d/io", pid)
	return 0
}

// TestClientHugeBody sends a 10 MiB body to /graphql, with a Content-Length and chunked:
// the server answers 413 with a coded GraphQL error once it has read the 64 KiB the limit
// allows, and closes the connection, having read nothing more (Content-Length) or at most
// net/http's 256 KiB post-handler drain more (chunked). Two measures of "not much more": the
// bytes the server process read (its rchar, which counts socket reads), and, looser, the
// bytes the client managed to write before its writes failed, which also include what the
// kernel buffered on both sides (socket buffers on loopback grow to megabytes), hence
// "far below 10 MiB".
func TestClientHugeBody(t *testing.T) {
	const (
		size  = 10 << 20
		limit = 64 << 10
	)
	// Background work that reads files (the outbox poll, the purge) would blur rchar.
	p := proc.Start(t, toktokBin, proc.Options{Args: faultsArgs(t.TempDir(),
		"--mail-poll-interval=1h", "--purge-interval=1h")})
	addr := faultsHost(t, p)
	chunk := bytes.Repeat([]byte("x"), 16<<10)

	// After a handler, net/http discards up to 256 KiB (its maxPostHandlerReadBytes) of an
	// unread body of unknown length, hoping to reuse the connection, even when the body
	// limit was hit; with a declared length over that it closes at once.
	const postHandlerDrain = 256 << 10
	for _, tc := range []struct {
		name    string
		header  string
		chunked bool
		drain   int64 // read after the answer
	}{
		{"content-length", "Content-Length: " + strconv.Itoa(size) + "\r\n", false, 0},
		{"chunked", "Transfer-Encoding: chunked\r\n", true, postHandlerDrain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := faultsDial(t, addr)
			// A small send buffer keeps the client's own share of the slack small.
			if err := conn.SetWriteBuffer(16 << 10); err != nil {
				t.Fatal(err)
			}
			before := faultsRchar(t, p.PID())
			head := "POST /graphql HTTP/1.1\r\nHost: drill\r\nContent-Type: application/json\r\n" + tc.header + "\r\n"
			var written atomic.Int64
			writeErr := make(chan error, 1)
			frame := func(b []byte) []byte {
				if !tc.chunked {
					return b
				}
				return fmt.Appendf(nil, "%x\r\n%s\r\n", len(b), b)
			}
			go func() {
				if _, err := conn.Write(append([]byte(head), frame([]byte(`{"query":"`))...)); err != nil {
					writeErr <- err
					return
				}
				for written.Load() < size {
					if _, err := conn.Write(frame(chunk)); err != nil {
						writeErr <- err
						return
					}
					written.Add(int64(len(chunk)))
				}
				if tc.chunked {
					_, _ = io.WriteString(conn, "0\r\n\r\n")
				}
				writeErr <- nil
			}()

			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer (%d body bytes written): %v", written.Load(), err)
			}
			atAnswer := written.Load()
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("read the answer: %v", err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("HTTP %d %s; want 413", resp.StatusCode, raw)
			}
			var body struct {
				Errors []struct {
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(raw, &body); err != nil || len(body.Errors) != 1 ||
				body.Errors[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("answer %s; want one GRAPHQL_VALIDATION_FAILED error", raw)
			}
			if !resp.Close {
				t.Error("the answer keeps the connection alive; the rest of the body would have to be read")
			}
			// The server closes: the client's writes fail long before 10 MiB.
			var werr error
			select {
			case werr = <-writeErr:
			case <-time.After(faultsCutAfter):
				t.Fatalf("the client was still writing %s after the answer (%d bytes)", faultsCutAfter, written.Load())
			}
			total := written.Load()
			read := faultsRchar(t, p.PID()) - before
			t.Logf("server read %d bytes (rchar); client had written %d body bytes at the answer, %d in all (%v)",
				read, atAnswer, total, werr)
			if werr == nil {
				t.Errorf("the client wrote the whole %d bytes: the server kept reading", size)
			}
			// 64 KiB of body, the headers, the read-ahead of the server's buffered reader
			// (4 KiB at a time) and of the body limit (one byte past it), chunk framing,
			// and the drain.
			if read > limit+tc.drain+32<<10 {
				t.Errorf("the server read %d bytes; want about %d", read, limit+tc.drain)
			}
			if total >= 2<<20 {
				t.Errorf("the client could write %d bytes before the server closed; want far below %d", total, size)
			}
		})
	}
	faultsServed(t, p.URL())
}
