//go:build linux

package directory

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory/ldaptest"
)

// ldapPeople are the people and groups of the test directory. Tenant and
// unit come from the groups; kweber's role comes from employeeType and
// mmustermann's deputy from description (standing in for a site-specific
// attribute).
const ldapPeople = `dn: uid=mmustermann,ou=people,{{base}}
objectClass: inetOrgPerson
uid: MMustermann
cn: Max Mustermann
givenName: Max
sn: Mustermann
physicalDeliveryOfficeName: HMdIS Referat Z 1
description: emusterfrau

dn: uid=emusterfrau,ou=people,{{base}}
objectClass: inetOrgPerson
uid: emusterfrau
cn: Erika Musterfrau
givenName: Erika
sn: Musterfrau

dn: uid=kweber,ou=people,{{base}}
objectClass: inetOrgPerson
uid: kweber
cn: Karl Weber
givenName: Karl
sn: Weber
employeeType: Moderator

dn: uid=jschmidt,ou=people,{{base}}
objectClass: inetOrgPerson
uid: jschmidt
cn: Jana Schmidt
givenName: Jana
sn: Schmidt
physicalDeliveryOfficeName: Polizeipräsidium Nordhessen

dn: uid=fbauer,ou=people,{{base}}
objectClass: inetOrgPerson
uid: fbauer
cn: Fritz Bauer
givenName: Fritz
sn: Bauer

dn: uid=lmeier,ou=people,{{base}}
objectClass: inetOrgPerson
uid: lmeier
cn: Lena Meier
givenName: Lena
sn: Meier

dn: uid=twouids,ou=people,{{base}}
objectClass: inetOrgPerson
uid: twouids
uid: zweiuids
cn: Zwei Uids
givenName: Zwei
sn: Uids

dn: uid=broken,ou=people,{{base}}
objectClass: account
objectClass: extensibleObject
uid: broken
givenName: Bernd

dn: cn=hmdis-z1,ou=groups,{{base}}
objectClass: groupOfNames
cn: hmdis-z1
member: uid=mmustermann,ou=people,{{base}}
member: uid=emusterfrau,ou=people,{{base}}
member: uid=broken,ou=people,{{base}}

dn: cn=hmdis-z2,ou=groups,{{base}}
objectClass: groupOfNames
cn: hmdis-z2
member: uid=kweber,ou=people,{{base}}
member: uid=lmeier,ou=people,{{base}}

dn: cn=polizei,ou=groups,{{base}}
objectClass: groupOfNames
cn: polizei
member: UID=JSchmidt, OU=People, DC=Hessen, DC=De
member: uid=lmeier,ou=people,{{base}}

dn: cn=forst-kassel,ou=groups,{{base}}
objectClass: groupOfNames
cn: forst-kassel
member: uid=fbauer,ou=people,{{base}}
member: uid=twouids,ou=people,{{base}}

dn: cn=admins,ou=groups,{{base}}
objectClass: groupOfNames
cn: admins
member: uid=mmustermann,ou=people,{{base}}
`

// ldapTestConfig returns the configuration the tests read the test
// directory with.
func ldapTestConfig(url string) LDAPConfig {
	group := func(cn string) string { return "cn=" + cn + ",ou=groups," + ldaptest.BaseDN }
	return LDAPConfig{
		URL:          url,
		BindDN:       ldaptest.ReaderDN,
		BindPassword: ldaptest.ReaderPassword,
		BaseDN:       "ou=people," + ldaptest.BaseDN,
		Filter:       "(uid=*)",
		Attributes:   map[string]string{"role": "employeeType", "deputy": "description"},
		Groups: []GroupMapping{
			{DN: group("hmdis-z1"), Tenant: "hmdis", Unit: "z1"},
			{DN: group("hmdis-z2"), Tenant: "hmdis", Unit: "z2"},
			{DN: group("polizei"), Tenant: "polizei"},
			{DN: group("forst-kassel"), Tenant: "hessenforst", Unit: "fa-kassel"},
			{DN: group("admins"), Role: RoleAdmin},
		},
		Timeout: 10 * time.Second,
	}
}

// ldapTestTenants are the tenants and units of the test directory.
var ldapTestTenants = map[config.TenantID]map[string]bool{
	"hmdis":       {"z1": true, "z2": true},
	"polizei":     nil,
	"hessenforst": {"fa-kassel": true},
}

// ldapPerson returns the person of the test directory with the given uid
// and fields.
func ldapPerson(uid, given, sur, office string, tenant config.TenantID, unit string, role Role, deputy PersonID) Person {
	return Person{
		ID: PersonID(uid), GivenName: given, Surname: sur, Office: office,
		Tenant: tenant, Unit: unit, Role: role, Deputy: deputy,
		Source: "uid=" + uid + ",ou=people," + ldaptest.BaseDN,
	}
}

func TestLDAP(t *testing.T) {
	srv := ldaptest.Start(t, ldapPeople)
	ctx := context.Background()
	src := NewLDAP(ldapTestConfig(srv.URL))
	// Small pages make the source follow the paging cookie; without
	// paging the server's size limit would fail the search.
	src.(*ldapSource).pageSize = 2
	if got, want := src.Name(), srv.URL; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}

	read := func() ([]Person, []string) {
		t.Helper()
		res, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		valid, problems := Validate(res.People, ldapTestTenants)
		var all []string
		for _, p := range append(res.Problems, problems...) {
			all = append(all, p.String())
		}
		return valid, all
	}

	dn := func(uid string) string { return "uid=" + uid + ",ou=people," + ldaptest.BaseDN }
	wantProblems := []string{
		dn("lmeier") + `: tenant "polizei" from group cn=polizei,ou=groups,dc=hessen,dc=de conflicts with tenant "hmdis" from group cn=hmdis-z2,ou=groups,dc=hessen,dc=de`,
		dn("twouids") + `: attribute uid (id) has 2 values, want one`,
		dn("broken") + `: missing surname`,
	}

	people, problems := read()
	want := []Person{
		ldapPerson("emusterfrau", "Erika", "Musterfrau", "", "hmdis", "z1", RoleMember, ""),
		ldapPerson("fbauer", "Fritz", "Bauer", "", "hessenforst", "fa-kassel", RoleMember, ""),
		ldapPerson("jschmidt", "Jana", "Schmidt", "Polizeipräsidium Nordhessen", "polizei", "", RoleMember, ""),
		ldapPerson("kweber", "Karl", "Weber", "", "hmdis", "z2", RoleModerator, ""),
		ldapPerson("mmustermann", "Max", "Mustermann", "HMdIS Referat Z 1", "hmdis", "z1", RoleAdmin, "emusterfrau"),
	}
	if !reflect.DeepEqual(people, want) {
		t.Errorf("people:\ngot  %+v\nwant %+v", people, want)
	}
	if !sameElements(problems, wantProblems) {
		t.Errorf("problems:\ngot  %q\nwant %q", problems, wantProblems)
	}

	// Move Erika Musterfrau from HMdIS unit Z 1 to the forestry office
	// Kassel.
	srv.MoveMember(t, dn("emusterfrau"), "cn=hmdis-z1,ou=groups,"+ldaptest.BaseDN, "cn=forst-kassel,ou=groups,"+ldaptest.BaseDN)

	people, problems = read()
	want[0].Tenant, want[0].Unit = "hessenforst", "fa-kassel"
	if !reflect.DeepEqual(people, want) {
		t.Errorf("people after the move:\ngot  %+v\nwant %+v", people, want)
	}
	if !sameElements(problems, wantProblems) {
		t.Errorf("problems after the move:\ngot  %q\nwant %q", problems, wantProblems)
	}
}

// sameElements reports whether a and b hold the same strings in any
// order: LDAP servers return entries in no defined order.
func sameElements(a, b []string) bool {
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestLDAPError(t *testing.T) {
	srv := ldaptest.Start(t, ldapPeople)
	ctx := context.Background()
	tests := []struct {
		name    string
		change  func(cfg *LDAPConfig)
		wantErr string
	}{
		{
			name:    "wrong password",
			change:  func(cfg *LDAPConfig) { cfg.BindPassword = "wrong-password-1234" },
			wantErr: "bind as " + ldaptest.ReaderDN + `: LDAP Result Code 49 "Invalid Credentials": `,
		},
		{
			name:    "no password",
			change:  func(cfg *LDAPConfig) { cfg.BindPassword = "" },
			wantErr: "bind as " + ldaptest.ReaderDN + `: LDAP Result Code 206 "Empty password not allowed by the client": ldap: empty password not allowed by the client`,
		},
		{
			name:    "missing group",
			change:  func(cfg *LDAPConfig) { cfg.Groups[1].DN = "cn=hmdis-z9,ou=groups," + ldaptest.BaseDN },
			wantErr: "group cn=hmdis-z9,ou=groups,dc=hessen,dc=de does not exist",
		},
		{
			name:    "missing base",
			change:  func(cfg *LDAPConfig) { cfg.BaseDN = "ou=staff," + ldaptest.BaseDN },
			wantErr: `search ou=staff,dc=hessen,dc=de for (uid=*): LDAP Result Code 32 "No Such Object": `,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapTestConfig(srv.URL)
			tc.change(&cfg)
			res, err := NewLDAP(cfg).Read(ctx)
			if err == nil {
				t.Fatalf("got %+v, want error %q", res, tc.wantErr)
			}
			if got := err.Error(); got != tc.wantErr {
				t.Errorf("got error %q, want %q", got, tc.wantErr)
			}
			if res.People != nil || res.Problems != nil {
				t.Errorf("got result %+v with the error, want none", res)
			}
			if cfg.BindPassword != "" && strings.Contains(err.Error(), cfg.BindPassword) {
				t.Errorf("error %q contains the bind password", err)
			}
		})
	}

	t.Run("size limit", func(t *testing.T) {
		// The server returns two entries and then an error: the source
		// reports it instead of a partial result.
		cfg := ldapTestConfig(srv.URL)
		cfg.BindDN = ldaptest.LimitedDN
		res, err := NewLDAP(cfg).Read(ctx)
		want := `search ou=people,dc=hessen,dc=de for (uid=*): LDAP Result Code 4 "Size Limit Exceeded": `
		if err == nil || err.Error() != want {
			t.Errorf("got %+v, %v, want error %q", res, err, want)
		}
	})
}

func TestLDAPUnreachable(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	cfg := ldapTestConfig(ldaptest.UnreachableURL(t))
	cfg.Timeout = 2 * time.Second
	res, err := NewLDAP(cfg).Read(context.Background())
	if err == nil {
		t.Fatalf("got %+v, want an error", res)
	}
	if want := "connect to " + cfg.URL + ": "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got error %q, want it to start with %q", err, want)
	}
	if strings.Contains(err.Error(), cfg.BindPassword) {
		t.Errorf("error %q contains the bind password", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewLDAP(cfg).Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v with a cancelled context, want context.Canceled", err)
	}
}

func TestLDAPConfigError(t *testing.T) {
	tests := []struct {
		name    string
		change  func(cfg *LDAPConfig)
		wantErr string
	}{
		{"no URL", func(cfg *LDAPConfig) { cfg.URL = "" }, "LDAP configuration: no LDAP URL"},
		{"no base DN", func(cfg *LDAPConfig) { cfg.BaseDN = "" }, "LDAP configuration: no base DN"},
		{"invalid filter", func(cfg *LDAPConfig) { cfg.Filter = "uid=*" }, `LDAP configuration: filter "uid=*": LDAP Result Code 201 "Filter Compile Error": ldap: filter does not start with an '('`},
		{"unknown field", func(cfg *LDAPConfig) { cfg.Attributes["email"] = "mail" }, `LDAP configuration: attribute mapping for unknown field "email", want one of id, given_name, surname, office, tenant, unit, role, deputy`},
		{"id unmapped", func(cfg *LDAPConfig) { cfg.Attributes["id"] = "" }, "LDAP configuration: no attribute mapped to the field id"},
		{"invalid group DN", func(cfg *LDAPConfig) { cfg.Groups[0].DN = "hmdis" }, `LDAP configuration: group DN "hmdis": invalid DN`},
		{"invalid group role", func(cfg *LDAPConfig) { cfg.Groups[4].Role = "chef" }, `LDAP configuration: group cn=admins,ou=groups,dc=hessen,dc=de: invalid role "chef"; want member, moderator or admin`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapTestConfig("ldap://127.0.0.1:1/")
			tc.change(&cfg)
			_, err := NewLDAP(cfg).Read(context.Background())
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("got error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestFinding13LDAPTLS is issue 14, finding 13: against a real slapd with
// a test CA, StartTLS on ldap:// and ldaps:// read the directory with the
// CA configured; without it (the system's CAs) both fail on the
// certificate instead of falling back to clear text.
func TestFinding13LDAPTLS(t *testing.T) {
	srv := ldaptest.StartTLS(t, ldapPeople)
	ctx := context.Background()
	pem, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("no CA in", srv.CAFile)
	}
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
	}{
		{"StartTLS", srv.URL, true},
		{"ldaps", srv.LDAPSURL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ldapTestConfig(tc.url)
			cfg.StartTLS, cfg.RootCAs = tc.startTLS, roots
			res, err := NewLDAP(cfg).Read(ctx)
			if err != nil || len(res.People) == 0 {
				t.Fatalf("read over TLS with the test CA: %d people, %v", len(res.People), err)
			}
			cfg.RootCAs = nil
			if _, err := NewLDAP(cfg).Read(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("read over TLS without the test CA: %v, want a certificate error", err)
			}
		})
	}
}
