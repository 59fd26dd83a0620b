package e2e

// Benchmarks of the hot paths, each beside its floor measured in the same run:
//
//	BenchmarkVerifyAccessES256   token.Service.VerifyAccess alone, one goroutine
//	BenchmarkMeFloor             a bare handler: Bearer header, VerifyAccess, fixed JSON
//	BenchmarkMe                  POST /graphql { me { id email role } } through the app
//	BenchmarkArgon2idRaw         argon2.IDKey at the default parameters, all cores
//	BenchmarkLogin               the login mutation through the app (--salt=no --anojwt=no)
//	BenchmarkLoginSaltAnojwt     the same with --salt=yes --anojwt=yes
//
// and paired benchmarks, which alternate short bursts of a workload and of its floor in
// one run, so that both see the same machine (on a shared machine, the load of other
// processes changes from one second to the next):
//
//	BenchmarkMeVsFloor           me against the floor handler
//	BenchmarkLoginVsArgon2idRaw  login (plain, and --salt --anojwt) against the raw hash
//	BenchmarkArgon2idRawVs4xCPUs the raw hash with 4× as many goroutines as CPUs, against
//	                             as many as CPUs (what the hashing semaphore buys)
//
// Parallel benchmarks report cpu-ns/op (wall ns/op × GOMAXPROCS, the CPU one request
// costs when every core is busy with it) and, on Linux, proc-cpu-ns/op (the process's
// user+system CPU time from /proc/self/stat per operation, GC included) and others-% (how
// much of the machine other processes took meanwhile; when it is high, trust proc-cpu-ns/op
// over the wall-clock figures). The targets of docs/benchmarks.md compare BenchmarkMe to
// BenchmarkMeFloor and BenchmarkLogin to BenchmarkArgon2idRaw; scripts/bench.sh runs them
// all and prints the ratios.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/procstat"
)

var benchCPUProfile = flag.String("toktok.benchcpuprofile", "",
	"write a CPU profile of the timed part of the selected parallel benchmark to this file")

// benchMeQuery is the me request of BenchmarkMe and BenchmarkMeFloor.
const benchMeQuery = `{ me { id email role } }`

// benchSignedIn is an env with one registered user and that user's ES256 access token.
type benchSignedIn struct {
	env    *testEnv
	access string
	user   authPayload
}

// benchSetupMe starts the app (harness configuration: SQLite on b.TempDir(), ES256) and
// registers one user through the real handler.
func benchSetupMe(b *testing.B) benchSignedIn {
	b.Helper()
	e := newTestEnv(b, nil)
	if e.cfg.Token.Alg != "ES256" {
		b.Fatalf("token alg = %s, want ES256", e.cfg.Token.Alg)
	}
	p := e.register("bench-me@example.com", strongPassword)
	return benchSignedIn{env: e, access: p.AccessToken, user: p}
}

// benchGraphQLRequest builds the POST /graphql request a client sends.
func benchGraphQLRequest(body []byte, bearer string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	return r
}

// benchBody is the JSON body of a GraphQL request.
func benchBody(b *testing.B, query string, vars map[string]any) []byte {
	b.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// benchTicks is the kernel's USER_HZ, the unit of the CPU times in /proc: 100 on Linux.
const benchTicks = time.Second / procstat.ClockTicks

// benchProcCPU returns the CPU time (user+system, all threads) this process has used so
// far, from /proc/self/stat; ok is false where that file does not exist. Its 10 ms tick is
// fine over runs of a second or more.
func benchProcCPU() (time.Duration, bool) {
	cpu, err := procstat.CPU(0)
	return cpu, err == nil
}

// benchHostBusy returns the CPU time all processes of the machine have used so far (every
// column of /proc/stat's cpu line but idle and iowait) and the number of CPUs.
func benchHostBusy() (busy time.Duration, cpus int, ok bool) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	var total int64
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		switch {
		case len(f) > 8 && f[0] == "cpu":
			// user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
			for j, v := range f[1:9] {
				if j == 3 || j == 4 {
					continue
				}
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, 0, false
				}
				total += n
			}
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			cpus++
		}
	}
	return time.Duration(total) * benchTicks, cpus, cpus > 0
}

// benchCPU starts measuring the CPU of a parallel run; call it just before the timed part
// and the returned func just after it. It reports
//
//	cpu-ns/op       wall ns/op × GOMAXPROCS: the CPU an operation costs if the cores
//	                were busy with it all along;
//	proc-cpu-ns/op  the CPU this process actually used per operation (GC included),
//	                which is what the targets compare: other processes on the machine
//	                inflate wall time but not this;
//	others-%        the share of the machine's CPU that other processes used meanwhile,
//	                to tell when the wall-clock figures are not to be trusted.
//
// With -toktok.benchcpuprofile=FILE it also CPU-profiles the timed part (and only it: no
// setup) into FILE; each run of the benchmark overwrites it, so the file ends up holding
// the final run. Select one benchmark at a time.
func benchCPU(b *testing.B) (stop func()) {
	var prof *os.File
	if *benchCPUProfile != "" {
		f, err := os.Create(*benchCPUProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			b.Fatal(err)
		}
		prof = f
	}
	cpu0, ok0 := benchProcCPU()
	host0, _, okh0 := benchHostBusy()
	return func() {
		if prof != nil {
			pprof.StopCPUProfile()
			if err := prof.Close(); err != nil {
				b.Error(err)
			}
		}
		n := float64(b.N)
		wall := b.Elapsed()
		b.ReportMetric(float64(wall.Nanoseconds())*float64(runtime.GOMAXPROCS(0))/n, "cpu-ns/op")
		cpu1, ok1 := benchProcCPU()
		if ok0 && ok1 {
			b.ReportMetric(float64(cpu1-cpu0)/n, "proc-cpu-ns/op")
		}
		if host1, cpus, okh1 := benchHostBusy(); ok0 && ok1 && okh0 && okh1 && wall > 0 {
			others := max(host1-host0-(cpu1-cpu0), 0)
			b.ReportMetric(100*others.Seconds()/(wall.Seconds()*float64(cpus)), "others-%")
		}
	}
}

// benchFail records the first failure of a RunParallel body; the body then returns,
// which RunParallel allows once the benchmark has failed.
type benchFail struct{ once sync.Once }

func (f *benchFail) fail(b *testing.B, format string, a ...any) {
	f.once.Do(func() { b.Errorf(format, a...) })
}

// BenchmarkVerifyAccessES256 is token.Service.VerifyAccessFull (every check, the signature
// included: VerifyAccess would answer the same token from its cache) on the app's own
// service and an access token it issued at registration, on one goroutine: ns/op is CPU
// per call.
func BenchmarkVerifyAccessES256(b *testing.B) {
	s := benchSetupMe(b)
	tokens, now := s.env.app.Support().Tokens(), s.env.clock.Now
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tokens.VerifyAccessFull(s.access, now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMeFloor is the least any me handler can cost: read the Bearer header, verify
// the ES256 access token with the app's token.Service, write a fixed JSON answer. It is
// driven exactly like BenchmarkMe.
func BenchmarkMeFloor(b *testing.B) {
	s := benchSetupMe(b)
	benchServe(b, benchMeOp(b, benchFloorHandler(b, s), s), runtime.GOMAXPROCS(0))
}

// BenchmarkMe is POST /graphql { me { id email role } } with an ES256 access token through
// the real handler (middleware, gqlgen, resolvers, account.Authenticate's two SQLite
// lookups, JSON encoding).
func BenchmarkMe(b *testing.B) {
	s := benchSetupMe(b)
	benchServe(b, benchMeOp(b, s.env.app.Handler(), s), runtime.GOMAXPROCS(0))
}

// BenchmarkMeVsFloor measures the me/floor target in one run: it alternates bursts of
// BenchmarkMe's and BenchmarkMeFloor's requests (on GOMAXPROCS goroutines each), so that
// both see the same machine, and reports the ratio of their CPU per request (me/floor-cpu)
// and of their wall time per request (me/floor-wall).
func BenchmarkMeVsFloor(b *testing.B) {
	s := benchSetupMe(b)
	procs := runtime.GOMAXPROCS(0)
	benchPaired(b, 2000,
		benchWorkload{"me", procs, benchMeOp(b, s.env.app.Handler(), s)},
		benchWorkload{"floor", procs, benchMeOp(b, benchFloorHandler(b, s), s)})
}

// benchFloorHandler is BenchmarkMeFloor's handler for s's user.
func benchFloorHandler(b *testing.B, s benchSignedIn) http.Handler {
	b.Helper()
	tokens, now := s.env.app.Support().Tokens(), s.env.clock.Now
	// The answer BenchmarkMe gets, fields in the same order.
	var answer struct {
		Data struct {
			Me struct {
				ID    string `json:"id"`
				Email string `json:"email"`
				Role  string `json:"role"`
			} `json:"me"`
		} `json:"data"`
	}
	answer.Data.Me.ID, answer.Data.Me.Email, answer.Data.Me.Role = s.user.User.ID, s.user.User.Email, s.user.User.Role
	fixed, err := json.Marshal(answer)
	if err != nil {
		b.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, `{"error":"no bearer token"}`, http.StatusUnauthorized)
			return
		}
		// The full check every time: the floor verifies the token, as the issue defines it.
		if _, err := tokens.VerifyAccessFull(tok, now()); err != nil {
			http.Error(w, `{"error":"invalid token"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(fixed)
	})
}

// benchOp is one operation of a benchmark; n numbers it. An error fails the benchmark.
type benchOp func(n uint64) error

// benchMeOp sends the me request to h and checks the answer carries s's user. It sends
// one first, so a broken handler fails the benchmark before any timing.
func benchMeOp(b *testing.B, h http.Handler, s benchSignedIn) benchOp {
	b.Helper()
	body := benchBody(b, benchMeQuery, nil)
	want := []byte(`{"data":{"me":{"id":"` + s.user.User.ID + `"`)
	op := func(uint64) error {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, benchGraphQLRequest(body, s.access))
		if rec.Code != http.StatusOK || !bytes.HasPrefix(rec.Body.Bytes(), want) {
			return fmt.Errorf("me: HTTP %d %s", rec.Code, rec.Body.Bytes())
		}
		return nil
	}
	if err := op(0); err != nil {
		b.Fatal(err)
	}
	return op
}

// benchServe runs op under b.RunParallel on goroutines goroutines (a multiple of
// GOMAXPROCS) and reports the CPU metrics of benchCPU.
func benchServe(b *testing.B, op benchOp, goroutines int) {
	b.Helper()
	b.SetParallelism(max(goroutines/runtime.GOMAXPROCS(0), 1))
	var (
		f    benchFail
		next atomic.Uint64
	)
	b.ReportAllocs()
	b.ResetTimer()
	stop := benchCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(next.Add(1)); err != nil {
				f.fail(b, "%v", err)
				return
			}
		}
	})
	stop()
}

// benchWorkload is one side of benchPaired.
type benchWorkload struct {
	name       string
	goroutines int
	op         benchOp
}

// benchPaired alternates bursts of burst operations of x and of y (x y, then y x, and so
// on, so a steady drift of the machine's speed cancels out) until the benchmark's time is
// up, measuring each burst's wall and process CPU time. It reports per operation
// x-cpu-ns/op and y-cpu-ns/op, the ratios x/y-cpu (CPU per operation) and x/y-wall (wall
// time per operation at that concurrency, the inverse of the throughput ratio), and
// others-% as benchCPU does.
// Bursts should last a few hundred milliseconds: process CPU time is read in 10 ms ticks.
func benchPaired(b *testing.B, burst int, x, y benchWorkload) {
	b.Helper()
	var (
		wall, cpu [2]time.Duration
		seq       [2]uint64 // operations numbered across bursts, so that each n is new
		ops       int
	)
	run := func(k int, w benchWorkload) {
		var (
			next atomic.Uint64
			wg   sync.WaitGroup
			f    benchFail
		)
		base := seq[k]
		seq[k] += uint64(burst)
		cpu0, ok0 := benchProcCPU()
		t0 := time.Now()
		for range w.goroutines {
			wg.Go(func() {
				for {
					n := next.Add(1)
					if n > uint64(burst) {
						return
					}
					if err := w.op(base + n); err != nil {
						f.fail(b, "%s: %v", w.name, err)
						next.Store(uint64(burst))
						return
					}
				}
			})
		}
		wg.Wait()
		wall[k] += time.Since(t0)
		cpu1, ok1 := benchProcCPU()
		if !ok0 || !ok1 {
			b.Skip("process CPU time is not available (no /proc/self/stat)")
		}
		cpu[k] += cpu1 - cpu0
	}
	cpuStart, okStart := benchProcCPU()
	hostStart, cpus, okHost := benchHostBusy()
	t0 := time.Now()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			run(0, x)
			run(1, y)
		} else {
			run(1, y)
			run(0, x)
		}
		ops += burst
		if b.Failed() {
			return
		}
	}
	elapsed := time.Since(t0)
	cpuEnd, okEnd := benchProcCPU()
	if hostEnd, _, ok := benchHostBusy(); okStart && okEnd && okHost && ok {
		others := max(hostEnd-hostStart-(cpuEnd-cpuStart), 0)
		b.ReportMetric(100*others.Seconds()/(elapsed.Seconds()*float64(cpus)), "others-%")
	}
	n := float64(ops)
	b.ReportMetric(float64(cpu[0].Nanoseconds())/n, x.name+"-cpu-ns/op")
	b.ReportMetric(float64(cpu[1].Nanoseconds())/n, y.name+"-cpu-ns/op")
	b.ReportMetric(float64(wall[0].Nanoseconds())/n, x.name+"-wall-ns/op")
	b.ReportMetric(float64(wall[1].Nanoseconds())/n, y.name+"-wall-ns/op")
	b.ReportMetric(cpu[0].Seconds()/cpu[1].Seconds(), x.name+"/"+y.name+"-cpu")
	b.ReportMetric(wall[0].Seconds()/wall[1].Seconds(), x.name+"/"+y.name+"-wall")
}

// BenchmarkArgon2idRaw is the raw hash rate: argon2.IDKey at the default parameters
// (m=19456 KiB, t=2, p=1, 32-byte key) on every core, nothing else.
func BenchmarkArgon2idRaw(b *testing.B) {
	benchServe(b, benchArgon2idOp(), runtime.GOMAXPROCS(0))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkArgon2idRawVs4xCPUs is why hashing runs under a semaphore sized to the CPUs,
// beyond memory: it alternates bursts of BenchmarkArgon2idRaw's hashes on 4 × GOMAXPROCS
// goroutines ("4x", what an uncapped server does under a burst of logins) and on
// GOMAXPROCS goroutines ("1x"), and reports the ratio of their CPU per hash (4x/1x-cpu)
// and wall time per hash (4x/1x-wall). Above 1, oversubscribed hashes evict each other's
// 19 MiB working set from the caches.
func BenchmarkArgon2idRawVs4xCPUs(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	benchPaired(b, 4*procs,
		benchWorkload{"4x", 4 * procs, benchArgon2idOp()},
		benchWorkload{"1x", procs, benchArgon2idOp()})
}

// benchArgon2idOp derives one argon2id key at the default parameters.
func benchArgon2idOp() benchOp {
	p := config.Default().Password
	pw := []byte(strongPassword)
	salt := make([]byte, 16)
	rand.Read(salt)
	return func(uint64) error {
		argon2.IDKey(pw, salt, uint32(p.Time), uint32(p.MemoryKiB), uint8(p.Threads), 32)
		return nil
	}
}

// benchLoginUsers is how many accounts the login benchmarks sign in, in turn.
const benchLoginUsers = 4

// benchLoginParallelism × GOMAXPROCS logins are in flight at once, more than the hashing
// semaphore admits, so that every core has a hash to compute while other logins are in
// the store or the encoder: the server as it is under a burst of logins.
const benchLoginParallelism = 4

// BenchmarkLogin is the login mutation through the real handler at the default argon2id
// parameters, with --salt=no and --anojwt=no so that the hash dominates. The abuse limits
// are the defaults too (the harness turns the per-IP ones off): every request comes from
// its own client IP, as in a burst of logins from many users, so the per-IP counter is
// updated and never trips.
func BenchmarkLogin(b *testing.B) {
	e := newTestEnv(b, benchLoginConfig(false, ""))
	benchServe(b, benchLoginOp(b, e), benchLoginParallelism*runtime.GOMAXPROCS(0))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkLoginVsArgon2idRaw measures the login target in one run: it alternates bursts
// of logins (as BenchmarkLogin, or BenchmarkLoginSaltAnojwt) and of BenchmarkArgon2idRaw's
// hashes, each with its own concurrency, and reports the ratios of their CPU
// (login/raw-cpu) and wall time (login/raw-wall) per operation. The login throughput
// relative to the raw hash rate is the inverse of each.
func BenchmarkLoginVsArgon2idRaw(b *testing.B) {
	for _, v := range []struct {
		name    string
		salt    bool
		rsaBits int
	}{{"plain", false, 0}, {"salt_anojwt_ecdh", true, 0}, {"salt_anojwt_rsa2048", true, 2048}, {"salt_anojwt_rsa3072", true, 3072}} {
		b.Run(v.name, func(b *testing.B) {
			keyFile := ""
			if v.rsaBits > 0 {
				keyFile = benchRSAKeyFile(b, v.rsaBits)
			}
			e := newTestEnv(b, benchLoginConfig(v.salt, keyFile))
			if v.rsaBits > 0 && (e.pub == nil || e.pub.N.BitLen() != v.rsaBits) {
				b.Fatalf("the published encryption key is not the %d-bit one", v.rsaBits)
			}
			if v.salt && v.rsaBits == 0 && (e.jwk == nil || e.pub != nil) {
				b.Fatal("the server does not publish an ECDH-ES key")
			}
			procs := runtime.GOMAXPROCS(0)
			benchPaired(b, benchLoginParallelism*procs,
				benchWorkload{"login", benchLoginParallelism * procs, benchLoginOp(b, e)},
				benchWorkload{"raw", procs, benchArgon2idOp()})
		})
	}
}

// benchLoginConfig is the configuration of the login benchmarks: the default argon2id
// parameters and limits, --salt and --anojwt as given, and the --salt key: an RSA key in
// keyFile (--salt-alg=rsa-oaep-256), or, when keyFile is empty, the default ECDH-ES scheme
// with a generated P-256 key.
func benchLoginConfig(saltAnojwt bool, keyFile string) func(*config.Config) {
	return func(c *config.Config) {
		c.Password = config.Default().Password
		c.Limits = config.Default().Limits
		c.Credentials.Encrypt = saltAnojwt
		c.Credentials.Alg = config.SaltECDH
		if keyFile != "" {
			c.Credentials.Alg, c.Credentials.KeyFile = config.SaltRSA, keyFile
		}
		c.Account.AnonJWT = saltAnojwt
	}
}

// BenchmarkLoginSaltAnojwt is login with --salt=yes and --anojwt=yes, as an SPA sends it:
// an anonymous token in the Authorization header and the email and password encrypted (JWE
// ECDH-ES, the default; RSA-OAEP-256 with keys of two sizes). The client's work (fetching the anonymous token, encrypting) is done
// before the timer starts; the server's (verifying the anonymous token, two RSA
// decryptions) is measured. rsa=3072 is the size the service generates for itself in
// development modes; rsa=2048 is the smallest key it accepts.
func BenchmarkLoginSaltAnojwt(b *testing.B) {
	b.Run("ecdh-es", func(b *testing.B) {
		e := newTestEnv(b, benchLoginConfig(true, ""))
		if e.jwk == nil || e.pub != nil {
			b.Fatal("the server does not publish an ECDH-ES key")
		}
		benchServe(b, benchLoginOp(b, e), benchLoginParallelism*runtime.GOMAXPROCS(0))
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
	for _, bits := range []int{2048, 3072} {
		b.Run(fmt.Sprintf("rsa=%d", bits), func(b *testing.B) {
			e := newTestEnv(b, benchLoginConfig(true, benchRSAKeyFile(b, bits)))
			if e.pub == nil || e.pub.N.BitLen() != bits {
				b.Fatalf("the published encryption key is not the %d-bit one", bits)
			}
			benchServe(b, benchLoginOp(b, e), benchLoginParallelism*runtime.GOMAXPROCS(0))
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}

// benchRSAKeyFile writes the bits-bit --salt key to a file for the benchmark.
func benchRSAKeyFile(b *testing.B, bits int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "rsa.pem")
	if err := os.WriteFile(path, benchRSAKey(b, bits), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchRSAKeys caches the --salt keys of the test binary by size, as PKCS#8 PEM:
// generating a 3072-bit key takes a second or more.
var benchRSAKeys = struct {
	sync.Mutex
	pem map[int][]byte
}{pem: map[int][]byte{}}

func benchRSAKey(b *testing.B, bits int) []byte {
	b.Helper()
	benchRSAKeys.Lock()
	defer benchRSAKeys.Unlock()
	if p, ok := benchRSAKeys.pem[bits]; ok {
		return p
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		b.Fatal(err)
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	benchRSAKeys.pem[bits] = p
	return p
}

// benchLoginOp registers benchLoginUsers accounts, prepares each one's login request as
// the client sends it (anonymous token, ciphertexts) and returns the op that sends login n
// for account n mod benchLoginUsers from client address n. Every account signs in once
// before it returns.
func benchLoginOp(b *testing.B, e *testEnv) benchOp {
	b.Helper()
	if got := e.app.Support().HashParams(); got.Memory != 19456 || got.Time != 2 || got.Threads != 1 {
		b.Fatalf("argon2id params = %+v, want the defaults", got)
	}
	const query = `mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken user { id } } }`
	type prepared struct {
		body   []byte
		bearer string
	}
	reqs := make([]prepared, benchLoginUsers)
	for i := range reqs {
		email := fmt.Sprintf("bench-login-%d@example.com", i)
		e.register(email, strongPassword)
		bearer := ""
		if e.cfg.Account.AnonJWT {
			bearer = e.anon() // anonymous tokens live 12 h: one per client is enough
		}
		// e.enc is RSA-OAEP with the published key when --salt is on; a ciphertext may be
		// sent any number of times.
		input := map[string]any{"email": e.enc(email), "password": e.enc(strongPassword)}
		reqs[i] = prepared{benchBody(b, query, map[string]any{"input": input}), bearer}
	}
	h := e.app.Handler()
	ok := []byte(`{"data":{"login":{"accessToken":"`)
	op := func(n uint64) error {
		r := reqs[n%uint64(len(reqs))]
		rec := httptest.NewRecorder()
		req := benchGraphQLRequest(r.body, r.bearer)
		req.RemoteAddr = benchClientAddr(n)
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.HasPrefix(rec.Body.Bytes(), ok) {
			return fmt.Errorf("login: HTTP %d %s", rec.Code, rec.Body.Bytes())
		}
		return nil
	}
	for i := range reqs {
		if err := op(1<<40 + uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	return op
}

// benchClientAddr is the n-th of 2^24 distinct client addresses, so per-IP limits count
// every login without refusing any. They are IPv4: the limiter keys IPv6 clients by their
// /64.
func benchClientAddr(n uint64) string {
	return fmt.Sprintf("10.%d.%d.%d:4242", n>>16&0xff, n>>8&0xff, n&0xff)
}
