//go:build linux

package ldaptest_test

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/landesmessenger/landesmessenger/directory/ldaptest"
)

const groups = `dn: uid=erika,ou=people,{{base}}
objectClass: inetOrgPerson
uid: erika
cn: Erika Musterfrau
sn: Musterfrau

dn: cn=a,ou=groups,{{base}}
objectClass: groupOfNames
cn: a
member: cn=nobody
member: uid=erika,ou=people,{{base}}

dn: cn=b,ou=groups,{{base}}
objectClass: groupOfNames
cn: b
member: cn=nobody
`

// TestServer starts a server, moves a member between groups, reads the
// groups as the reader account and stops the server, which leaves no
// process.
func TestServer(t *testing.T) {
	srv := ldaptest.Start(t, groups)
	erika := "uid=erika,ou=people," + ldaptest.BaseDN
	a, b := "cn=a,ou=groups,"+ldaptest.BaseDN, "cn=b,ou=groups,"+ldaptest.BaseDN
	srv.MoveMember(t, erika, a, b)

	conn, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(srv.BindDN, srv.BindPassword); err != nil {
		t.Fatalf("bind as %s: %v", srv.BindDN, err)
	}
	for dn, want := range map[string][]string{a: {"cn=nobody"}, b: {"cn=nobody", erika}} {
		res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"member"}, nil))
		if err != nil {
			t.Fatalf("search %s: %v", dn, err)
		}
		if got := res.Entries[0].GetAttributeValues("member"); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("members of %s: got %q, want %q", dn, got, want)
		}
	}

	// pgrep finds the server by its configuration while it runs: the
	// check of Stop is not vacuous.
	pid := strconv.Itoa(srv.PID())
	out, _ := exec.Command("pgrep", "-f", "slapd.conf -h "+srv.URL).Output()
	if got := strings.Fields(string(out)); !slices.Contains(got, pid) {
		t.Errorf("pgrep: got pids %q, want %s among them", got, pid)
	}

	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: got %v, want nil", err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: got %v, want nil", err)
	}
	if conn, err := ldap.DialURL(srv.URL); err == nil {
		conn.Close()
		t.Errorf("dial %s after Stop: got a connection, want an error", srv.URL)
	}
}
