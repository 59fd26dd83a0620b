package drills

import (
	"context"
	"crypto/rand"
	"fmt"
	mathrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/smtpsink"
	"github.com/toktok/toktok/store"
)

const (
	crashClients = 16
	crashRounds  = 3
	// crashMinAcks acknowledged operations come before a kill, so that it lands in a
	// running load; a random delay follows.
	crashMinAcks  = 300
	crashMaxDelay = 1500 * time.Millisecond
	// maxSessions is how many sessions an account keeps open before login gives way to
	// refresh.
	maxSessions = 4
	// drainTimeout covers the outbox lease (one minute): a mail claimed by a killed process
	// is claimed again only when its lease has expired.
	drainTimeout = 150 * time.Second
)

// The operations of the mix.
const (
	opRegister = "register"
	opLogin    = "login"
	opRefresh  = "refresh"
	opChange   = "changePassword"
	opForgot   = "forgotPassword"
)

// crashSession is one session as the client last saw it.
type crashSession struct {
	access, refresh string
}

// crashDoubt is the operation an account had in flight without an answer.
type crashDoubt struct {
	op      string
	session *crashSession // refresh, changePassword
	newPw   string        // changePassword
}

// crashAccount is one account's ledger: what its client was told.
type crashAccount struct {
	email      string
	id         string // from the acknowledged register
	registered bool
	pw         string   // the last acknowledged password
	oldPws     []string // replaced by an acknowledged changePassword
	sessions   []*crashSession
	ended      []*crashSession // sessions an acknowledged changePassword ended
	changes    int             // acknowledged changePassword
	forgots    int             // acknowledged forgotPassword
	doubt      *crashDoubt     // set once; the account then takes no more load
}

// crashClient is one of the load's clients, with the accounts it alone works on.
type crashClient struct {
	n        int
	rng      *mathrand.Rand
	accounts []*crashAccount
	active   []*crashAccount // registered, with nothing in doubt
	seq      int
	acked    map[string]int
	errs     []string // answered errors: none is expected
}

// TestKillUnderMixedLoad is the kill -9 drill. Sixteen clients run a mix of register, login, refresh, changePassword
// and forgotPassword against the binary on SQLite; at a random moment mid-load the process
// is killed with SIGKILL, and started again on the same data directory; three times. Each
// client works on its own accounts, one operation at a time, and keeps a ledger of what was
// answered: so after the last restart the drill knows, for every account, exactly what
// must hold, and what may go either way (the one operation per account that was in flight
// when a kill came: after it the account takes no more load).
//
// What must hold: every acknowledged registration exists, under its id, and signs in with
// the last acknowledged password, and no older one; the last acknowledged refresh token of
// every session rotates exactly once (the refresh grace is off); the sessions an
// acknowledged changePassword ended stay ended; an unanswered changePassword is either
// wholly absent or its password change came with the end of the other sessions (nothing
// half-done usable); every mail in the outbox is delivered, with its Message-ID, once per
// claim at most (see checkMails for the one window in which a kill may make it twice); an
// acknowledged registration and an acknowledged changePassword each queued their mail; and
// SQLite's integrity_check passes after every kill.
func TestKillUnderMixedLoad(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	sink := smtpsink.New(t, smtpsink.Options{})
	args := drillArgs(dataDir, sink)
	clients := make([]*crashClient, crashClients)
	for i := range clients {
		clients[i] = &crashClient{n: i, rng: mathrand.New(mathrand.NewPCG(mathrand.Uint64(), uint64(i))), acked: map[string]int{}}
	}
	got := map[string]*delivery{}
	for round := range crashRounds {
		crashRound(t, round, args, clients)
		checkDatabase(t, dbPath(dataDir))
		takeDeliveries(t, sink, got)
	}

	p := startToktok(t, args)
	accounts := verifyAccounts(t, newClient(t, p.URL(), true), clients)
	waitOutboxDrained(t, dbPath(dataDir), drainTimeout)
	stopGracefully(t, p, 30*time.Second)
	takeDeliveries(t, sink, got)
	checkDatabase(t, dbPath(dataDir))
	checkMails(t, dbPath(dataDir), accounts, got)
	for _, c := range clients {
		for _, e := range c.errs {
			t.Errorf("client %d: answered error during the load: %s", c.n, e)
		}
	}
}

// crashRound starts the process, runs the load, and kills the process with SIGKILL once
// crashMinAcks operations were acknowledged and a random delay has passed.
func crashRound(t *testing.T, round int, args []string, clients []*crashClient) {
	p := startToktok(t, args)
	c := newClient(t, p.URL(), true)
	ctx, cancel := context.WithCancel(t.Context())
	var (
		acks    atomic.Int64
		reached = make(chan struct{})
		wg      sync.WaitGroup
	)
	for _, cl := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				if !cl.step(ctx, c) {
					return
				}
				if acks.Add(1) == crashMinAcks {
					close(reached)
				}
			}
		})
	}
	defer func() { cancel(); wg.Wait() }() // on a failure, too: the clients stop
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatalf("round %d: fewer than %d operations acknowledged in a minute", round, crashMinAcks)
	}
	delay := time.Duration(mathrand.Int64N(int64(crashMaxDelay)))
	select {
	case <-time.After(delay): // the random moment of the kill
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	p.Kill()
	cancel()
	wg.Wait()
	doubts := 0
	for _, cl := range clients {
		for _, a := range cl.accounts {
			if a.doubt != nil {
				doubts++
			}
		}
	}
	t.Logf("round %d: killed after %d acknowledged operations (+%s); %d operations in doubt so far",
		round, acks.Load(), delay.Round(time.Millisecond), doubts)
}

// step runs one operation of the mix and records its outcome; false means it got no
// answer (the process is gone): the client stops for this round.
func (cl *crashClient) step(ctx context.Context, c *gqlClient) bool {
	r := cl.rng.IntN(100)
	if len(cl.active) == 0 || r < 20 {
		return cl.register(ctx, c)
	}
	i := cl.rng.IntN(len(cl.active))
	a := cl.active[i]
	s := a.sessions[cl.rng.IntN(len(a.sessions))]
	var (
		op   = opRefresh
		code string
		err  error
		d    = &crashDoubt{op: opRefresh, session: s}
	)
	switch {
	case r < 35 && len(a.sessions) < maxSessions:
		op, d = opLogin, &crashDoubt{op: opLogin}
		var tk authPayload
		if tk, code, err = c.login(ctx, a.email, a.pw); code == "" {
			if tk.User.ID != a.id {
				cl.errs = append(cl.errs, fmt.Sprintf("login of %s answered user %s, registered as %s", a.email, tk.User.ID, a.id))
			}
			a.sessions = append(a.sessions, &crashSession{tk.AccessToken, tk.RefreshToken})
		}
	case r < 70:
		var tk authPayload
		if tk, code, err = c.refresh(ctx, s.refresh); code == "" {
			s.access, s.refresh = tk.AccessToken, tk.RefreshToken
		}
	case r < 80:
		op = opChange
		d = &crashDoubt{op: opChange, session: s, newPw: newPassword()}
		var tk authPayload
		if tk, code, err = c.changePassword(ctx, s.access, a.pw, d.newPw); code == "" {
			a.changed(d.newPw, tk)
		}
	default:
		op, d = opForgot, &crashDoubt{op: opForgot}
		if code, err = c.forgotPassword(ctx, a.email); code == "" {
			a.forgots++
		}
	}
	if code == "" {
		cl.acked[op]++
		return true
	}
	a.doubt = d
	cl.active = append(cl.active[:i], cl.active[i+1:]...)
	if code != noAnswer {
		cl.errs = append(cl.errs, fmt.Sprintf("%s of %s: %s %v", op, a.email, code, err))
		return true
	}
	return false
}

// register creates a new account of this client.
func (cl *crashClient) register(ctx context.Context, c *gqlClient) bool {
	cl.seq++
	a := &crashAccount{email: fmt.Sprintf("crash-%02d-%04d@drills.example", cl.n, cl.seq), pw: newPassword()}
	cl.accounts = append(cl.accounts, a)
	tk, code, err := c.register(ctx, a.email, a.pw)
	switch code {
	case "":
		a.registered, a.id = true, tk.User.ID
		a.sessions = []*crashSession{{tk.AccessToken, tk.RefreshToken}}
		cl.active = append(cl.active, a)
		cl.acked[opRegister]++
		return true
	case noAnswer:
		a.doubt = &crashDoubt{op: opRegister}
		return false
	}
	a.doubt = &crashDoubt{op: opRegister}
	cl.errs = append(cl.errs, fmt.Sprintf("register of %s: %s %v", a.email, code, err))
	return true
}

// changed records an acknowledged changePassword: the new password, and the answer's
// session as the only live one. Every session known before has ended, the caller's
// included (issue 9: no access token minted before the change stays valid).
func (a *crashAccount) changed(pw string, tk authPayload) {
	a.oldPws = append(a.oldPws, a.pw)
	a.pw = pw
	a.changes++
	a.ended = append(a.ended, a.sessions...)
	a.sessions = []*crashSession{{tk.AccessToken, tk.RefreshToken}}
}

// newPassword is a random password the policy accepts.
func newPassword() string { return "drill " + strings.ToLower(rand.Text()) }

// verifyAccounts checks every account of the ledger against the restarted process, from
// crashClients goroutines, and returns the accounts.
func verifyAccounts(t *testing.T, c *gqlClient, clients []*crashClient) []*crashAccount {
	t.Helper()
	var all []*crashAccount
	acked := map[string]int{}
	for _, cl := range clients {
		all = append(all, cl.accounts...)
		for op, n := range cl.acked {
			acked[op] += n
		}
	}
	t.Logf("ledger: %d accounts; acknowledged %v", len(all), acked)
	var (
		mu       sync.Mutex
		problems []string
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range crashClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(all) {
					return
				}
				if p := verifyAccount(t.Context(), c, all[i]); len(p) > 0 {
					mu.Lock()
					problems = append(problems, p...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	reportProblems(t, "after the last restart", problems)
	return all
}

// verifyAccount checks one account: its password, then its sessions.
func verifyAccount(ctx context.Context, c *gqlClient, a *crashAccount) (problems []string) {
	bad := func(format string, args ...any) {
		problems = append(problems, a.email+": "+fmt.Sprintf(format, args...))
	}
	if !a.registered {
		// Only an unanswered register: the account may exist or not, nothing else.
		if _, code, err := c.login(ctx, a.email, a.pw); code != "" && code != "INVALID_CREDENTIALS" {
			bad("login after an unanswered register: %s %v", code, err)
		}
		return problems
	}
	changing := a.doubt != nil && a.doubt.op == opChange
	newInForce := false
	tk, code, err := c.login(ctx, a.email, a.pw)
	switch {
	case code == "" && tk.User.ID != a.id:
		bad("signs in as user %s, registered as %s", tk.User.ID, a.id)
	case code == "":
	case code == "INVALID_CREDENTIALS" && changing:
		if _, code, err = c.login(ctx, a.email, a.doubt.newPw); code != "" {
			bad("neither the acknowledged password nor the unanswered changePassword's works: %s %v", code, err)
			return problems
		}
		newInForce = true
	default:
		bad("the last acknowledged password fails: %s %v", code, err)
		return problems
	}
	for _, old := range a.oldPws {
		if _, code, err := c.login(ctx, a.email, old); code != "INVALID_CREDENTIALS" {
			bad("a password replaced by an acknowledged changePassword answers %q %v", code, err)
		}
	}
	return append(problems, verifySessions(ctx, c, a, newInForce)...)
}

// verifySessions checks that the sessions the ledger holds live rotate exactly once, that
// ended ones stay ended, and that a session in doubt (or of an account whose changePassword
// is in doubt) is either.
func verifySessions(ctx context.Context, c *gqlClient, a *crashAccount, newInForce bool) (problems []string) {
	bad := func(format string, args ...any) {
		problems = append(problems, a.email+": "+fmt.Sprintf(format, args...))
	}
	var live, either, halfDone []*crashSession
	for _, s := range a.sessions {
		switch {
		case a.doubt != nil && a.doubt.session == s:
			either = append(either, s)
		case newInForce:
			// The unanswered changePassword changed the password: it must have ended the
			// other sessions too, or a half-done change would leave them usable.
			halfDone = append(halfDone, s)
		case a.doubt != nil && a.doubt.op == opChange:
			// The unanswered changePassword kept the old password, but it ends the
			// sessions before it writes the new one: a kill after that leaves them
			// ended, which fails safe (signed out, the old password still good).
			either = append(either, s)
		default:
			live = append(live, s)
		}
	}
	for _, s := range halfDone {
		if id, code, err := c.me(ctx, s.access); id != "" || code != "UNAUTHENTICATED" {
			bad("half-done changePassword: its new password is in force, but a session it should have ended answers me as %q (%s %v)", id, code, err)
		}
	}
	for _, s := range a.ended {
		if id, code, err := c.me(ctx, s.access); id != "" || code != "UNAUTHENTICATED" {
			bad("a session ended by an acknowledged changePassword answers me as %q (%s %v)", id, code, err)
		}
	}
	for _, s := range live {
		if _, code, err := c.refresh(ctx, s.refresh); code != "" {
			bad("the last acknowledged refresh token of a live session fails: %s %v", code, err)
			continue
		}
		if _, code, err := c.refresh(ctx, s.refresh); code != "INVALID_REFRESH_TOKEN" {
			bad("a refresh token rotated twice: %q %v", code, err)
		}
	}
	for _, s := range either {
		if _, code, err := c.refresh(ctx, s.refresh); code != "" && code != "INVALID_REFRESH_TOKEN" {
			bad("the refresh token of a session in doubt answers %s %v", code, err)
		}
	}
	for _, s := range append(halfDone, a.ended...) {
		if _, code, err := c.refresh(ctx, s.refresh); code != "INVALID_REFRESH_TOKEN" {
			bad("a session that must have ended still rotates: %q %v", code, err)
		}
	}
	return problems
}

// checkMails compares the outbox of the stopped process with what the sink received
// (checkOutbox), and each account's mails with its ledger (checkAccountMails). A mail may
// be delivered twice only when a kill fell between the SMTP server's acceptance and the
// record of it; a worker holds at most outboxBatch mails at once, so no kill can cause
// more second deliveries than that.
func checkMails(t *testing.T, path string, accounts []*crashAccount, got map[string]*delivery) {
	t.Helper()
	byAddr := map[string]*crashAccount{}
	addrs := make([]string, 0, len(accounts))
	for _, a := range accounts {
		byAddr[a.email] = a
		addrs = append(addrs, a.email)
	}
	resent := checkOutbox(t, path, addrs, got, func(addr string, mails []store.Mail) []string {
		return checkAccountMails(byAddr[addr], mails)
	})
	if resent > outboxBatch*crashRounds {
		t.Errorf("%d mails delivered twice after %d kills: more than the %d a worker holds at once per kill", resent, crashRounds, outboxBatch)
	}
}

// checkAccountMails checks how many mails of each kind an account's ledger allows.
func checkAccountMails(a *crashAccount, mails []store.Mail) (problems []string) {
	kinds := map[string]int{}
	for _, m := range mails {
		kinds[m.Kind]++
	}
	inDoubt := func(op string) int {
		if a.doubt != nil && a.doubt.op == op {
			return 1
		}
		return 0
	}
	bad := func(format string, args ...any) {
		problems = append(problems, a.email+": "+fmt.Sprintf(format, args...))
	}
	if n := kinds["confirm"]; (a.registered && n != 1) || (!a.registered && n > inDoubt(opRegister)) {
		bad("%d confirmation mails (registered: %v)", n, a.registered)
	}
	if n := kinds["password_changed"]; n < a.changes || n > a.changes+inDoubt(opChange) {
		bad("%d password-changed notices for %d acknowledged changePassword (+%d in doubt)", n, a.changes, inDoubt(opChange))
	}
	if n := kinds["reset"]; n > a.forgots+inDoubt(opForgot) {
		bad("%d reset mails for %d forgotPassword calls (+%d in doubt)", n, a.forgots, inDoubt(opForgot))
	}
	return problems
}
