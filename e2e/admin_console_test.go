package e2e

// Browser tests of the admin console, /admin (web/admin_console.go, web/console/admin.*):
// a real headless Chromium, driven with chromedp through the helpers of browser_test.go,
// against the real server of the end-to-end harness with its defaults (--salt=yes,
// --anojwt=yes), its mail going to a real SMTP server (mailsink_test.go).
//
// The console has no privilege of its own: everything it does goes through the GraphQL
// API with the token of whoever signed in, so each step is checked on the server's side
// too (through GraphQL, the store or the mail sink), not only on the page. What they
// prove: an ADMIN signs in, searches by prefix, pages forward and back, opens a user
// (the focus moves to its heading), changes its role, ends its sessions, sends it a reset
// link, confirms its address, disables it, reads its audit events and deletes it after
// typing its address (a wrong address keeps the button disabled); the last admin cannot
// be demoted; the audit log pages. STAFF sees the users without a single action button
// nor the audit log; a USER is told the console is for staff. The page speaks French.
// --admin-console=no takes /admin away. The page's strict Content-Security-Policy blocks
// nothing, and no script throws.
//
// With TOKTOK_UPDATE_SCREENSHOTS=1, the ADMIN test writes docs/screenshots/admin-users.png
// (search results) and admin-user.png (a user's page) at 1000x800 (else it writes them
// into its temp dir):
//
//	TOKTOK_UPDATE_SCREENSHOTS=1 go test -count=1 -run TestAdminConsole ./e2e/

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
)

// adminConsoleMembers is how many USER accounts the listing pages through.
const adminConsoleMembers = 25

// adminConsoleEnv is a server seeded with an ADMIN, a STAFF, a USER and
// adminConsoleMembers members (member01@example.com, ...), created a minute apart so that
// the listing (oldest first) has a known order.
type adminConsoleEnv struct {
	*testEnv
	sink  *mailSink
	admin authPayload // signed in through the API, for the checks
	ids   map[string]string
}

func adminConsoleMember(i int) string { return fmt.Sprintf("member%02d@example.com", i) }

func adminConsoleStart(t *testing.T) *adminConsoleEnv {
	t.Helper()
	e, sink := pagesStartEnv(t)
	ae := &adminConsoleEnv{testEnv: e, sink: sink, ids: map[string]string{}}
	for _, u := range []struct {
		email string
		role  store.Role
	}{
		{"admin@example.com", store.RoleAdmin},
		{"staff@example.com", store.RoleStaff},
		{"plain@example.com", store.RoleUser},
	} {
		ae.ids[u.email] = staffSignUp(e, u.email, u.role).User.ID
		e.clock.Advance(time.Minute)
	}
	for i := 1; i <= adminConsoleMembers; i++ {
		ae.ids[adminConsoleMember(i)] = e.register(adminConsoleMember(i), strongPassword).User.ID
		e.clock.Advance(time.Minute)
	}
	ae.admin = e.login("admin@example.com", strongPassword)
	return ae
}

// adminConsoleView is what the console shows, as the tests read it.
type adminConsoleView struct {
	Ready        bool     `json:"ready"`
	Lang         string   `json:"lang"`
	SignIn       bool     `json:"signIn"`  // the sign-in form is shown
	Console      bool     `json:"console"` // the users and audit views are shown
	StaffOnly    bool     `json:"staffOnly"`
	StaffText    string   `json:"staffText"`
	ReadOnly     bool     `json:"readOnly"` // the STAFF note is shown
	Who          string   `json:"who"`
	View         string   `json:"view"` // the id of the view shown
	Caption      string   `json:"caption"`
	Rows         []string `json:"rows"` // the emails of the users listed
	PrevDisabled bool     `json:"prevDisabled"`
	NextDisabled bool     `json:"nextDisabled"`
	UserTitle    string   `json:"userTitle"`
	Fields       map[string]string
	Actions      []string `json:"actions"` // the ids of the buttons of the user's page
	NavAudit     bool     `json:"navAudit"`
	AuditView    bool     `json:"auditView"`
	Focus        string   `json:"focus"` // the id of the focused element
	Title        string   `json:"title"`
}

const adminConsoleViewJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const shown = (id) => { const el = $(id); return !!el && !el.hidden && el.getClientRects().length > 0; };
  const fields = {};
  for (const dd of document.querySelectorAll('#user-fields dd[data-field]')) fields[dd.getAttribute('data-field')] = dd.textContent;
  return {
    ready: document.body.getAttribute('data-ready') === 'true',
    lang: document.documentElement.lang,
    signIn: shown('signin-view'),
    console: shown('console-view'),
    staffOnly: shown('staff-only'),
    staffText: $('staff-only-text') ? $('staff-only-text').textContent : '',
    readOnly: shown('readonly-note'),
    who: shown('who') ? $('who').textContent : '',
    view: ['users-view', 'user-view', 'audit-view'].find(shown) || '',
    caption: $('users-caption').textContent,
    rows: [...document.querySelectorAll('#users-body button[data-user-id]')].map((b) => b.textContent),
    prevDisabled: $('users-prev').disabled,
    nextDisabled: $('users-next').disabled,
    userTitle: $('user-title').textContent,
    Fields: fields,
    actions: [...document.querySelectorAll('#user-view button')].filter((b) => b.id !== 'user-back').map((b) => b.id),
    navAudit: !!$('nav-audit'),
    auditView: !!$('audit-view'),
    focus: document.activeElement ? document.activeElement.id : '',
    title: (document.querySelector('h1:not([hidden])') || {}).textContent || '',
  };
})()`

func adminConsoleRead(b *browserSession) adminConsoleView {
	b.t.Helper()
	return browserEval[adminConsoleView](b, "read the console", adminConsoleViewJS)
}

// adminConsoleOpen opens /admin (with query, such as "?lang=fr") in a 1000x800 viewport,
// checks the response's headers and waits until the script has started (pagesOpen: the
// hosted pages' checks hold for the consoles too).
func adminConsoleOpen(b *browserSession, e *testEnv, query string) adminConsoleView {
	b.t.Helper()
	browserRun(b, "set the viewport", chromedp.EmulateViewport(1000, 800))
	pagesOpen(b, e.srv.URL+"/admin"+query)
	return adminConsoleRead(b)
}

// adminConsoleSelect picks value in the select with the given id, as a user would.
func adminConsoleSelect(b *browserSession, id, value string) {
	b.t.Helper()
	ok := browserEval[bool](b, "pick "+value+" in #"+id, `(() => {
  const el = document.getElementById(`+browserJSString(id)+`);
  if (![...el.options].some((o) => o.value === `+browserJSString(value)+`)) return false;
  el.focus();
  el.value = `+browserJSString(value)+`;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  return true;
})()`)
	if !ok {
		b.t.Fatalf("#%s has no option %q", id, value)
	}
}

// adminConsoleSignIn signs in through the console's form.
func adminConsoleSignIn(b *browserSession, email string) {
	b.t.Helper()
	pagesType(b, "signin-email", email)
	pagesType(b, "signin-password", strongPassword)
	browserRun(b, "click #signin-submit", chromedp.Click(chromedp.ID("signin-submit")))
	browserWaitFor(b, "the console to open for "+email,
		`document.getElementById('signin-view').hidden && !document.getElementById('who').hidden`)
}

// adminConsoleWaitCaption waits until the users' caption reads want and nothing loads.
func adminConsoleWaitCaption(b *browserSession, want string) adminConsoleView {
	b.t.Helper()
	browserWaitFor(b, "the caption "+want, `document.getElementById('users-caption').textContent === `+browserJSString(want)+
		` && !document.getElementById('users-view').hasAttribute('aria-busy')`)
	return adminConsoleRead(b)
}

// adminConsoleAct clicks the button id with consoleAct, which waits until the status
// region statusID shows an outcome; it returns the outcome's state and text.
func adminConsoleAct(b *browserSession, id, statusID string) (state, text string) {
	b.t.Helper()
	consoleAct(b, statusID, "click #"+id, chromedp.Click(chromedp.ID(id), chromedp.NodeVisible))
	status := `document.getElementById(` + browserJSString(statusID) + `)`
	out := browserEval[struct{ State, Text string }](b, "read #"+statusID,
		`(() => { const s = `+status+`; return { state: s.getAttribute('data-state'), text: s.textContent }; })()`)
	return out.State, out.Text
}

// adminConsoleOpenUser clicks the listed user's email and waits for its page.
func adminConsoleOpenUser(b *browserSession, email string) adminConsoleView {
	b.t.Helper()
	sel := `[...document.querySelectorAll('#users-body button[data-user-id]')].find((el) => el.textContent === ` + browserJSString(email) + `)`
	browserRun(b, "open "+email, chromedp.Click(chromedp.JSPath(sel), chromedp.NodeVisible))
	browserWaitFor(b, "the page of "+email, `!document.getElementById('user-view').hidden && document.getElementById('user-title').textContent === `+browserJSString(email))
	return adminConsoleRead(b)
}

// adminConsoleUserQ reads a user through the API, as the ADMIN.
func (ae *adminConsoleEnv) user(id string) *opsUser {
	ae.t.Helper()
	var resp struct{ User *opsUser }
	ae.mustData(ae.gql(ae.admin.AccessToken, `query($id: ID!) { user(id: $id) { id role emailConfirmed disabled name lang } }`,
		map[string]any{"id": id}), &resp)
	return resp.User
}

// resetMail returns the next reset mail to addr, passing the other mails (the
// confirmation mails of the seeded accounts).
func (ae *adminConsoleEnv) resetMail(addr string) sinkMail {
	ae.t.Helper()
	for range 100 {
		m := ae.sink.Next()
		if slices.Equal(m.To, []string{addr}) && strings.Contains(m.Link(), "/reset-password") {
			return m
		}
	}
	ae.t.Fatalf("no reset mail to %s", addr)
	return sinkMail{}
}

func adminConsoleMemberList(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, adminConsoleMember(i))
	}
	return out
}

// TestAdminConsole: an ADMIN's whole round, then STAFF, USER and French (subtests, each
// with a browser of its own).
func TestAdminConsole(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	ae := adminConsoleStart(t)
	adminConsoleAdminRound(t, b, ae)
	b.checkPageClean()

	t.Run("Staff", func(t *testing.T) { adminConsoleStaff(t, ae.in(t)) })
	t.Run("User", func(t *testing.T) { adminConsoleUser(t, ae.in(t)) })
	t.Run("French", func(t *testing.T) { adminConsoleFrench(t, ae.in(t)) })
}

func (ae *adminConsoleEnv) in(t *testing.T) *adminConsoleEnv {
	c := *ae
	c.testEnv = ae.testEnv.in(t)
	return &c
}

func adminConsoleAdminRound(t *testing.T, b *browserSession, ae *adminConsoleEnv) {
	v := adminConsoleOpen(b, ae.testEnv, "")
	if !v.Ready || v.Lang != "en" || !v.SignIn || v.Console || v.StaffOnly || v.Title != "Sign in to the admin console" {
		t.Fatalf("the console as opened: %+v", v)
	}

	// Signed in: every user listed, oldest first (20 a page, the default).
	adminConsoleSignIn(b, "admin@example.com")
	v = adminConsoleWaitCaption(b, fmt.Sprintf("%d users match, page 1", 3+adminConsoleMembers))
	if !v.Console || v.ReadOnly || v.View != "users-view" || !v.NavAudit || v.Focus != "users-title" ||
		v.Who != "Signed in as admin@example.com (Admin)" || len(v.Rows) != 20 || v.Rows[0] != "admin@example.com" ||
		!v.PrevDisabled || v.NextDisabled {
		t.Fatalf("the console after the ADMIN signed in: %+v", v)
	}

	// Search by prefix, 10 a page, submitted with Enter: three pages, forward and back.
	adminConsoleSelect(b, "search-first", "10")
	pagesType(b, "search-query", "MEMBER\r")
	v = adminConsoleWaitCaption(b, fmt.Sprintf("%d users match, page 1", adminConsoleMembers))
	if !slices.Equal(v.Rows, adminConsoleMemberList(1, 10)) || !v.PrevDisabled || v.NextDisabled {
		t.Fatalf("page 1 of the search: %+v", v)
	}
	consoleScreenshot(b, "admin-users.png", "")
	consoleCheckA11y(b, "the search results")
	browserRun(b, "click Next", chromedp.Click(chromedp.ID("users-next")))
	v = adminConsoleWaitCaption(b, "25 users match, page 2")
	if !slices.Equal(v.Rows, adminConsoleMemberList(11, 20)) || v.PrevDisabled || v.NextDisabled {
		t.Fatalf("page 2: %+v", v)
	}
	browserRun(b, "click Next", chromedp.Click(chromedp.ID("users-next")))
	v = adminConsoleWaitCaption(b, "25 users match, page 3")
	if !slices.Equal(v.Rows, adminConsoleMemberList(21, 25)) || v.PrevDisabled || !v.NextDisabled {
		t.Fatalf("page 3: %+v", v)
	}
	browserRun(b, "click Previous", chromedp.Click(chromedp.ID("users-prev")))
	v = adminConsoleWaitCaption(b, "25 users match, page 2")
	if !slices.Equal(v.Rows, adminConsoleMemberList(11, 20)) {
		t.Fatalf("back to page 2: %+v", v)
	}

	// Filters combine: no member is STAFF.
	adminConsoleSelect(b, "search-role", "STAFF")
	browserRun(b, "click Search", chromedp.Click(chromedp.ID("search-submit")))
	v = adminConsoleWaitCaption(b, "0 users match, page 1")
	if len(v.Rows) != 0 {
		t.Fatalf("members with role STAFF: %+v", v)
	}
	adminConsoleSelect(b, "search-role", "")
	browserRun(b, "click Search", chromedp.Click(chromedp.ID("search-submit")))
	adminConsoleWaitCaption(b, "25 users match, page 1")
	browserRun(b, "click Next", chromedp.Click(chromedp.ID("users-next")))
	adminConsoleWaitCaption(b, "25 users match, page 2")

	adminConsoleUserActions(t, b, ae)
	adminConsoleLastAdmin(t, b, ae)
	adminConsoleAuditLog(t, b, ae)
}

// adminConsoleUserActions runs every action on member12 and checks each on the server.
func adminConsoleUserActions(t *testing.T, b *browserSession, ae *adminConsoleEnv) {
	email := adminConsoleMember(12)
	id := ae.ids[email]
	v := adminConsoleOpenUser(b, email)
	if v.Focus != "user-title" || v.Fields["fieldId"] != id || v.Fields["fieldRole"] != "User" || v.Fields["fieldConfirmed"] != "No" {
		t.Fatalf("the page of %s: %+v", email, v)
	}
	wantActions := []string{"role-save", "confirm-email", "disable-toggle", "revoke-sessions", "send-reset", "user-audit", "delete-submit"}
	if !slices.Equal(v.Actions, wantActions) {
		t.Errorf("an ADMIN's buttons: %v, want %v", v.Actions, wantActions)
	}
	consoleScreenshot(b, "admin-user.png", "sections")
	consoleCheckA11y(b, "a user's page")

	// Role.
	adminConsoleSelect(b, "role-select", "STAFF")
	if st, text := adminConsoleAct(b, "role-save", "user-status"); st != "ok" || text != "The role of "+email+" is now Staff." {
		t.Fatalf("change the role: %s %q", st, text)
	}
	if u := ae.user(id); u.Role != "STAFF" {
		t.Fatalf("after the change, the API says role %s", u.Role)
	}

	// Sessions: the member's refresh token stops working.
	session := ae.login(email, strongPassword)
	if st, text := adminConsoleAct(b, "revoke-sessions", "user-status"); st != "ok" || text != "Every session of "+email+" has ended." {
		t.Fatalf("end the sessions: %s %q", st, text)
	}
	ae.wantCode(ae.refreshReq(session.RefreshToken), "INVALID_REFRESH_TOKEN")

	// A reset link, mailed.
	if st, text := adminConsoleAct(b, "send-reset", "user-status"); st != "ok" || text != "A password reset link was sent to "+email+"." {
		t.Fatalf("send a reset: %s %q", st, text)
	}
	if m := ae.resetMail(email); m.Token() == "" {
		t.Fatalf("the reset mail has no token:\n%s", m.Text)
	}

	// Confirm the address: the button goes.
	if st, text := adminConsoleAct(b, "confirm-email", "user-status"); st != "ok" || text != "The address "+email+" is now marked as confirmed." {
		t.Fatalf("confirm the address: %s %q", st, text)
	}
	if u := ae.user(id); !u.EmailConfirmed {
		t.Fatal("after the confirmation, the API says unconfirmed")
	}
	if browserEval[bool](b, "see #confirm-email", `!document.getElementById('confirm-email').hidden`) {
		t.Error("the confirm button is still shown for a confirmed address")
	}

	// Disable: the member's password no longer signs in.
	if st, text := adminConsoleAct(b, "disable-toggle", "user-status"); st != "ok" || text != email+" is disabled: its sessions have ended and it cannot sign in." {
		t.Fatalf("disable: %s %q", st, text)
	}
	ae.wantCode(ae.loginReq(email, strongPassword), "ACCOUNT_DISABLED")
	if text := browserRun(b, "read #disable-toggle", chromedp.Text(chromedp.ID("disable-toggle"))); text != "Enable the account" {
		t.Errorf("#disable-toggle reads %q after disabling", text)
	}
	v = adminConsoleRead(b)
	if v.Fields["fieldDisabled"] != "Yes" || v.Fields["fieldRole"] != "Staff" || v.Fields["fieldConfirmed"] != "Yes" {
		t.Errorf("the page after the actions: %+v", v.Fields)
	}

	// The user's audit events name each action.
	browserRun(b, "click #user-audit", chromedp.Click(chromedp.ID("user-audit")))
	want := "Audit events of " + id + ": page 1"
	browserWaitFor(b, "the user's audit events", `document.getElementById('audit-caption').textContent === `+browserJSString(want)+
		` && !document.getElementById('audit-view').hasAttribute('aria-busy')`)
	types := browserEval[[]string](b, "read the event types", `[...document.querySelectorAll('#audit-body tr')].map((tr) => tr.cells[1].textContent)`)
	for _, typ := range []string{"admin_update_user", "admin_revoke_sessions", "admin_send_password_reset", "register"} {
		if !slices.Contains(types, typ) {
			t.Errorf("the audit events of %s lack %s: %v", email, typ, types)
		}
	}
	if focus := browserEval[string](b, "read the focus", `document.activeElement.id`); focus != "audit-title" {
		t.Errorf("the focus is on #%s, want #audit-title", focus)
	}

	// Delete, after typing the address: a wrong one keeps the button disabled.
	browserRun(b, "click Users", chromedp.Click(chromedp.ID("nav-users")))
	adminConsoleOpenUser(b, email)
	deleteDisabled := func() bool {
		return browserEval[bool](b, "read #delete-submit", `document.getElementById('delete-submit').disabled`)
	}
	if !deleteDisabled() {
		t.Fatal("#delete-submit is enabled before anything was typed")
	}
	pagesType(b, "delete-confirm", strings.ToUpper(email))
	if !deleteDisabled() {
		t.Fatal("#delete-submit is enabled by the address in capitals")
	}
	pagesType(b, "delete-confirm", email[:len(email)-1]+"\r") // Enter with the button disabled: nothing
	if !deleteDisabled() || ae.user(id) == nil {
		t.Fatal("a wrong confirmation deleted, or enabled the button")
	}
	pagesType(b, "delete-confirm", email)
	if deleteDisabled() {
		t.Fatal("#delete-submit stays disabled with the right address")
	}
	ae.clock.Advance(time.Second) // the audit log's newest events, in a known order
	if st, text := adminConsoleAct(b, "delete-submit", "users-status"); st != "ok" || text != "The account "+email+" was deleted." {
		t.Fatalf("delete: %s %q", st, text)
	}
	if u := ae.user(id); u != nil {
		t.Fatalf("after the deletion, the API still has %+v", u)
	}
	v = adminConsoleWaitCaption(b, "24 users match, page 2")
	if v.View != "users-view" || slices.Contains(v.Rows, email) || v.Focus != "users-title" {
		t.Fatalf("the list after the deletion: %+v", v)
	}
}

// adminConsoleLastAdmin: demoting the only ADMIN, itself, is refused with the
// last-admin message, and the role stays.
func adminConsoleLastAdmin(t *testing.T, b *browserSession, ae *adminConsoleEnv) {
	pagesType(b, "search-query", "admin@\r")
	adminConsoleWaitCaption(b, "1 user matches, page 1")
	adminConsoleOpenUser(b, "admin@example.com")
	adminConsoleSelect(b, "role-select", "USER")
	ae.clock.Advance(time.Second)
	st, text := adminConsoleAct(b, "role-save", "user-status")
	if st != "error" || text != "This is the last active admin: it cannot be demoted, disabled or deleted." {
		t.Fatalf("demote the last admin: %s %q", st, text)
	}
	if u := ae.user(ae.ids["admin@example.com"]); u.Role != "ADMIN" {
		t.Fatalf("the last admin is now %s", u.Role)
	}
}

// adminConsoleAuditLog pages the whole audit log forward and back.
func adminConsoleAuditLog(t *testing.T, b *browserSession, ae *adminConsoleEnv) {
	browserRun(b, "click Audit log", chromedp.Click(chromedp.ID("nav-audit")))
	pagesType(b, "audit-user", "")
	browserRun(b, "click Show", chromedp.Click(chromedp.ID("audit-submit")))
	page := func(n int) []string {
		want := fmt.Sprintf("Audit events: page %d", n)
		browserWaitFor(b, "audit page "+fmt.Sprint(n), `document.getElementById('audit-caption').textContent === `+browserJSString(want)+
			` && !document.getElementById('audit-view').hasAttribute('aria-busy')`)
		return browserEval[[]string](b, "read the audit rows", `[...document.querySelectorAll('#audit-body tr')].map((tr) => tr.textContent)`)
	}
	first := page(1)
	if len(first) != 20 {
		t.Fatalf("audit page 1 has %d rows, want 20", len(first))
	}
	// Newest first: the last-admin refusal, then the deletion (a second apart, see
	// adminConsoleUserActions and adminConsoleLastAdmin).
	for i, typ := range []string{"admin_last_admin", "admin_delete_user"} {
		if !strings.Contains(first[i], typ) {
			t.Errorf("audit event %d is %q, want %s", i+1, first[i], typ)
		}
	}
	browserRun(b, "click Next", chromedp.Click(chromedp.ID("audit-next")))
	second := page(2)
	if len(second) == 0 || slices.Equal(second, first) {
		t.Fatalf("audit page 2: %v", second)
	}
	browserRun(b, "click Previous", chromedp.Click(chromedp.ID("audit-prev")))
	if again := page(1); !slices.Equal(again, first) {
		t.Fatalf("audit page 1 again differs:\n%v\n%v", again, first)
	}
}

// adminConsoleStaff: STAFF browses, read-only: no action button, no audit log.
func adminConsoleStaff(t *testing.T, ae *adminConsoleEnv) {
	b := browserStart(t)
	adminConsoleOpen(b, ae.testEnv, "")
	adminConsoleSignIn(b, "staff@example.com")
	v := adminConsoleWaitCaption(b, fmt.Sprintf("%d users match, page 1", 2+adminConsoleMembers))
	if !v.Console || !v.ReadOnly || v.NavAudit || v.AuditView || len(v.Rows) != 20 {
		t.Fatalf("the console for STAFF: %+v", v)
	}
	// From the keyboard: the user's email is a button; Enter opens it, the focus goes to
	// its heading, and Enter on "Back to the list" brings the focus back to the row.
	email := adminConsoleMember(3)
	row := `[...document.querySelectorAll('#users-body button[data-user-id]')].find((el) => el.textContent === ` + browserJSString(email) + `)`
	browserEval[chromedp.Void](b, "focus "+email, row+`.focus()`)
	browserRun(b, "press Enter", chromedp.KeyEvent("\r"))
	browserWaitFor(b, "the page of "+email, `!document.getElementById('user-view').hidden && document.activeElement.id === 'user-title'`)
	v = adminConsoleRead(b)
	if len(v.Actions) != 0 || v.Fields["fieldEmail"] != email {
		t.Fatalf("STAFF's page of a user: %+v; want its fields and no action button", v)
	}
	for _, id := range []string{"user-actions", "role-select", "delete-confirm", "audit-view", "nav-audit"} {
		if browserEval[bool](b, "look for #"+id, `!!document.getElementById(`+browserJSString(id)+`)`) {
			t.Errorf("#%s is in STAFF's page", id)
		}
	}
	browserEval[chromedp.Void](b, "focus #user-back", `document.getElementById('user-back').focus()`)
	browserRun(b, "press Enter", chromedp.KeyEvent("\r"))
	browserWaitFor(b, "the list, focused on "+email, `!document.getElementById('users-view').hidden && document.activeElement.textContent === `+browserJSString(email))
	b.checkPageClean()
}

// adminConsoleUser: a USER is told the console is for staff, and sees nothing else;
// signing out brings the form back.
func adminConsoleUser(t *testing.T, ae *adminConsoleEnv) {
	b := browserStart(t)
	adminConsoleOpen(b, ae.testEnv, "")
	sent := len(b.graphqlRequests())
	adminConsoleSignIn(b, "plain@example.com")
	v := adminConsoleRead(b)
	if !v.StaffOnly || v.Console || v.SignIn || v.StaffText != "This console is for staff: your account has no access to it." ||
		v.Focus != "staff-only-title" {
		t.Fatalf("the console for a USER: %+v", v)
	}
	for _, op := range pagesOps(pagesSentSince(b, sent)) {
		if strings.HasPrefix(op, "TokTokAdmin") {
			t.Errorf("the console sent %s for a USER", op)
		}
	}
	browserRun(b, "click #signout", chromedp.Click(chromedp.ID("signout")))
	browserWaitFor(b, "the sign-in form", `!document.getElementById('signin-view').hidden`)
	if v := adminConsoleRead(b); v.StaffOnly || v.Console || v.Who != "" {
		t.Fatalf("after signing out: %+v", v)
	}
	b.checkPageClean()
}

// adminConsoleFrench: ?lang=fr, and an ADMIN signed in, in French.
func adminConsoleFrench(t *testing.T, ae *adminConsoleEnv) {
	b := browserStart(t)
	v := adminConsoleOpen(b, ae.testEnv, "?lang=fr")
	if v.Lang != "fr" || v.Title != "Connexion à la console d’administration" {
		t.Fatalf("the console with ?lang=fr: %+v", v)
	}
	adminConsoleSignIn(b, "admin@example.com")
	v = adminConsoleWaitCaption(b, fmt.Sprintf("%d utilisateurs correspondent, page 1", 2+adminConsoleMembers))
	if !strings.Contains(v.Who, "admin@example.com (Administrateur)") {
		t.Errorf("who: %q", v.Who)
	}
	v = adminConsoleOpenUser(b, adminConsoleMember(1))
	if v.Fields["fieldConfirmed"] != "Non" || v.Fields["fieldRole"] != "Utilisateur" {
		t.Errorf("the French page of a user: %+v", v.Fields)
	}
	if text := browserRun(b, "read #role-save", chromedp.Text(chromedp.ID("role-save"))); text != "Changer le rôle" {
		t.Errorf("#role-save reads %q", text)
	}
	b.checkPageClean()
}

// TestAdminConsoleOff: with --admin-console=no, /admin and its files are not served (the
// hosted pages still are).
func TestAdminConsoleOff(t *testing.T) {
	loaded, err := config.Load([]string{"--admin-console=no", "--data-dir=" + t.TempDir()}, httpNoEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.HTTP.AdminConsole {
		t.Fatal("--admin-console=no left the console on")
	}
	e := newTestEnv(t, func(c *config.Config) { c.HTTP.AdminConsole = loaded.HTTP.AdminConsole })
	on := newTestEnv(t, nil)
	for _, path := range []string{"/admin", "/admin/", "/admin/admin.js", "/admin/console.css"} {
		for _, tc := range []struct {
			env  *testEnv
			want int
		}{{e, http.StatusNotFound}, {on, http.StatusOK}} {
			if got := consoleGetStatus(t, tc.env, path); got != tc.want {
				t.Errorf("GET %s with AdminConsole=%t: HTTP %d, want %d", path, tc.env.cfg.HTTP.AdminConsole, got, tc.want)
			}
		}
	}
	if got := consoleGetStatus(t, e, "/reset-password"); got != http.StatusOK {
		t.Errorf("GET /reset-password with the console off: HTTP %d", got)
	}
}
