package config

import (
	"testing"
	"time"
)

func TestPasswordDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Password.MemoryKiB != 19456 || c.Password.Time != 2 || c.Password.Threads != 1 {
		t.Errorf("argon2 %+v", c.Password)
	}
	if c.Password.Wait != 10*time.Second || c.Password.Concurrency != 0 {
		t.Errorf("hashing %+v", c.Password)
	}
	// The default cost is the OWASP one, so production accepts it.
	if errs := Default().Password.production(ModeProduction); len(errs) != 0 {
		t.Errorf("default cost refused in production: %v", errs)
	}
}

func TestLoadPassword(t *testing.T) {
	c := mustLoad(t, []string{"--argon2-memory=65536", "--argon2-time=3", "--argon2-threads=4", "--hash-wait=0s", "--hash-floor=40ms"},
		map[string]string{"TOKTOK_HASH_CONCURRENCY": "2"})
	if c.Password != (Password{MemoryKiB: 65536, Time: 3, Threads: 4, Concurrency: 2, Floor: 40 * time.Millisecond}) {
		t.Errorf("%+v", c.Password)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--argon2-threads=0"}, "--argon2-threads"},
		{[]string{"--argon2-threads=256"}, "--argon2-threads"},
		{[]string{"--argon2-memory=1"}, "--argon2-memory"},
		{[]string{"--argon2-time=0"}, "--argon2-time"},
		{[]string{"--argon2-time=65"}, "--argon2-time"},
		{[]string{"--hash-concurrency=-1"}, "--hash-concurrency"},
		{[]string{"--hash-wait=-1s"}, "--hash-wait"},
		{[]string{"--hash-floor=-1ms"}, "--hash-floor"},
		{[]string{"--hash-floor=11s"}, "--hash-floor"},
	} {
		_, err := load(t, tc.args, nil)
		wantProblems(t, err, tc.want)
	}
}

func TestPasswordProduction(t *testing.T) {
	// Cheap hashing is for development only.
	mustLoad(t, []string{"--argon2-memory=1024", "--argon2-time=1"}, nil)
	_, err := load(t, append([]string{"--mode=preprod", "--argon2-memory=1024", "--argon2-time=1"}, prodArgs...), nil)
	wantProblems(t, err, "--argon2-memory × --argon2-time: below the OWASP minimum (e.g. 19456 KiB × 2) in preprod mode")
	// Any of OWASP's equivalent options passes: 7 MiB × 5 passes is the cheapest.
	mustLoad(t, append([]string{"--mode=preprod", "--argon2-memory=7168", "--argon2-time=5"}, prodArgs...), nil)
}
