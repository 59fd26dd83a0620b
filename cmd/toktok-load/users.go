package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/toktok/toktok/credentials"
)

// The admin listing: -op users-search and users-page (see the package comment).

// adminOp reports whether op loads the admin listing.
func adminOp(op string) bool { return op == "users-search" || op == "users-page" }

const (
	// usersSearchQuery is users-search's request: the first page of 20 matches. Not the
	// count of matches, which costs in proportion to them (a broad prefix matches a tenth
	// of the accounts): a page's cost is the figure to follow as the store grows.
	usersSearchQuery = `query($q: String) { users(filter: {query: $q}, first: 20) { nodes { id email } pageInfo { endCursor hasNextPage } } }`
	// usersCountQuery is the untimed probe before a users-search run.
	usersCountQuery = `query($q: String) { users(filter: {query: $q}, first: 1) { totalCount nodes { id email } } }`
	// usersPageQuery is users-page's request, and its walk's with first: 100.
	usersPageQuery = `query($first: Int, $after: String) { users(first: $first, after: $after) { nodes { id email } pageInfo { endCursor hasNextPage } } }`
	// deepPageSize is the page users-page times.
	deepPageSize = 20
	// walkPageSize is the page of users-page's untimed walk, the most users allows.
	walkPageSize = 100
)

type userConnection struct {
	TotalCount int
	Nodes      []struct{ ID, Email string }
	PageInfo   struct {
		EndCursor   *string
		HasNextPage bool
	}
}

// users sends one users request; an answer without users is EMPTY.
func (c *client) users(ctx context.Context, access, query string, vars map[string]any) (userConnection, string, error) {
	var d struct{ Users *userConnection }
	code, err := c.do(ctx, access, query, vars, &d)
	switch {
	case code != "":
		return userConnection{}, code, err
	case d.Users == nil || len(d.Users.Nodes) == 0:
		return userConnection{}, "EMPTY", errors.New("users: no user in the answer")
	}
	return *d.Users, "", nil
}

func (c *client) usersSearch(ctx context.Context, access, q string) (string, error) {
	_, code, err := c.users(ctx, access, usersSearchQuery, map[string]any{"q": q})
	return code, err
}

// usersPage asks the deepPageSize users after the cursor after ("": the first page).
func (c *client) usersPage(ctx context.Context, access, after string) (string, error) {
	_, code, err := c.users(ctx, access, usersPageQuery, pageVars(deepPageSize, after))
	return code, err
}

func pageVars(first int, after string) map[string]any {
	vars := map[string]any{"first": first}
	if after != "" {
		vars["after"] = after
	}
	return vars
}

// searchQuery is a users-search filter: PREFIX- and the leading digits of the index of a
// random account, 1 to all of them.
func (r *runner) searchQuery() string {
	i := strconv.Itoa(rand.IntN(r.o.users))
	return r.o.prefix + "-" + i[:1+rand.IntN(len(i))]
}

// setupAdmin signs the admin in and checks the listing answers: users-search searches
// PREFIX- once; users-page walks the listing and keeps the cursors.
func (r *runner) setupAdmin(ctx context.Context, o options, pub []byte, out io.Writer) error {
	a := account{email: o.adminEmail, sentEmail: o.adminEmail, pwd: o.adminPassword}
	if pub != nil {
		var err error
		if a.sentEmail, err = credentials.EncryptForJWK(pub, a.email); err != nil {
			return err
		}
		if a.pwd, err = credentials.EncryptForJWK(pub, o.adminPassword); err != nil {
			return err
		}
	}
	p, code, err := r.c.login(ctx, r.anon[0], a, o.antispam)
	if err != nil {
		return fmt.Errorf("signing the admin %s in: %s %v", o.adminEmail, code, err)
	}
	r.admin = p.AccessToken
	if o.op == "users-search" {
		conn, code, err := r.c.users(ctx, r.admin, usersCountQuery, map[string]any{"q": o.prefix + "-"})
		if err != nil {
			return fmt.Errorf("users(filter: {query: %q}) as %s: %s %v (the admin must be STAFF or ADMIN; the accounts must exist)",
				o.prefix+"-", o.adminEmail, code, err)
		}
		fmt.Fprintf(out, "users: %d accounts match %s-\n", conn.TotalCount, o.prefix)
		return nil
	}
	start := time.Now()
	r.cursors, err = walkCursors(ctx, r.c, r.admin, o.users)
	if err != nil {
		return fmt.Errorf("walking the users as %s: %w (the admin must be STAFF or ADMIN)", o.adminEmail, err)
	}
	fmt.Fprintf(out, "users: %d page cursors, the deepest after %d users, walked in %s\n",
		len(r.cursors), (len(r.cursors)-1)*walkPageSize, time.Since(start).Round(time.Millisecond))
	return nil
}

// walkCursors pages through the listing by walkPageSize up to rows users and returns the
// first page's cursor ("") and the end cursor of every page that more users follow.
func walkCursors(ctx context.Context, c *client, access string, rows int) ([]string, error) {
	cursors := []string{""}
	seen := 0
	for after := ""; ; {
		conn, code, err := c.users(ctx, access, usersPageQuery, pageVars(walkPageSize, after))
		if err != nil {
			return nil, fmt.Errorf("after %d users: %s %w", seen, code, err)
		}
		seen += len(conn.Nodes)
		if !conn.PageInfo.HasNextPage || conn.PageInfo.EndCursor == nil || seen >= rows {
			return cursors, nil
		}
		after = *conn.PageInfo.EndCursor
		cursors = append(cursors, after)
	}
}
