package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// sqlitePragmas are the modernc.org/sqlite DSN parameters applied to every
// SQLite connection. _txlock=immediate makes write transactions take the
// write lock up front, which avoids SQLITE_BUSY on lock upgrades in WAL mode.
const sqlitePragmas = "_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"

// schemeRegex matches URIs of the form scheme://...
var schemeRegex = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// target describes how to open the database named by a URI.
type target struct {
	driver       string // database/sql driver name
	dialect      string // dbutil dialect
	dsn          string // driver connection string; may contain a password
	display      string // description of the database without secrets
	sqlitePath   string // SQLite file path, empty for PostgreSQL
	maxOpenConns int    // 0 means unlimited
}

// parseURI interprets the uri accepted by Open.
func parseURI(uri string) (*target, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return nil, errors.New("store: empty database URI")
	}
	lower := strings.ToLower(uri)
	switch {
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return parsePostgres(uri)
	case strings.HasPrefix(lower, "sqlite:"):
		return parseSQLite(uri[len("sqlite:"):])
	case strings.HasPrefix(lower, "file:"):
		return parseSQLite(uri[len("file:"):])
	}
	if m := schemeRegex.FindStringSubmatch(uri); m != nil {
		return nil, fmt.Errorf("store: unsupported database URI scheme %q (use postgres://, sqlite: or a file path)", m[1])
	}
	return parseSQLite(uri)
}

func parsePostgres(uri string) (*target, error) {
	u, err := url.Parse(uri)
	if err != nil {
		// url.Error contains the whole URI, so only keep the reason.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return nil, fmt.Errorf("store: invalid PostgreSQL URI: %w", err)
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return nil, fmt.Errorf("store: invalid PostgreSQL URI %s: no host", redactedURL(u))
	}
	return &target{
		driver:  "postgres",
		dialect: "postgres",
		dsn:     uri,
		display: "PostgreSQL database " + redactedURL(u),
	}, nil
}

// redactedURL returns u with the password in its user info and in a
// password query parameter replaced.
func redactedURL(u *url.URL) string {
	clean := *u
	if q := clean.Query(); q.Has("password") {
		q.Set("password", redactedPassword)
		clean.RawQuery = q.Encode()
	}
	return clean.Redacted()
}

// parseSQLite interprets the part of an SQLite URI after the scheme:
// a path, optionally followed by '?' and modernc.org/sqlite parameters.
func parseSQLite(rest string) (*target, error) {
	path, query, _ := strings.Cut(rest, "?")
	// sqlite:///abs/path and file:///abs/path name absolute paths.
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, errors.New("store: empty SQLite database path")
	}
	if strings.Contains(path, "=") {
		// Most likely a key=value PostgreSQL DSN, which may contain a
		// password: do not echo it, and do not create a file named like it.
		return nil, errors.New("store: database URI looks like a key=value PostgreSQL DSN; use a postgres:// URI instead")
	}
	dsn := path + "?" + sqlitePragmas
	if query != "" {
		// User parameters come last so they can override the defaults.
		dsn += "&" + query
	}
	t := &target{
		driver:     "sqlite",
		dialect:    "sqlite3",
		dsn:        dsn,
		display:    "SQLite database " + path,
		sqlitePath: path,
	}
	if path == ":memory:" {
		// Every connection would get its own in-memory database.
		t.maxOpenConns = 1
		t.sqlitePath = ""
	}
	return t, nil
}

// prepare creates the parent directory of an SQLite database file (0700)
// and the file itself (0600), so that the database, which holds bot
// passwords, access tokens, crypto keys, the archive and raw mail, is never
// readable by other users whatever the umask. An existing database file, or
// its -wal or -shm file, that the group or others may read or write is
// refused with an error naming the file and its mode (fail closed: the
// operator runs chmod 600). SQLite gives -wal and -shm the mode of the
// database file.
func (t *target) prepare() error {
	if t.sqlitePath == "" {
		return nil
	}
	dir := filepath.Dir(t.sqlitePath)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: create directory for %s: %w", t.display, err)
	}
	f, err := os.OpenFile(t.sqlitePath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		return f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("store: create %s: %w", t.display, err)
	}
	for _, path := range []string{t.sqlitePath, t.sqlitePath + "-wal", t.sqlitePath + "-shm"} {
		fi, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return fmt.Errorf("store: %s has mode %04o: it holds passwords, tokens and keys, so group and others must have no access (chmod 600 %s)", path, perm, path)
		}
	}
	return nil
}
