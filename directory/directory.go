// Package directory reads the staff directory of the Land administration:
// the people who get a Matrix account, each belonging to one tenant and
// optionally one organisational unit of it.
//
// People come from sources: a YAML or CSV file (NewFile) or an LDAP server
// (NewLDAP). A source normalises its records and reports every record it
// cannot read as a Problem naming the record's position (file:line or the
// LDAP DN), skipping that record and keeping the rest. Validate then checks
// the people against the configured tenants and units, again skipping and
// reporting only the bad records.
//
// A source that cannot be read as a whole (a missing file, a YAML or CSV
// syntax error, an unreachable LDAP server, a failed bind) returns an error
// instead of problems. Callers must then change nothing: an empty or partial
// result must never be mistaken for a directory whose people have left.
package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/landesmessenger/landesmessenger/config"
)

// PersonID is the stable directory id of a person, e.g. "mmustermann". It
// consists of the characters a-z, 0-9, '.', '_' and '-' and becomes the
// localpart of the person's Matrix user ID.
type PersonID string

// check returns a description of the first problem of id, or "" if id is
// a well-formed person id.
func (id PersonID) check() string {
	if id == "" {
		return "is empty"
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Sprintf("%q has the character %q; allowed are a-z, 0-9, '.', '_' and '-'", string(id), c)
		}
	}
	if id[0] == '_' {
		// Homeservers reserve localparts starting with an underscore for
		// application services (bridges).
		return fmt.Sprintf("%q starts with '_', which homeservers reserve for bridges", string(id))
	}
	return ""
}

// Valid reports whether id is a well-formed person id.
func (id PersonID) Valid() bool {
	return id.check() == ""
}

// Role is the role of a person within their tenant.
type Role string

// The roles, from least to most privileged.
const (
	// RoleMember is an ordinary member. It is the default.
	RoleMember Role = "member"
	// RoleModerator moderates the rooms of the tenant.
	RoleModerator Role = "moderator"
	// RoleAdmin administers the tenant.
	RoleAdmin Role = "admin"
)

// Roles returns all valid roles, from least to most privileged.
func Roles() []Role {
	return []Role{RoleMember, RoleModerator, RoleAdmin}
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	return slices.Contains(Roles(), r)
}

// rank orders roles by privilege; it is -1 for invalid roles.
func (r Role) rank() int {
	return slices.Index(Roles(), r)
}

// Person is one entry of the staff directory.
type Person struct {
	// ID is the stable directory id; it becomes the Matrix localpart.
	ID PersonID
	// GivenName is the given name (Vorname).
	GivenName string
	// Surname is the surname (Nachname).
	Surname string
	// Office is the Dienststelle shown in the display name. It may be
	// empty; the caller then applies the unit's or the tenant's name.
	Office string
	// Tenant is the tenant the person belongs to.
	Tenant config.TenantID
	// Unit is the id of the person's organisational unit within the
	// tenant. It may be empty.
	Unit string
	// Role is the person's role in the tenant; sources default it to
	// RoleMember.
	Role Role
	// Deputy is the optional successor or deputy of the person.
	Deputy PersonID
	// Source is where the person was read from: "people.yaml:12",
	// "people.csv:4" or an LDAP DN.
	Source string
}

// DisplayName returns the Matrix display name of p, "Vorname Nachname
// (Dienststelle)", or "Vorname Nachname" if p has no office.
func (p Person) DisplayName() string {
	name := strings.TrimSpace(p.GivenName + " " + p.Surname)
	if p.Office == "" {
		return name
	}
	return name + " (" + p.Office + ")"
}

// normalize returns p with all fields trimmed, the ids lowercased and an
// empty role replaced by RoleMember. The role is lowercased too: roles
// are keywords, not names.
func normalize(p Person) Person {
	p.ID = PersonID(strings.ToLower(strings.TrimSpace(string(p.ID))))
	p.GivenName = strings.TrimSpace(p.GivenName)
	p.Surname = strings.TrimSpace(p.Surname)
	p.Office = strings.TrimSpace(p.Office)
	p.Tenant = config.TenantID(strings.TrimSpace(string(p.Tenant)))
	p.Unit = strings.TrimSpace(p.Unit)
	p.Role = Role(strings.ToLower(strings.TrimSpace(string(p.Role))))
	if p.Role == "" {
		p.Role = RoleMember
	}
	p.Deputy = PersonID(strings.ToLower(strings.TrimSpace(string(p.Deputy))))
	return p
}

// Problem is a record of a source that was skipped, or another issue of a
// source that did not stop it from being read.
type Problem struct {
	// Source is the position of the record: "people.yaml:12" or an LDAP
	// DN.
	Source string
	// Msg describes the problem. It never contains secrets.
	Msg string
}

// String formats the problem as "SOURCE: MSG".
func (p Problem) String() string {
	return p.Source + ": " + p.Msg
}

// Result is what a source read: the people it could read and the problems
// of the records it skipped.
type Result struct {
	// People holds the people read, sorted by ID, each non-empty ID
	// once. People without an ID are left for Validate to report.
	People []Person
	// Problems holds the problems in the order they were found.
	Problems []Problem
}

// Source is a place people are read from.
type Source interface {
	// Name names the source in logs, e.g. the file path or LDAP URL.
	Name() string
	// Read reads all people of the source. Records that cannot be read
	// are skipped and reported in Result.Problems. Read returns an error
	// only if the source as a whole cannot be read; the caller must then
	// change nothing.
	Read(ctx context.Context) (Result, error)
}

// ReadAll reads every source and merges the results with Merge. If any
// source returns an error, ReadAll returns that error and no result, so
// that the caller changes nothing.
func ReadAll(ctx context.Context, sources ...Source) (Result, error) {
	results := make([]Result, 0, len(sources))
	for _, s := range sources {
		r, err := s.Read(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("read %s: %w", s.Name(), err)
		}
		results = append(results, r)
	}
	return Merge(results...), nil
}

// Merge combines the results of several sources. A person whose ID occurs
// in an earlier result (or earlier in the same result) is skipped and
// reported as a duplicate naming the first occurrence's source. The
// problems of all results come first, in order, followed by the duplicate
// problems. The people of the merged result are sorted by ID.
func Merge(results ...Result) Result {
	var merged Result
	var people []Person
	for _, r := range results {
		merged.Problems = append(merged.Problems, r.Problems...)
		people = append(people, r.People...)
	}
	var dups []Problem
	merged.People, dups = dedupe(people)
	merged.Problems = append(merged.Problems, dups...)
	sortByID(merged.People)
	return merged
}

// dedupe keeps the first person of each ID, in order, and reports every
// later one as a duplicate. People without an ID are kept: they are
// reported by Validate.
func dedupe(people []Person) ([]Person, []Problem) {
	first := make(map[PersonID]string, len(people))
	kept := make([]Person, 0, len(people))
	var problems []Problem
	for _, p := range people {
		if p.ID != "" {
			if src, ok := first[p.ID]; ok {
				problems = append(problems, Problem{
					Source: p.Source,
					Msg:    fmt.Sprintf("duplicate id %q, first at %s", string(p.ID), src),
				})
				continue
			}
			first[p.ID] = p.Source
		}
		kept = append(kept, p)
	}
	return kept, problems
}

// sortByID sorts people by ID, keeping the order of equal IDs.
func sortByID(people []Person) {
	slices.SortStableFunc(people, func(a, b Person) int {
		return strings.Compare(string(a.ID), string(b.ID))
	})
}
