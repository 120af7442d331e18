package directory_test

import (
	"context"
	"fmt"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory"
)

// Reading the staff directory from a file, checking it against the
// configured tenants and units, and reporting every skipped record.
func Example() {
	res, err := directory.ReadAll(context.Background(), directory.NewFile("testdata/people.csv"))
	if err != nil {
		// The directory as a whole is unreadable: change nothing.
		fmt.Println(err)
		return
	}
	tenants := map[config.TenantID]map[string]bool{
		"hmdis":       {"z1": true},
		"hessenforst": {"fa-kassel": true},
	}
	people, problems := directory.Validate(res.People, tenants)
	for _, p := range people {
		fmt.Printf("@%s: %s, %s\n", p.ID, p.DisplayName(), p.Role)
	}
	for _, p := range append(res.Problems, problems...) {
		fmt.Println(p)
	}
	// Output:
	// @emusterfrau: Erika Musterfrau, member
	// @fbauer: Fritz Bauer, jun., member
	// @mmustermann: Max Mustermann (HMdIS Referat Z 1), admin
	// testdata/people.csv:1: unknown column "email" is ignored, want one of id, given_name, surname, office, tenant, unit, role, deputy
	// testdata/people.csv:4: has 5 fields, want 9 as in the header
	// testdata/people.csv:6: duplicate id "mmustermann", first at testdata/people.csv:2
}

// An LDAP source maps attributes and group memberships to the fields of a
// person.
func ExampleNewLDAP() {
	src := directory.NewLDAP(directory.LDAPConfig{
		URL:          "ldaps://ldap.hessen.de",
		BindDN:       "cn=landesmessenger,ou=services,dc=hessen,dc=de",
		BindPassword: "read from a secret file",
		BaseDN:       "ou=people,dc=hessen,dc=de",
		Attributes:   map[string]string{"id": "sAMAccountName", "role": "employeeType"},
		Groups: []directory.GroupMapping{
			{DN: "cn=hmdis-z1,ou=groups,dc=hessen,dc=de", Tenant: "hmdis", Unit: "z1"},
			{DN: "cn=hmdis-admins,ou=groups,dc=hessen,dc=de", Role: directory.RoleAdmin},
		},
	})
	fmt.Println(src.Name())
	// Output: ldaps://ldap.hessen.de
}
