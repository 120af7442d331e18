package directory

import (
	"fmt"
	"strings"

	"github.com/landesmessenger/landesmessenger/config"
)

// Validate checks people against the known tenants and their units: tenants
// maps every tenant ID to the set of its unit IDs. It first normalises each
// person as the sources do (trimmed fields, lowercased IDs, RoleMember for
// an empty role).
//
// A person is skipped, with one problem per finding naming the person's
// Source, if the ID, given name, surname or tenant is missing, the ID or
// deputy is not a well-formed PersonID, the person is their own deputy, the
// tenant is unknown, the unit is not a unit of the tenant or the role is
// not one of Roles. Of several people with the same ID the first is kept
// (and checked) and each later one is reported as a duplicate naming the
// first's source. Validate does not check that a deputy exists.
//
// Validate returns the valid people in the order given.
func Validate(people []Person, tenants map[config.TenantID]map[string]bool) (valid []Person, problems []Problem) {
	normalized := make([]Person, len(people))
	for i, p := range people {
		normalized[i] = normalize(p)
	}
	kept, dups := dedupe(normalized)
	valid = make([]Person, 0, len(kept))
	for _, p := range kept {
		msgs := check(p, tenants)
		for _, msg := range msgs {
			problems = append(problems, Problem{Source: p.Source, Msg: msg})
		}
		if len(msgs) == 0 {
			valid = append(valid, p)
		}
	}
	return valid, append(problems, dups...)
}

// check returns the problems of one normalised person.
func check(p Person, tenants map[config.TenantID]map[string]bool) []string {
	var msgs []string
	if p.ID == "" {
		msgs = append(msgs, "missing id")
	} else if msg := p.ID.check(); msg != "" {
		msgs = append(msgs, "invalid id: "+msg)
	}
	if p.GivenName == "" {
		msgs = append(msgs, "missing given_name")
	}
	if p.Surname == "" {
		msgs = append(msgs, "missing surname")
	}
	switch units, ok := tenants[p.Tenant]; {
	case p.Tenant == "":
		msgs = append(msgs, "missing tenant")
	case !ok:
		msgs = append(msgs, fmt.Sprintf("unknown tenant %q", string(p.Tenant)))
	case p.Unit != "" && !units[p.Unit]:
		msgs = append(msgs, fmt.Sprintf("unknown unit %q of tenant %q", p.Unit, string(p.Tenant)))
	}
	if !p.Role.Valid() {
		msgs = append(msgs, fmt.Sprintf("invalid role %q; want %s", string(p.Role), roleList()))
	}
	if p.Deputy != "" {
		if msg := p.Deputy.check(); msg != "" {
			msgs = append(msgs, "invalid deputy: "+msg)
		} else if p.Deputy == p.ID {
			msgs = append(msgs, "is their own deputy")
		}
	}
	return msgs
}

// roleList returns the valid roles as "member, moderator or admin".
func roleList() string {
	roles := Roles()
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
