// Package store is the database of Landesmessenger. It supports SQLite
// (modernc.org/sqlite, the embedded default) and PostgreSQL (github.com/lib/pq)
// with a single set of migrations, managed by go.mau.fi/util/dbutil and
// applied when the store is opened.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"

	// Database drivers: "postgres" and "sqlite".
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"
)

// VersionTable is the name of the table that records the schema version of
// the Landesmessenger tables. Other users of the same database, such as the
// mautrix crypto store, keep their own version tables.
const VersionTable = "landesmessenger_version"

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open Landesmessenger database. It is safe for concurrent use.
type Store struct {
	db    *dbutil.Database
	table dbutil.UpgradeTable
}

// Open opens the database at uri, applies all pending migrations and returns
// the store. The uri is either a PostgreSQL URL (postgres://... or
// postgresql://..., handled by lib/pq) or an SQLite file given as
// sqlite:PATH, file:PATH or a plain PATH. For SQLite, the parent directory
// is created if necessary and foreign keys, WAL journaling and a busy
// timeout of 5 s are enabled; further driver parameters may follow the path
// after '?'. Queries are logged to log (slow queries only; query arguments
// are never logged). Errors never contain the password of a PostgreSQL URI.
func Open(ctx context.Context, uri string, log zerolog.Logger) (*Store, error) {
	st, err := open(ctx, uri, log)
	if err != nil {
		return nil, redactError(err, uriPasswords(uri))
	}
	return st, nil
}

func open(ctx context.Context, uri string, log zerolog.Logger) (*Store, error) {
	table, err := upgradeTable()
	if err != nil {
		return nil, err
	}
	db, display, err := connect(ctx, uri, log.With().Str("db", "landesmessenger").Logger())
	if err != nil {
		return nil, err
	}
	db.VersionTable = VersionTable
	db.UpgradeTable = table
	// Refuse to create our tables inside the database of a homeserver
	// (Synapse or Dendrite) that was configured by mistake.
	db.IgnoreForeignTables = false
	if err = db.Upgrade(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: migrate %s: %w", display, err)
	}
	return &Store{db: db, table: table}, nil
}

// connect opens and pings the database at uri (as Open reads it), logging
// slow queries without their arguments to log. It returns the database's
// description without secrets.
func connect(ctx context.Context, uri string, log zerolog.Logger) (*dbutil.Database, string, error) {
	target, err := parseURI(uri)
	if err != nil {
		return nil, "", err
	}
	if err = target.prepare(); err != nil {
		return nil, "", err
	}
	raw, err := sql.Open(target.driver, target.dsn)
	if err != nil {
		return nil, "", fmt.Errorf("store: open %s: %w", target.display, err)
	}
	if target.maxOpenConns > 0 {
		raw.SetMaxOpenConns(target.maxOpenConns)
	}
	db, err := dbutil.NewWithDB(raw, target.dialect)
	if err != nil {
		_ = raw.Close()
		return nil, "", fmt.Errorf("store: open %s: %w", target.display, err)
	}
	db.Log = argFreeLogger{dbutil.ZeroLogger(log)}
	if err = raw.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, "", fmt.Errorf("store: connect to %s: %w", target.display, err)
	}
	return db, target.display, nil
}

// upgradeTable builds the migration table from the embedded SQL files.
// dbutil panics on malformed files; that is turned into an error here.
func upgradeTable() (table dbutil.UpgradeTable, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: invalid embedded migrations: %v", r)
		}
	}()
	return dbutil.BuildUpgradeTable().WithFSPath(migrations, "migrations").Finish(), nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// DB returns the underlying dbutil database, for example to let the mautrix
// crypto store share it with its own version table:
// s.DB().Child("crypto_version", cryptoupgrade.Table, log).
func (s *Store) DB() *dbutil.Database {
	return s.db
}

// Dialect returns the SQL dialect of the database (dbutil.SQLite or
// dbutil.Postgres).
func (s *Store) Dialect() dbutil.Dialect {
	return s.db.Dialect
}

// Version returns the current schema version of the Landesmessenger tables,
// or 0 if no migration has been applied.
func (s *Store) Version(ctx context.Context) (int, error) {
	exists, err := s.db.TableExists(ctx, VersionTable)
	if err != nil {
		return 0, fmt.Errorf("store: check version table: %w", err)
	} else if !exists {
		return 0, nil
	}
	var version int
	err = s.db.QueryRow(ctx, "SELECT version FROM "+VersionTable+" LIMIT 1").Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	return version, nil
}

// LatestVersion returns the schema version that Open migrates to.
func (s *Store) LatestVersion() int {
	return len(s.table)
}

// argFreeLogger is a dbutil.DatabaseLogger that drops query arguments, which
// may contain access tokens, before they reach the log.
type argFreeLogger struct {
	dbutil.DatabaseLogger
}

// QueryTiming logs a query without its arguments.
func (l argFreeLogger) QueryTiming(ctx context.Context, method, query string, _ []any, nrows int, duration time.Duration, err error) {
	l.DatabaseLogger.QueryTiming(ctx, method, query, nil, nrows, duration, err)
}

// OpenPlain opens the database at uri (as Open reads it) without applying
// any migrations, for a component that keeps its own tables and versions,
// such as the school bridge's bridgev2 database. Errors never contain the
// password of a PostgreSQL URI.
func OpenPlain(ctx context.Context, uri string, log zerolog.Logger) (*dbutil.Database, error) {
	db, _, err := connect(ctx, uri, log)
	if err != nil {
		return nil, redactError(err, uriPasswords(uri))
	}
	return db, nil
}
