package stack

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/lib/pq" // the PostgreSQL driver for creating Synapse's databases

	"github.com/sirupsen/logrus"
)

// pgRunner runs PostgreSQL's tools. PostgreSQL refuses to run as root, so as
// root they run as the postgres system user through runuser.
type pgRunner struct {
	binDir string
	asUser string // empty: run as ourselves
	uid    int
	gid    int
}

func newPGRunner() (*pgRunner, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	r := &pgRunner{binDir: bin, uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres system user: %w", err)
		}
		r.asUser = "postgres"
		r.uid, _ = strconv.Atoi(u.Uid)
		r.gid, _ = strconv.Atoi(u.Gid)
	}
	return r, nil
}

func (r *pgRunner) command(ctx context.Context, tool string, args ...string) *exec.Cmd {
	exe := filepath.Join(r.binDir, tool)
	if r.asUser == "" {
		return exec.CommandContext(ctx, exe, args...)
	}
	return exec.CommandContext(ctx, "runuser", append([]string{"-u", r.asUser, "--", exe}, args...)...)
}

// chown gives path to the PostgreSQL user when running as root.
func (r *pgRunner) chown(path string) error {
	if r.asUser == "" {
		return nil
	}
	return os.Chown(path, r.uid, r.gid)
}

// canReach reports whether the PostgreSQL user can enter dir.
func (r *pgRunner) canReach(ctx context.Context, dir string) bool {
	if r.asUser == "" {
		return true
	}
	return exec.CommandContext(ctx, "runuser", "-u", r.asUser, "--", "test", "-x", dir).Run() == nil
}

// pgRoot picks the folder of the stack's PostgreSQL cluster: DIR/postgres,
// or, when the postgres user cannot enter DIR (a root-owned 0700 temporary
// folder, say), a folder of its own under the system's temporary folder that
// is named after DIR. stack.json records which.
func (r *pgRunner) pgRoot(ctx context.Context, dir string) string {
	if r.canReach(ctx, dir) {
		return filepath.Join(dir, "postgres")
	}
	return filepath.Join(os.TempDir(), "landesmessenger-pg-"+shortHash(dir))
}

// StartPostgres creates (the first time) and starts a PostgreSQL cluster
// for dir on host:port, and creates the named databases. The cluster lives
// in dir/postgres, or outside dir when the postgres system user cannot enter
// it (see Purge). Stop it with Stop.
func StartPostgres(ctx context.Context, log logrus.FieldLogger, dir, host string, port int, databases []string) (*Postgres, error) {
	r, err := newPGRunner()
	if err != nil {
		return nil, err
	}
	root := r.pgRoot(ctx, dir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := r.chown(root); err != nil {
		return nil, err
	}
	pg := &Postgres{
		DataDir:      filepath.Join(root, "data"),
		Host:         host,
		Port:         port,
		User:         "postgres",
		PasswordFile: filepath.Join(dir, "postgres.password"),
		LogFile:      filepath.Join(root, "postgres.log"),
	}
	password, err := writeSecret(pg.PasswordFile)
	if err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(pg.DataDir, "PG_VERSION")) {
		pwfile := filepath.Join(root, "initdb.pw")
		if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
			return nil, err
		}
		if err := r.chown(pwfile); err != nil {
			return nil, err
		}
		out, err := r.command(ctx, "initdb", "-D", pg.DataDir, "-U", pg.User, "--pwfile", pwfile,
			"-A", "scram-sha-256", "-E", "UTF8", "--locale", "C").CombinedOutput()
		os.Remove(pwfile)
		if err != nil {
			return nil, fmt.Errorf("initdb %s: %w\n%s", pg.DataDir, err, out)
		}
	}
	// Only TCP on the loopback address; no Unix socket outside the cluster.
	opts := fmt.Sprintf("-c listen_addresses=%s -p %d -c unix_socket_directories=%s -c fsync=off", host, port, root)
	log.WithFields(logrus.Fields{"addr": fmt.Sprintf("%s:%d", host, port), "data_dir": pg.DataDir}).Info("starting PostgreSQL")
	if out, err := r.command(ctx, "pg_ctl", "-D", pg.DataDir, "-l", pg.LogFile, "-o", opts, "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w\n%s\nlast lines of %s:\n%s", err, out, pg.LogFile, tail(pg.LogFile, 20))
	}
	pid, err := postmasterPID(pg.DataDir)
	if err != nil {
		return nil, err
	}
	pg.PID = pid
	if err := pg.CreateDatabases(ctx, databases...); err != nil {
		return pg, err
	}
	return pg, nil
}

// postmasterPID reads the server's PID from the first line of postmaster.pid.
func postmasterPID(dataDir string) (int, error) {
	f, err := os.Open(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read PostgreSQL PID: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan()
	return strconv.Atoi(strings.TrimSpace(s.Text()))
}

// URI returns the connection URI of database db.
func (pg *Postgres) URI(password, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(pg.User, password),
		Host:     fmt.Sprintf("%s:%d", pg.Host, pg.Port),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Password reads the superuser's password from its file.
func (pg *Postgres) Password() (string, error) { return readTrimmed(pg.PasswordFile) }

// CreateDatabases creates the named databases (C collation, as Synapse
// requires) unless they exist.
func (pg *Postgres) CreateDatabases(ctx context.Context, names ...string) error {
	password, err := pg.Password()
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", pg.URI(password, "postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, name := range names {
		var exists bool
		if err := db.QueryRowContext(ctx, "SELECT EXISTS(SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return fmt.Errorf("check database %s: %w", name, err)
		}
		if exists {
			continue
		}
		// Synapse requires C collation; names are ours (synapse_<homeserver>).
		q := fmt.Sprintf(`CREATE DATABASE %q ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, name)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

// Stop stops the cluster with a fast shutdown and waits for it to go.
func (pg *Postgres) Stop() error {
	// SIGINT is PostgreSQL's fast shutdown.
	if alive(pg.PID, "postgres") {
		_ = syscall.Kill(pg.PID, syscall.SIGINT)
	}
	return stopPID(pg.PID, "postgres", 30*time.Second)
}
