package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/toktok/toktok/internal/procstat"
)

// -op idle: what idle keep-alive connections cost the server (see the package comment).

// idleDialers is how many connections are being opened at once.
const idleDialers = 64

// runIdle opens the connections, holds them, counts those still open and reports.
func runIdle(ctx context.Context, o options, ep endpoints, out io.Writer) (int, error) {
	u, err := url.Parse(ep.target)
	if err != nil {
		return 2, err
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var before, opened, end procstat.Sample
	if o.pid > 0 {
		if before, err = readProc(o.pid); err != nil {
			return 2, err
		}
	}
	fmt.Fprintf(out, "toktok-load: op=idle target=%s connections=%d hold %s\n", addr, o.concurrency, o.duration)
	start := time.Now()
	conns, failed, firstErr := openIdle(ctx, addr, u.Host, o.concurrency, o.timeout)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	fmt.Fprintf(out, "opened: %d connections in %s, %d failed\n", len(conns), time.Since(start).Round(time.Millisecond), failed)
	if firstErr != nil {
		fmt.Fprintf(out, "first failure: %v\n", firstErr)
	}
	if o.pid > 0 {
		if opened, err = readProc(o.pid); err != nil {
			return 2, err
		}
	}
	held := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(o.duration):
	}
	open := countOpen(conns)
	if o.pid > 0 {
		if end, err = readProc(o.pid); err != nil {
			return 2, err
		}
	}
	fmt.Fprintf(out, "held: %s; %d of %d connections still open\n", time.Since(held).Round(time.Millisecond), open, len(conns))
	if open < len(conns) {
		fmt.Fprintln(out, "note: the server closed some: it closes a connection idle longer than its --idle-timeout (120s by default)")
	}
	line := fmt.Sprintf("result op=idle target=%s conns=%d opened=%d errors=%d seconds=%.3f",
		cmp.Or(o.label, addr), open, len(conns), failed, time.Since(start).Seconds())
	if o.pid > 0 {
		fmt.Fprintf(out, "server: VmRSS %.1f MiB before, %.1f MiB with the connections open, %.1f MiB at the end (VmHWM %.1f MiB)\n",
			mib(before.RSSKiB), mib(opened.RSSKiB), mib(end.RSSKiB), mib(end.HWMKiB))
		line += fmt.Sprintf(" rss_before_mib=%.1f rss_open_mib=%.1f rss_end_mib=%.1f extra_mib=%.1f",
			mib(before.RSSKiB), mib(opened.RSSKiB), mib(end.RSSKiB), mib(end.RSSKiB-before.RSSKiB))
	}
	fmt.Fprintln(out, line)
	if failed > 0 || open < len(conns) {
		return 1, nil
	}
	return 0, nil
}

// openIdle opens n keep-alive connections to addr, idleDialers at a time, each with one
// GET /healthz answered. It returns those open, how many failed and the first failure.
func openIdle(ctx context.Context, addr, host string, n int, timeout time.Duration) ([]net.Conn, int, error) {
	var (
		mu       sync.Mutex
		conns    = make([]net.Conn, 0, n)
		failed   int
		firstErr error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range min(n, idleDialers) {
		wg.Go(func() {
			for int(next.Add(1)) <= n && ctx.Err() == nil {
				c, err := openOne(ctx, addr, host, timeout)
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return conns, failed, firstErr
}

// openOne dials addr, sends GET /healthz, reads the answer and leaves the connection
// open, idle, as a browser's keep-alive connection between requests.
func openOne(ctx context.Context, addr, host string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: min(timeout, 10*time.Second)}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if err := healthz(c, host, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func healthz(c net.Conn, host string, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\nUser-Agent: toktok-load\r\n\r\n", host); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET /healthz: HTTP %d", resp.StatusCode)
	case resp.Close:
		return errors.New("GET /healthz: the server closes the connection (no keep-alive)")
	case br.Buffered() > 0:
		return errors.New("GET /healthz: bytes after the answer")
	}
	return c.SetDeadline(time.Time{})
}

// countOpen counts the connections the server has not closed: a read that times out
// finds nothing, not even an end of file, on the connection.
func countOpen(conns []net.Conn) int {
	var open atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(len(conns), idleDialers) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(conns); i = int(next.Add(1)) - 1 {
				if stillOpen(conns[i]) {
					open.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(open.Load())
}

func stillOpen(c net.Conn) bool {
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Millisecond)); err != nil {
		return false
	}
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
