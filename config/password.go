package config

import (
	"flag"
	"time"
)

// Password is the argon2id cost.
type Password struct {
	MemoryKiB   uint
	Time        uint
	Threads     uint
	Concurrency int           // simultaneous hashes; 0 = number of CPUs
	Wait        time.Duration // longest wait for a hashing slot; 0 = as long as the request lives
	// Floor is the least time a password check takes (0 = off): for stores holding
	// imported werkzeug hashes that cost more to check than argon2id (toktok import says).
	Floor time.Duration
}

func defaultPassword() Password {
	return Password{MemoryKiB: 19456, Time: 2, Threads: 1, Wait: 10 * time.Second}
}

func (pw *Password) register(fs *flag.FlagSet) {
	fs.UintVar(&pw.MemoryKiB, "argon2-memory", pw.MemoryKiB, "argon2id memory in KiB")
	fs.UintVar(&pw.Time, "argon2-time", pw.Time, "argon2id passes")
	fs.UintVar(&pw.Threads, "argon2-threads", pw.Threads, "argon2id lanes")
	fs.DurationVar(&pw.Wait, "hash-wait", pw.Wait, "longest a request waits for a hashing slot before answering UNAVAILABLE (0 = no bound)")
	fs.DurationVar(&pw.Floor, "hash-floor", pw.Floor, "least time every password check takes, by waiting after the work (0 = off); set it to what toktok import advises when imported werkzeug hashes cost more to check than argon2id")
	fs.IntVar(&pw.Concurrency, "hash-concurrency", pw.Concurrency, "password hashes computed at once (0 = number of CPUs); bounds memory under load")
}

func (pw Password) validate() []error {
	var p problems
	// argon2 needs 8 KiB per lane and takes at most 255 lanes; the upper bounds of memory
	// and passes keep one login from exhausting the machine.
	if pw.Threads < 1 || pw.Threads > 255 || pw.MemoryKiB < 8*pw.Threads ||
		pw.MemoryKiB > 2<<20 || pw.Time < 1 || pw.Time > 64 {
		p.add("--argon2-memory/--argon2-time/--argon2-threads: out of range (threads 1..255, memory 8×threads KiB..2 GiB, time 1..64)")
	}
	if pw.Wait < 0 {
		p.add("--hash-wait: must not be negative")
	}
	if pw.Floor < 0 || pw.Floor > 10*time.Second {
		p.add("--hash-floor: between 0 and 10s")
	}
	if pw.Concurrency < 0 {
		p.add("--hash-concurrency: must not be negative")
	}
	return p
}

// production refuses a cost cheaper than OWASP's advice, which development modes allow
// so that tests and laptops stay fast.
func (pw Password) production(mode Mode) []error {
	var p problems
	// OWASP's argon2id options all cost about m×t = 36 000 KiB·passes.
	if uint64(pw.MemoryKiB)*uint64(pw.Time) < 7168*5 {
		p.add("--argon2-memory × --argon2-time: below the OWASP minimum (e.g. 19456 KiB × 2) in %s mode", mode)
	}
	return p
}
