package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// Environment variables of the PostgreSQL tests.
const (
	envPostgresURI     = "LM_TEST_POSTGRES_URI"
	envRequirePostgres = "LM_REQUIRE_POSTGRES"
)

// backend creates fresh, empty databases of one kind for the tests.
type backend struct {
	name    string
	dialect dbutil.Dialect
	// require skips or fails t if the backend is not available.
	require func(t *testing.T)
	// newURI returns the URI of a new empty database.
	newURI func(t *testing.T) string
}

func backends() []backend {
	return []backend{
		{name: "sqlite", dialect: dbutil.SQLite, require: func(*testing.T) {}, newURI: newSQLiteURI},
		{name: "postgres", dialect: dbutil.Postgres, require: requirePostgres, newURI: newPostgresURI},
	}
}

func newSQLiteURI(t *testing.T) string {
	t.Helper()
	// A not yet existing subdirectory checks that Open creates it.
	return "sqlite:" + filepath.Join(t.TempDir(), "data", "landesmessenger.db")
}

// requirePostgres skips t if LM_TEST_POSTGRES_URI is not set, or fails it
// if LM_REQUIRE_POSTGRES=1 demands the PostgreSQL tests.
func requirePostgres(t *testing.T) {
	t.Helper()
	if os.Getenv(envPostgresURI) != "" {
		return
	}
	if os.Getenv(envRequirePostgres) == "1" {
		t.Fatalf("%s=1 but %s is not set: cannot run the PostgreSQL tests", envRequirePostgres, envPostgresURI)
	}
	t.Skipf("PostgreSQL tests skipped: set %s=postgres://user:pass@host:port/db?sslmode=disable to run them (%s=1 makes a missing server a failure)", envPostgresURI, envRequirePostgres)
}

// newPostgresURI creates a throwaway database on the server named by
// LM_TEST_POSTGRES_URI and drops it when the test ends.
func newPostgresURI(t *testing.T) string {
	t.Helper()
	requirePostgres(t)
	base := os.Getenv(envPostgresURI)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("invalid %s: %v", envPostgresURI, redactError(err, uriPasswords(base)))
	}

	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()

	name := "lm_store_test_" + randomHex(t, 6)
	if _, err = admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		t.Fatalf("create test database on %s (the user needs CREATEDB): %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		// Stores are closed by cleanups registered later, which run first.
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// openStore opens uri and closes the store when the test ends.
func openStore(t *testing.T, uri string) *Store {
	t.Helper()
	st, err := Open(context.Background(), uri, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

// TestBackends runs the same suite against SQLite and PostgreSQL.
func TestBackends(t *testing.T) {
	suite := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"OpenAppliesMigrations", testOpenAppliesMigrations},
		{"ReopenIsIdempotent", testReopenIsIdempotent},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"Runs", testRuns},
		{"SharedDatabaseChild", testSharedDatabaseChild},
		{"ManagedAccountsAndRooms", testManagedAccountsAndRooms},
		{"UpgradeFromV1", testUpgradeFromV1},
		{"FederationList", testFederationList},
		{"AdminBot", testAdminBot},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			b.require(t)
			for _, tc := range suite {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
			}
		})
	}
}

func testOpenAppliesMigrations(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	if st.Dialect() != b.dialect {
		t.Errorf("Dialect() = %v, want %v", st.Dialect(), b.dialect)
	}
	if st.DB() == nil || st.DB().VersionTable != VersionTable {
		t.Errorf("DB().VersionTable = %q, want %q", st.DB().VersionTable, VersionTable)
	}
	v, err := st.Version(ctx)
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v <= 0 || v != st.LatestVersion() {
		t.Errorf("Version() = %d, want latest version %d (> 0)", v, st.LatestVersion())
	}
	for _, table := range []string{VersionTable, "homeserver_session", "service_run"} {
		exists, err := st.DB().TableExists(ctx, table)
		if err != nil || !exists {
			t.Errorf("table %s exists = %v, %v; want true", table, exists, err)
		}
	}
}

func testReopenIsIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	uri := b.newURI(t)
	first, err := Open(ctx, uri, zerolog.Nop())
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	want := Session{Homeserver: "https://matrix.example.org", UserID: "@svc:example.org", DeviceID: "DEV1", AccessToken: "syt_1", UpdatedAt: time.UnixMilli(1_700_000_000_000)}
	if err := first.SaveSession(ctx, want); err != nil {
		t.Fatalf("SaveSession: %v", err)
	}
	v1, err := first.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := 0; i < 2; i++ {
		st, err := Open(ctx, uri, zerolog.Nop())
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		v, err := st.Version(ctx)
		if err != nil || v != v1 {
			t.Errorf("reopen %d: Version() = %d, %v; want %d", i, v, err, v1)
		}
		got, err := st.LoadSession(ctx, want.Homeserver)
		if err != nil || got == nil || got.AccessToken != want.AccessToken {
			t.Errorf("reopen %d: data lost: %v, %v", i, got, err)
		}
		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func testSessionRoundTrip(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	const hs = "https://matrix.example.org"

	got, err := st.LoadSession(ctx, hs)
	if err != nil || got != nil {
		t.Fatalf("LoadSession of absent session = %v, %v; want nil, nil", got, err)
	}

	want := Session{
		Homeserver:  hs,
		UserID:      id.UserID("@landesmessenger:example.org"),
		DeviceID:    id.DeviceID("ABCDEFGH"),
		AccessToken: "syt_bGFuZGVz_secret",
		UpdatedAt:   time.UnixMilli(1_760_000_000_123),
	}
	if err := st.SaveSession(ctx, want); err != nil {
		t.Fatalf("SaveSession: %v", err)
	}
	got, err = st.LoadSession(ctx, hs)
	if err != nil || got == nil {
		t.Fatalf("LoadSession = %v, %v", got, err)
	}
	if got.Homeserver != want.Homeserver || got.UserID != want.UserID || got.DeviceID != want.DeviceID ||
		got.AccessToken != want.AccessToken || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("LoadSession = %#v, want %#v", got, want)
	}

	// Saving again replaces the session.
	updated := want
	updated.DeviceID = "NEWDEVICE"
	updated.AccessToken = "syt_new"
	updated.UpdatedAt = want.UpdatedAt.Add(time.Hour)
	if err := st.SaveSession(ctx, updated); err != nil {
		t.Fatalf("SaveSession (update): %v", err)
	}
	got, err = st.LoadSession(ctx, hs)
	if err != nil || got == nil || got.DeviceID != "NEWDEVICE" || got.AccessToken != "syt_new" || !got.UpdatedAt.Equal(updated.UpdatedAt) {
		t.Errorf("LoadSession after update = %v, %v", got, err)
	}

	// Sessions are per homeserver.
	other := Session{Homeserver: "https://other.example.org", UserID: "@svc:other.example.org", DeviceID: "D2", AccessToken: "syt_other"}
	before := time.Now().Add(-time.Second)
	if err := st.SaveSession(ctx, other); err != nil {
		t.Fatalf("SaveSession (other): %v", err)
	}
	if got, err := st.LoadSession(ctx, other.Homeserver); err != nil || got == nil || got.AccessToken != "syt_other" || got.UpdatedAt.Before(before) {
		t.Errorf("LoadSession(other) = %v, %v (zero UpdatedAt must become now)", got, err)
	}

	if err := st.DeleteSession(ctx, hs); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if got, err := st.LoadSession(ctx, hs); err != nil || got != nil {
		t.Errorf("LoadSession after delete = %v, %v; want nil, nil", got, err)
	}
	if err := st.DeleteSession(ctx, hs); err != nil {
		t.Errorf("DeleteSession of absent session: %v", err)
	}
	if got, err := st.LoadSession(ctx, other.Homeserver); err != nil || got == nil {
		t.Errorf("other session lost by delete: %v, %v", got, err)
	}

	if err := st.SaveSession(ctx, Session{}); err == nil {
		t.Error("SaveSession without homeserver succeeded")
	}
}

func testRuns(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	start := time.UnixMilli(1_760_000_000_000)

	id1, err := st.StartRun(ctx, "v0.1.0", start)
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	id2, err := st.StartRun(ctx, "v0.2.0", start.Add(time.Minute))
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	if id1 <= 0 || id2 <= id1 {
		t.Errorf("run IDs %d, %d: want positive and increasing", id1, id2)
	}
	if err := st.StopRun(ctx, id1, start.Add(30*time.Second)); err != nil {
		t.Fatalf("StopRun: %v", err)
	}

	var (
		startedAt int64
		stoppedAt sql.NullInt64
		version   string
	)
	q := "SELECT started_at, stopped_at, version FROM service_run WHERE id=$1"
	if err := st.DB().QueryRow(ctx, q, id1).Scan(&startedAt, &stoppedAt, &version); err != nil {
		t.Fatal(err)
	}
	if startedAt != start.UnixMilli() || !stoppedAt.Valid || stoppedAt.Int64 != start.Add(30*time.Second).UnixMilli() || version != "v0.1.0" {
		t.Errorf("run 1 = %d, %v, %q", startedAt, stoppedAt, version)
	}
	if err := st.DB().QueryRow(ctx, q, id2).Scan(&startedAt, &stoppedAt, &version); err != nil {
		t.Fatal(err)
	}
	if stoppedAt.Valid || version != "v0.2.0" {
		t.Errorf("run 2 = %d, %v, %q; want not stopped", startedAt, stoppedAt, version)
	}

	if err := st.StopRun(ctx, id2+1000, start); !errors.Is(err, ErrRunNotFound) {
		t.Errorf("StopRun of unknown run: %v, want ErrRunNotFound", err)
	}
}

// testSharedDatabaseChild checks that another component (like the mautrix
// crypto store) can keep its own version table in the same database.
func testSharedDatabaseChild(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	childTable := dbutil.BuildUpgradeTable().
		WithRaw(0, 1, 0, "child table", dbutil.TxnModeOn, func(ctx context.Context, db *dbutil.Database) error {
			_, err := db.Exec(ctx, "CREATE TABLE child_thing (k TEXT PRIMARY KEY)")
			return err
		}).Finish()
	child := st.DB().Child("child_version", childTable, nil)
	if err := child.Upgrade(ctx); err != nil {
		t.Fatalf("child Upgrade: %v", err)
	}
	if v, err := st.Version(ctx); err != nil || v != st.LatestVersion() {
		t.Errorf("Version() after child upgrade = %d, %v", v, err)
	}
}

func TestSQLiteURIForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, uri := range []string{
		"sqlite:" + filepath.Join(dir, "a", "one.db"),
		"sqlite://" + filepath.Join(dir, "b", "two.db"),
		"file:" + filepath.Join(dir, "c", "three.db"),
		filepath.Join(dir, "d", "four.db"),
		filepath.Join(dir, "e", "five.db") + "?_pragma=synchronous(NORMAL)",
		"sqlite::memory:",
	} {
		t.Run(uri, func(t *testing.T) {
			st, err := Open(ctx, uri, zerolog.Nop())
			if err != nil {
				t.Fatalf("Open(%q): %v", uri, err)
			}
			defer st.Close()
			if st.Dialect() != dbutil.SQLite {
				t.Errorf("Dialect() = %v", st.Dialect())
			}
			if v, err := st.Version(ctx); err != nil || v <= 0 {
				t.Errorf("Version() = %d, %v", v, err)
			}
			if err := st.SaveSession(ctx, Session{Homeserver: "hs", UserID: "@a:b", DeviceID: "D", AccessToken: "t"}); err != nil {
				t.Errorf("SaveSession: %v", err)
			}
		})
	}
	for _, name := range []string{"a/one.db", "b/two.db", "c/three.db", "d/four.db", "e/five.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("database file %s not created: %v", name, err)
		}
	}
}

func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, newSQLiteURI(t))
	var fk, busy int
	var journal string
	if err := st.DB().QueryRow(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := st.DB().QueryRow(ctx, "PRAGMA journal_mode").Scan(&journal); err != nil || !strings.EqualFold(journal, "wal") {
		t.Errorf("journal_mode = %q, %v; want wal", journal, err)
	}
	if err := st.DB().QueryRow(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
		t.Errorf("busy_timeout = %d, %v; want 5000", busy, err)
	}
}

func TestOpenRejectsBadURIs(t *testing.T) {
	ctx := context.Background()
	for _, uri := range []string{
		"",
		"mysql://user:pw@localhost/db",
		"sqlite:",
		"host=localhost user=lm password=hunter2 dbname=lm",
	} {
		st, err := Open(ctx, uri, zerolog.Nop())
		if err == nil {
			st.Close()
			t.Errorf("Open(%q) succeeded", uri)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), ":pw@") {
			t.Errorf("Open(%q) error leaks a password: %v", uri, err)
		}
	}
}

func TestOpenRefusesHomeserverDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "synapse.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, "CREATE TABLE state_groups_state (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	// The file mode check comes first; this test is about the tables, so
	// the file gets the mode Open would accept whatever the umask is.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, path, zerolog.Nop())
	if err == nil {
		st.Close()
		t.Fatal("Open of a Synapse database succeeded")
	}
	if !errors.Is(err, dbutil.ErrForeignTables) {
		t.Errorf("err = %v, want ErrForeignTables", err)
	}
}

func TestPostgresErrorsHidePassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const pw = "s3cr3t-Pa55"
	for _, uri := range []string{
		// Nothing listens on port 1: connection refused.
		"postgres://lm:" + pw + "@127.0.0.1:1/lm?sslmode=disable&connect_timeout=5",
		"postgresql://lm:" + url.PathEscape(pw+"@/x") + "@127.0.0.1:1/lm?sslmode=disable&connect_timeout=5",
		// Unparseable: bad port.
		"postgres://lm:" + pw + "@127.0.0.1:notaport/lm",
		// Unparseable: bad escape inside the password.
		"postgres://lm:" + pw + "%zz@127.0.0.1/lm",
		// Password as a query parameter.
		"postgres://lm@127.0.0.1:1/lm?sslmode=disable&password=" + pw,
		// Invalid parameter value reported by the driver.
		"postgres://lm:" + pw + "@127.0.0.1:1/lm?sslmode=" + pw,
	} {
		st, err := Open(ctx, uri, zerolog.Nop())
		if err == nil {
			st.Close()
			t.Errorf("Open succeeded for %q", uri)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, pw) || strings.Contains(msg, url.PathEscape(pw)) {
			t.Errorf("error leaks the password: %v", msg)
		}
		for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), pw) {
				t.Errorf("unwrapped error leaks the password: %v", e)
			}
		}
		t.Logf("%s", msg)
	}
}

func TestRedactError(t *testing.T) {
	base := errors.New("dial failed for secretpw")
	err := redactError(base, []string{"secretpw"})
	if strings.Contains(err.Error(), "secretpw") || !strings.Contains(err.Error(), redactedPassword) {
		t.Errorf("redactError = %q", err)
	}
	if !errors.Is(err, base) {
		t.Error("redacted error does not match the original with errors.Is")
	}
	if errors.Unwrap(err) != nil {
		t.Error("redacted error can be unwrapped to the unredacted one")
	}
	plain := errors.New("no secret here")
	if redactError(plain, []string{"secretpw"}) != plain {
		t.Error("errors without the password must stay unchanged")
	}
}

func TestSessionStringHidesToken(t *testing.T) {
	s := Session{Homeserver: "hs", UserID: "@a:b", DeviceID: "D", AccessToken: "syt_topsecret"}
	for _, out := range []string{s.String(), (&s).String()} {
		if strings.Contains(out, "syt_topsecret") {
			t.Errorf("String() leaks the token: %s", out)
		}
	}
}

func testManagedAccountsAndRooms(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	a := ManagedAccount{UserID: "@mmustermann:land.test", Person: "mmustermann", Tenant: "hmdis", Homeserver: "land", Status: "active", DisplayName: "Max Mustermann (HMdIS)"}
	if err := st.SaveAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := st.SetAccountStatus(ctx, a.UserID, "deactivated"); err != nil {
		t.Fatal(err)
	}
	a.Status = "deactivated"
	got, err := st.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != a {
		t.Errorf("Accounts() = %+v, want [%+v]", got, a)
	}
	r := ManagedRoom{Key: "hmdis/allgemein", Homeserver: "land", RoomID: "!a:land.test", Applied: `{"name":"HMdIS Allgemein"}`}
	if err := st.SaveRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.RoomID = "!b:land.test"
	if err := st.SaveRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	rooms, err := st.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || rooms[0] != r {
		t.Errorf("Rooms() = %+v, want [%+v]", rooms, r)
	}
}

// testUpgradeFromV1 opens a database at version 1 (the foundation's schema)
// and checks that the upgrade adds the provisioning tables.
func testUpgradeFromV1(t *testing.T, b backend) {
	ctx := context.Background()
	uri := b.newURI(t)
	st := openStore(t, uri)
	db := st.DB()
	for _, table := range []string{"managed_account", "managed_room", "federation_list", "bot_secret", "bot_event", "audit_log", "override", "pending_command", "onboarding_ack", "onboarding_dm", "onboarding_version", "handover", "offboarding_report", "external_guest", "person_deputy", "archive_attachment", "archive_entry", "archive_head", "legal_hold", "deletion_log", "record_mark", "bridge_inbox", "bridge_outbox", "audit_head"} {
		if _, err := db.Exec(ctx, "DROP TABLE "+table); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, "UPDATE "+VersionTable+" SET version=1"); err != nil {
		t.Fatal(err)
	}
	again := openStore(t, uri)
	for _, table := range []string{"managed_account", "managed_room", "federation_list", "bot_secret", "bot_event", "audit_log", "override", "pending_command", "onboarding_ack", "onboarding_dm", "onboarding_version", "handover", "offboarding_report", "external_guest", "person_deputy", "archive_attachment", "archive_entry", "archive_head", "legal_hold", "deletion_log", "record_mark", "bridge_inbox", "bridge_outbox", "audit_head"} {
		exists, err := again.DB().TableExists(ctx, table)
		if err != nil || !exists {
			t.Errorf("after upgrade from v1: table %s exists=%v err=%v", table, exists, err)
		}
	}
}

func testFederationList(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	if fl, err := st.FederationList(ctx); err != nil || fl != nil {
		t.Fatalf("FederationList() on an empty store = %+v, %v; want nil, nil", fl, err)
	}
	for _, v := range []int64{3, 4} {
		if err := st.SaveFederationList(ctx, v, []byte(fmt.Sprintf(`{"version": %d}`, v))); err != nil {
			t.Fatal(err)
		}
	}
	fl, err := st.FederationList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fl == nil || fl.Version != 4 || string(fl.Document) != `{"version": 4}` || time.Since(fl.AcceptedAt) > time.Minute {
		t.Errorf("FederationList() = %+v, want version 4 just accepted", fl)
	}
}

func testAdminBot(t *testing.T, b backend) {
	ctx := context.Background()
	st := openStore(t, b.newURI(t))
	const bot = "@lm-verwaltung:land.test"
	for i, want := range []bool{true, false} {
		if first, err := st.FirstHandling(ctx, bot, "$cmd"); err != nil || first != want {
			t.Errorf("FirstHandling #%d: got %v, %v; want %v", i+1, first, err, want)
		}
	}
	if first, err := st.FirstHandling(ctx, "@other:land.test", "$cmd"); err != nil || !first {
		t.Errorf("FirstHandling of another bot: got %v, %v; want true", first, err)
	}
	if v, err := st.BotSecret(ctx, bot, "password"); err != nil || v != "" {
		t.Errorf("unset secret: got %q, %v", v, err)
	}
	for _, v := range []string{"eins", "zwei"} {
		if err := st.SetBotSecret(ctx, bot, "password", v); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := st.BotSecret(ctx, bot, "password"); err != nil || v != "zwei" {
		t.Errorf("secret: got %q, %v; want zwei", v, err)
	}

	var ids []int64
	for i, e := range []AuditEntry{
		{Sender: "@a:land.test", Command: "user show", Tenant: "hmdis", Decision: "done", Input: "!benutzer zeigen x"},
		{Sender: "@b:land.test", Command: "room close", Tenant: "hkm", Decision: "awaiting_confirmation"},
		{Sender: "@a:land.test", Command: "room close", Tenant: "hkm", Decision: "confirmed", Input: strings.Repeat("x", 5000)},
	} {
		if i == 2 {
			e.Ref = ids[1]
		}
		id, err := st.AppendAudit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	all, err := st.Audit(ctx, AuditFilter{})
	if err != nil || len(all) != 3 || all[0].ID != ids[0] || all[2].Ref != ids[1] || len(all[2].Input) > 2100 {
		t.Fatalf("Audit(all) = %+v, %v", all, err)
	}
	last, _ := st.Audit(ctx, AuditFilter{Limit: 2})
	if len(last) != 2 || last[0].ID != ids[1] || last[1].ID != ids[2] {
		t.Errorf("Audit(limit 2) = %+v; want the two newest, oldest first", last)
	}
	bySender, _ := st.Audit(ctx, AuditFilter{Sender: "@a:land.test", Tenant: "hkm"})
	if len(bySender) != 1 || bySender[0].ID != ids[2] {
		t.Errorf("Audit(sender a, tenant hkm) = %+v", bySender)
	}

	o := Override{Kind: "person", Key: "nneu", Value: `{"tenant":"hkm"}`, CreatedBy: "@a:land.test", AuditID: ids[0]}
	if err := st.SaveOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	o.Value = `{"tenant":"hmdis"}`
	if err := st.SaveOverride(ctx, o); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveOverride(ctx, Override{Kind: "room", Key: "hkm/x", Value: `{}`, CreatedBy: "@a:land.test"}); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteOverride(ctx, "room", "hkm/x"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Overrides(ctx)
	if err != nil || len(got) != 1 || got[0].Value != `{"tenant":"hmdis"}` || got[0].AuditID != ids[0] {
		t.Errorf("Overrides() = %+v, %v", got, err)
	}

	p := PendingCommand{PromptID: "$prompt", Bot: bot, Room: "!r:land.test", EventID: "$cmd", Sender: "@a:land.test",
		Command: "!raum schliessen hkm/x", FourEyes: true, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(5 * time.Minute), AuditID: ids[1]}
	if err := st.SavePending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.TransitionPending(ctx, "$prompt", "pending", "confirmed"); err != nil || !ok {
		t.Fatalf("first confirmation: %v, %v", ok, err)
	}
	if ok, err := st.TransitionPending(ctx, "$prompt", "pending", "confirmed"); err != nil || ok {
		t.Errorf("second confirmation: got %v, %v; want false", ok, err)
	}
	back, err := st.Pending(ctx, "$prompt")
	if err != nil || back == nil || back.State != "confirmed" || !back.FourEyes || back.Command != p.Command {
		t.Errorf("Pending() = %+v, %v", back, err)
	}
	if none, err := st.Pending(ctx, "$nothing"); none != nil || err != nil {
		t.Errorf("Pending(unknown) = %+v, %v", none, err)
	}
}

// TestSQLiteFileModes is issue 14, finding 12: under umask 022 the database
// and its -wal and -shm files are created 0600 in a 0700 folder, and a
// database that others may read is refused, naming the file and its mode.
func TestSQLiteFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "landesmessenger.db")
	st, err := Open(context.Background(), path, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %04o, want no access for group and others", p, perm)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), path, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "0644") {
		t.Errorf("open a 0644 database: got %v, want an error naming %s and its mode", err, path)
	}
}
