//go:build linux

package ldaptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The directory tree and accounts of every test server.
const (
	// BaseDN is the suffix of the server's database. Start replaces
	// {{base}} in the LDIF it loads with it.
	BaseDN = "dc=hessen,dc=de"
	// ReaderDN is the service account directory sources bind as, with
	// the password ReaderPassword. Unlike the root DN it is subject to
	// SizeLimit.
	ReaderDN       = "cn=landesmessenger," + BaseDN
	ReaderPassword = "reader-secret-0815"
	// LimitedDN is an account, with the password ReaderPassword, whose
	// searches, paged or not, return at most two entries.
	LimitedDN = "cn=limited," + BaseDN
	// SizeLimit is the largest number of entries an unpaged search
	// returns to anyone but the root DN.
	SizeLimit = 3

	// rootDN and rootPassword are the server's administrator, who may
	// write; Server.Conn binds as it.
	rootDN       = "cn=admin," + BaseDN
	rootPassword = "root-secret-4711"
)

// slapdConfig is an old-style slapd.conf for the test server. It loads the
// schemas core, cosine, inetorgperson and nis, serves an mdb database for
// BaseDN and lets authenticated users read everything.
const slapdConfig = `# slapd.conf of a directory test server.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
{{modules}}
pidfile {{dir}}/slapd.pid
argsfile {{dir}}/slapd.args
{{tls}}
sizelimit size.soft={{sizelimit}} size.hard={{sizelimit}} size.prtotal=unlimited

database mdb
maxsize 16777216
suffix "{{base}}"
rootdn "{{rootdn}}"
rootpw {{rootpw}}
directory {{dir}}/db
limits dn.exact="{{limited}}" size.soft=2 size.hard=2 size.prtotal=2
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
`

// baseLDIF is loaded before the test's LDIF: the suffix, the service
// accounts and the containers ou=people and ou=groups.
const baseLDIF = `dn: {{base}}
objectClass: dcObject
objectClass: organization
o: Land Hessen
dc: hessen

dn: {{reader}}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: landesmessenger
userPassword: {{readerpw}}

dn: {{limited}}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: limited
userPassword: {{readerpw}}

dn: ou=people,{{base}}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{{base}}
objectClass: organizationalUnit
ou: groups
`

// Server is a running slapd started by Start.
type Server struct {
	// URL is the ldap:// URL the server listens on, on loopback.
	URL string
	// LDAPSURL is its ldaps:// URL and CAFile the PEM file of the test CA
	// that signed its certificate (for 127.0.0.1), if it was started with
	// StartTLS; "" otherwise.
	LDAPSURL, CAFile string
	// BindDN and BindPassword are the credentials of the reader account
	// (ReaderDN, ReaderPassword), as a directory source uses them.
	BindDN       string
	BindPassword string

	cmd      *exec.Cmd
	conf     string
	exited   chan error
	output   *lockedBuffer
	stopOnce sync.Once
	stopErr  error
}

// Start starts a slapd on a free loopback port with a fresh database
// holding the base tree (see the package documentation) and then the
// entries of ldif, in which {{base}} stands for BaseDN. It returns once the
// server accepts a bind. The server is stopped, and checked to be gone,
// when the test ends.
//
// Start skips the test under -short and fails it if slapd or slapadd is
// missing.
func Start(t testing.TB, ldif string) *Server {
	t.Helper()
	return start(t, ldif, false)
}

// StartTLS is Start with TLS: a test CA signs a certificate for 127.0.0.1,
// the server offers StartTLS on URL and listens on LDAPSURL too; CAFile is
// the CA's certificate.
func StartTLS(t testing.TB, ldif string) *Server {
	t.Helper()
	return start(t, ldif, true)
}

func start(t testing.TB, ldif string, withTLS bool) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts slapd; skipped with -short")
	}
	slapd := findSbin(t, "slapd")
	slapadd := findSbin(t, "slapadd")

	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	modules := ""
	// Debian builds the backends as modules.
	if _, err := os.Stat("/usr/lib/ldap/back_mdb.so"); err == nil {
		modules = "modulepath /usr/lib/ldap\nmoduleload back_mdb"
	}
	tlsConf, caFile := "", ""
	if withTLS {
		tlsConf, caFile = writeTestCA(t, dir)
	}
	expand := strings.NewReplacer(
		"{{tls}}", tlsConf,
		"{{modules}}", modules,
		"{{dir}}", dir,
		"{{sizelimit}}", fmt.Sprint(SizeLimit),
		"{{base}}", BaseDN,
		"{{rootdn}}", rootDN,
		"{{rootpw}}", rootPassword,
		"{{reader}}", ReaderDN,
		"{{readerpw}}", ReaderPassword,
		"{{limited}}", LimitedDN,
	).Replace
	conf := filepath.Join(dir, "slapd.conf")
	data := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(conf, []byte(expand(slapdConfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte(expand(baseLDIF)+"\n"+expand(ldif)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapadd, "-f", conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}

	// The free port may be taken between probing and slapd binding it;
	// try a few.
	var lastErr error
	for range 5 {
		url, ldapsURL := UnreachableURL(t), ""
		if withTLS {
			ldapsURL = strings.Replace(UnreachableURL(t), "ldap://", "ldaps://", 1)
		}
		s, err := run(slapd, conf, url, ldapsURL)
		if err == nil {
			s.CAFile = caFile
			t.Cleanup(func() {
				if err := s.Stop(); err != nil {
					t.Errorf("stop slapd: %v", err)
				}
			})
			return s
		}
		lastErr = err
	}
	t.Fatalf("start slapd: %v", lastErr)
	return nil
}

// findSbin returns the path of the program name, also looking in
// /usr/sbin, which is not on every PATH. If it is missing, the test fails.
func findSbin(t testing.TB, name string) string {
	t.Helper()
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	path := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found: install OpenLDAP (Debian: apt-get install slapd ldap-utils) or run with -short", name)
	}
	return path
}

// UnreachableURL returns an ldap:// URL on loopback with a port that
// nothing listens on right now.
func UnreachableURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "ldap://" + addr + "/"
}

// lockedBuffer is a bytes.Buffer safe for a writing process and a reading
// test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs slapd in the foreground with the configuration conf on url and
// waits until it accepts a bind. On an error nothing of it is left.
func run(slapd, conf, url, ldapsURL string) (*Server, error) {
	s := &Server{
		URL: url, LDAPSURL: ldapsURL, BindDN: ReaderDN, BindPassword: ReaderPassword,
		conf: conf, exited: make(chan error, 1), output: &lockedBuffer{},
	}
	s.cmd = exec.Command(slapd, "-f", conf, "-h", strings.TrimSpace(url+" "+ldapsURL), "-d", "0")
	s.cmd.Stdout = s.output
	s.cmd.Stderr = s.output
	// Kill slapd if the test binary dies without running its cleanups.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.exited <- s.cmd.Wait() }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-s.exited:
			s.exited <- err
			return nil, fmt.Errorf("slapd exited: %v\n%s", err, s.output)
		default:
		}
		conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = conn.Bind(rootDN, rootPassword)
			conn.Close()
			if err == nil {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			stopErr := s.Stop()
			return nil, errors.Join(fmt.Errorf("slapd does not answer on %s: %v\n%s", url, err, s.output), stopErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PID returns the process ID of the server.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop stops the server by its PID: SIGTERM, and SIGKILL if it has not
// exited ten seconds later. It then checks that no process of the server
// is left and reports one as an error. Stop may be called more than once
// (Start's cleanup calls it too); later calls return the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	pid := s.cmd.Process.Pid
	var errs []error
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, err)
		}
		<-s.exited
		errs = append(errs, fmt.Errorf("slapd (pid %d) did not stop on SIGTERM and was killed", pid))
	}
	// Wait has reaped the process: nothing may be left of it, and no
	// other process may serve its configuration.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		errs = append(errs, fmt.Errorf("slapd (pid %d) is still there after stopping: %v", pid, err))
	}
	if pgrep, err := exec.LookPath("pgrep"); err == nil {
		out, err := exec.Command(pgrep, "-f", s.conf).Output()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			// No process matches.
		case err != nil:
			errs = append(errs, fmt.Errorf("pgrep -f %s: %v", s.conf, err))
		default:
			errs = append(errs, fmt.Errorf("got slapd processes %s after stopping, want none", strings.Fields(string(out))))
		}
	}
	return errors.Join(errs...)
}

// Conn returns a connection bound as the server's root DN, which may
// modify the directory. It is closed when the test ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(rootDN, rootPassword); err != nil {
		t.Fatal(err)
	}
	return conn
}

// MoveMember moves the entry member from the groupOfNames from to the
// groupOfNames to: it deletes member from the member attribute of from and
// adds it to that of to.
func (s *Server) MoveMember(t testing.TB, member, from, to string) {
	t.Helper()
	conn := s.Conn(t)
	leave := ldap.NewModifyRequest(from, nil)
	leave.Delete("member", []string{member})
	join := ldap.NewModifyRequest(to, nil)
	join.Add("member", []string{member})
	for _, req := range []*ldap.ModifyRequest{leave, join} {
		if err := conn.Modify(req); err != nil {
			t.Fatalf("modify %s: %v", req.DN, err)
		}
	}
}
