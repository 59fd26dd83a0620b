package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// startPoll is how often -op start asks /readyz.
const startPoll = time.Millisecond

// runStart runs the server command o.command, measures the time from its exec to the
// first 200 of /readyz, then stops it (SIGTERM, then SIGKILL after 20 s) and waits.
func runStart(ctx context.Context, o options, ep endpoints, out io.Writer) (int, error) {
	readyz := strings.TrimSuffix(ep.url, "/graphql") + "/readyz"
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	cmd := exec.Command(o.command[0], o.command[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 2, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	took, err := pollReady(ctx, client, readyz, t0, o.duration, exited)
	stopErr := stopCommand(cmd, exited)
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(out, "start: %s from exec to GET %s answering 200\n", took.Round(time.Microsecond), readyz)
	fmt.Fprintf(out, "result op=start target=%s start_ms=%.1f\n", cmp.Or(o.label, ep.host), float64(took.Microseconds())/1000)
	if stopErr != nil {
		fmt.Fprintf(out, "stopping the server: %v\n", stopErr)
	}
	return 0, nil
}

// pollReady asks readyz until it answers 200 and returns the time since t0; it fails when
// the command exits first, when limit has passed, or when ctx ends.
func pollReady(ctx context.Context, client *http.Client, readyz string, t0 time.Time, limit time.Duration, exited <-chan error) (time.Duration, error) {
	deadline := t0.Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyz, nil)
		if err != nil {
			return 0, err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0), nil
			}
		}
		select {
		case err := <-exited:
			return 0, fmt.Errorf("the server exited before it was ready: %v", err)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(startPoll):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not answer 200 within %s", readyz, limit)
		}
	}
}

// stopCommand stops the server started by runStart and waits for it.
func stopCommand(cmd *exec.Cmd, exited <-chan error) error {
	if cmd.ProcessState != nil {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		return errors.New("it ignored SIGTERM for 20 s and was killed")
	}
}
