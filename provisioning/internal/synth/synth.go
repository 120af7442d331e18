// Package synth generates synthetic Lands for benchmarks: a configuration
// of the seven tenants of the Hessen example on its four homeservers, with
// as many units and rooms as asked for, and a staff directory of any size.
// The same input always gives the same output.
package synth

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Spec sizes a synthetic Land.
type Spec struct {
	// People is the size of the directory.
	People int
	// Rooms is the number of managed rooms and spaces in total, at least
	// MinRooms: the tenants' spaces and default rooms, four cross-tenant
	// rooms, and units and further tenant rooms in equal parts for the rest.
	Rooms int
}

// MinRooms is the smallest Spec.Rooms: four default rooms (space,
// allgemein, leitung, mitteilungen) for each of the seven tenants and the
// four cross-tenant rooms.
const MinRooms = 7*4 + 4

// Tenant is a tenant of the synthetic Land.
type Tenant struct {
	ID, Name, ShortName, Kind, Homeserver string
	Units                                 []string
	// Rooms are the further tenant rooms, each for the people of one unit;
	// every other one is for the unit's leaders only.
	Rooms []string
}

// Person is a person of the synthetic directory.
type Person struct {
	ID, GivenName, Surname, Office, Tenant, Unit, Role string
}

// DisplayName is the person's display name as the directory derives it.
func (p Person) DisplayName() string { return p.GivenName + " " + p.Surname + " (" + p.Office + ")" }

// Land is a generated configuration and directory.
type Land struct {
	Homeservers []string
	Tenants     []Tenant
	People      []Person
}

// The tenants of config/example.yaml.
var tenants = []Tenant{
	{ID: "stk", Name: "Hessische Staatskanzlei", ShortName: "StK", Kind: "ministry", Homeserver: "land"},
	{ID: "hmdis", Name: "Hessisches Ministerium des Innern, für Sicherheit und Heimatschutz", ShortName: "HMdIS", Kind: "ministry", Homeserver: "land"},
	{ID: "hkm", Name: "Hessisches Kultusministerium", ShortName: "HKM", Kind: "ministry", Homeserver: "land"},
	{ID: "hmuklv", Name: "Hessisches Ministerium für Landwirtschaft und Umwelt, Weinbau, Forsten, Jagd und Heimat", ShortName: "HMLU", Kind: "ministry", Homeserver: "land"},
	{ID: "polizei", Name: "Polizei Hessen", ShortName: "Polizei", Kind: "police", Homeserver: "polizei"},
	{ID: "hessenforst", Name: "HessenForst", ShortName: "HessenForst", Kind: "forestry", Homeserver: "forst"},
	{ID: "schulen", Name: "Schulen in Hessen", ShortName: "Schulen", Kind: "schools", Homeserver: "schule"},
}

// crossRooms are the cross-tenant rooms: id, host, audience, tenants.
var crossRooms = []struct {
	id, name, host, audience string
	tenants                  []string
}{
	{"landeslage", "Landeslage", "land", "leaders", []string{"stk", "hmdis", "polizei"}},
	{"forst-umwelt", "Forst und Umwelt", "land", "all", []string{"hmuklv", "hessenforst"}},
	{"schule-lage", "Schulen Lage", "schule", "leaders", []string{"hkm", "schulen"}},
	{"polizei-forst", "Polizei und Forst", "polizei", "leaders", []string{"polizei", "hessenforst"}},
}

var givenNames = []string{"Anna", "Bernd", "Clara", "Dieter", "Erika", "Frank", "Greta", "Hans", "Ines", "Jonas", "Karin", "Lukas", "Maria", "Nils", "Olga", "Paul"}
var surnames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz"}

// Generate returns the Land of spec.
func Generate(spec Spec) (*Land, error) {
	if spec.Rooms < MinRooms {
		return nil, fmt.Errorf("synth: %d rooms, want at least %d", spec.Rooms, MinRooms)
	}
	rest := spec.Rooms - MinRooms
	units, extra := (rest+1)/2, rest/2
	l := &Land{Homeservers: []string{"land", "polizei", "forst", "schule"}}
	for i, t := range tenants {
		nu := share(units, len(tenants), i)
		ne := share(extra, len(tenants), i)
		if nu == 0 && ne > 0 {
			return nil, fmt.Errorf("synth: tenant %s would have rooms for units but no units", t.ID)
		}
		for u := range nu {
			t.Units = append(t.Units, "u"+strconv.Itoa(u+1))
		}
		for r := range ne {
			t.Rooms = append(t.Rooms, "projekt-"+strconv.Itoa(r+1))
		}
		l.Tenants = append(l.Tenants, t)
	}
	for i := range spec.People {
		t := &l.Tenants[i%len(l.Tenants)]
		k := i / len(l.Tenants)
		p := Person{
			ID:        "p" + strconv.Itoa(i+1),
			GivenName: givenNames[i%len(givenNames)],
			Surname:   surnames[(i/len(givenNames))%len(surnames)],
			Office:    t.ShortName,
			Tenant:    t.ID,
			Role:      "member",
		}
		// One slot in len(units)+1 has no unit.
		if slot := k % (len(t.Units) + 1); slot < len(t.Units) {
			p.Unit = t.Units[slot]
		}
		switch {
		case k%20 == 0:
			p.Role = "admin"
		case k%10 == 5:
			p.Role = "moderator"
		}
		l.People = append(l.People, p)
	}
	return l, nil
}

// share returns part i of n split into k parts as evenly as possible.
func share(n, k, i int) int {
	s := n / k
	if i < n%k {
		s++
	}
	return s
}

// Options are the settings of the configuration file beyond the Land.
type Options struct {
	// StackDir is the local stack's folder ("" for none).
	StackDir string
	// Database is the database URI ("" for the default).
	Database string
	// Directory is the path of the directory file ("" for none).
	Directory string
	// CredentialsFile is where new accounts' passwords go.
	CredentialsFile string
	// Concurrency is provisioning.concurrency (0 for the default).
	Concurrency int
	// LogLevel is log.level ("" for the default).
	LogLevel string
}

// Config renders the configuration file of l.
func (l *Land) Config(o Options) []byte {
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Generated by package synth: a synthetic Land for benchmarks.")
	if o.StackDir != "" {
		line("stack_dir: %q", o.StackDir)
	}
	if o.Database != "" {
		line("database:\n  uri: %q", o.Database)
	}
	if o.LogLevel != "" {
		line("log:\n  level: %s", o.LogLevel)
	}
	line("homeservers:")
	for _, hs := range l.Homeservers {
		line("  - name: %s", hs)
	}
	line("tenants:")
	for _, t := range l.Tenants {
		line("  - id: %s\n    name: %q\n    short_name: %q\n    kind: %s\n    homeserver: %s", t.ID, t.Name, t.ShortName, t.Kind, t.Homeserver)
		if len(t.Units) > 0 {
			line("    units:")
			for _, u := range t.Units {
				line("      - {id: %s, name: \"Einheit %s\"}", u, u)
			}
		}
		if len(t.Rooms) > 0 {
			line("    rooms:")
			for i, r := range t.Rooms {
				audience := "all"
				if i%2 == 1 {
					audience = "leaders"
				}
				class := "internal"
				if i%10 == 9 {
					class = "cross-agency"
				}
				line("      - {id: %s, name: \"Projekt %d\", topic: \"Projektraum %d\", class: %s, audience: %s, units: [%s]}",
					r, i+1, i+1, class, audience, t.Units[i%len(t.Units)])
			}
		}
	}
	line("rooms:")
	for _, r := range crossRooms {
		line("  - {id: %s, name: %q, host: %s, audience: %s, tenants: [%s]}", r.id, r.name, r.host, r.audience, strings.Join(r.tenants, ", "))
	}
	if o.Directory != "" {
		line("directory:\n  - type: file\n    path: %q", o.Directory)
	}
	line("provisioning:")
	if o.CredentialsFile != "" {
		line("  credentials_file: %q", o.CredentialsFile)
	}
	if o.Concurrency > 0 {
		line("  concurrency: %d", o.Concurrency)
	}
	line("  max_removal_share: 0.10")
	return b.Bytes()
}

// Directory renders the directory file of l (YAML).
func (l *Land) Directory() []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by package synth: the directory of a synthetic Land.\npeople:\n")
	for _, p := range l.People {
		fmt.Fprintf(&b, "  - {id: %s, given_name: %s, surname: %s, office: %q, tenant: %s", p.ID, p.GivenName, p.Surname, p.Office, p.Tenant)
		if p.Unit != "" {
			fmt.Fprintf(&b, ", unit: %s", p.Unit)
		}
		fmt.Fprintf(&b, ", role: %s}\n", p.Role)
	}
	return b.Bytes()
}
