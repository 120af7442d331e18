//go:build linux

package directory

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

// The directory of the test slapd.
const (
	testBaseDN       = "dc=hessen,dc=de"
	testRootDN       = "cn=admin,dc=hessen,dc=de"
	testRootPassword = "root-secret-4711"
	// testReaderDN is the service account the sources bind as. Unlike
	// the root DN it is subject to the server's size limit.
	testReaderDN       = "cn=landesmessenger,dc=hessen,dc=de"
	testReaderPassword = "reader-secret-0815"
	// testLimitedDN is an account whose searches, paged or not, return
	// at most two entries.
	testLimitedDN = "cn=limited,dc=hessen,dc=de"
	// testSizeLimit is the size limit of unpaged searches; the test
	// directory holds more people, so only a paged search reads them all.
	testSizeLimit = 3
)

// slapdConfig is an old-style slapd.conf for the test server. It loads the
// schemas core, cosine, inetorgperson and nis, serves an mdb database for
// testBaseDN and lets authenticated users read everything.
const slapdConfig = `# slapd.conf of a directory test server.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
{{modules}}
pidfile {{dir}}/slapd.pid
argsfile {{dir}}/slapd.args
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

// slapdBaseLDIF is loaded with slapadd before the server starts: the
// suffix, the reader account and the containers ou=people and ou=groups.
const slapdBaseLDIF = `dn: {{base}}
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

// testSlapd is an OpenLDAP server run by a test.
type testSlapd struct {
	// URL is the ldap:// URL the server listens on.
	URL string
	cmd *exec.Cmd
}

// findSbin returns the path of the program name, also looking in /usr/sbin,
// which is not on every PATH. If it is missing, the test fails unless it
// runs with -short, in which case it is skipped.
func findSbin(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("LDAP tests start slapd; skipped with -short")
	}
	if path, err := exec.LookPath(name); err == nil {
		return path
	}
	path := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found: install OpenLDAP (Debian: apt-get install slapd ldap-utils) or run with -short", name)
	}
	return path
}

// startSlapd starts a slapd on a free loopback port with a fresh database
// holding slapdBaseLDIF and then the entries of ldif, waits until it
// answers and stops it when the test ends.
func startSlapd(t *testing.T, ldif string) *testSlapd {
	t.Helper()
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
	expand := strings.NewReplacer(
		"{{modules}}", modules,
		"{{dir}}", dir,
		"{{sizelimit}}", fmt.Sprint(testSizeLimit),
		"{{base}}", testBaseDN,
		"{{rootdn}}", testRootDN,
		"{{rootpw}}", testRootPassword,
		"{{reader}}", testReaderDN,
		"{{readerpw}}", testReaderPassword,
		"{{limited}}", testLimitedDN,
	).Replace
	conf := filepath.Join(dir, "slapd.conf")
	data := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(conf, []byte(expand(slapdConfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte(expand(slapdBaseLDIF)+"\n"+expand(ldif)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapadd, "-f", conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}

	// The free port may be taken between probing and slapd binding it;
	// try a few.
	var lastErr error
	for range 5 {
		url := "ldap://" + freeAddr(t) + "/"
		s, err := runSlapd(t, slapd, conf, url)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("start slapd: %v", lastErr)
	return nil
}

// freeAddr returns a loopback address with a port that is free now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
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

// runSlapd runs slapd in the foreground on url and waits until it accepts
// a bind. On success the server is stopped by its PID when the test ends.
func runSlapd(t *testing.T, slapd, conf, url string) (*testSlapd, error) {
	t.Helper()
	var stderr lockedBuffer
	cmd := exec.Command(slapd, "-f", conf, "-h", url, "-d", "0")
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	// Kill slapd if the test binary dies without running its cleanups.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		select {
		case <-exited:
			return nil
		case <-time.After(10 * time.Second):
			// Kill waits no more for a clean shutdown.
			if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				return err
			}
			<-exited
			return fmt.Errorf("slapd (pid %d) did not stop on SIGTERM and was killed", cmd.Process.Pid)
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("slapd exited: %v\n%s", err, stderr.String())
		default:
		}
		conn, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			err = conn.Bind(testRootDN, testRootPassword)
			conn.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = stop()
			return nil, fmt.Errorf("slapd does not answer on %s: %v\n%s", url, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop slapd: %v", err)
		}
		// Wait has reaped the process: nothing is left of it.
		if err := syscall.Kill(cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("slapd (pid %d) is still there after stopping: %v", cmd.Process.Pid, err)
		}
	})
	return &testSlapd{URL: url, cmd: cmd}, nil
}

// rootConn returns a connection bound as the root DN, closed when the test
// ends.
func (s *testSlapd) rootConn(t *testing.T) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(testRootDN, testRootPassword); err != nil {
		t.Fatal(err)
	}
	return conn
}
