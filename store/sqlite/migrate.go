package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrationFS holds the schema migrations, compiled in so a binary always carries the
// schema it was written against.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads migrations/NNNN_name.sql from fsys. Versions must run 1, 2, 3… with
// no gap or duplicate: the database records only the highest version applied, so a hole
// would be skipped for ever on databases that are already past it.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list migrations: %w", err)
	}
	migs := make([]migration, 0, len(names))
	for _, name := range names {
		num, _, ok := strings.Cut(path.Base(name), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 {
			return nil, fmt.Errorf("sqlite: migration %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("sqlite: read migration %s: %w", name, err)
		}
		migs = append(migs, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return a.version - b.version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s has version %d, want %d (versions must be contiguous from 1)", m.name, m.version, i+1)
		}
	}
	return migs, nil
}

// migrate brings the database to the last of migs. The version applied is PRAGMA
// user_version, which lives in the database header and so commits or rolls back with the
// migrations themselves: a failed migration leaves the database at the previous version,
// never half-changed. The transaction is BEGIN IMMEDIATE (the DSN's _txlock), so two
// processes opening the same new file serialise here and the second finds nothing to do.
func migrate(ctx context.Context, db *sql.DB, migs []migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr("migrate: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit; the error that matters is returned below

	var current int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return mapErr("migrate: read version", err)
	}
	latest := len(migs)
	switch {
	case current > latest:
		// A newer binary has been here; running against a schema we do not know would
		// corrupt data more quietly than refusing to start.
		return fmt.Errorf("sqlite: database schema version %d is newer than this binary's %d", current, latest)
	case current == latest:
		return nil
	}
	for _, m := range migs[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return mapErr("migrate: apply "+m.name, err)
		}
	}
	// PRAGMA takes no bound parameters; latest is an int we computed.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(latest)); err != nil {
		return mapErr("migrate: record version", err)
	}
	if err := tx.Commit(); err != nil {
		return mapErr("migrate: commit", err)
	}
	return nil
}
