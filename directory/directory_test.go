package directory_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/directory"
)

func TestDisplayName(t *testing.T) {
	tests := []struct {
		person directory.Person
		want   string
	}{
		{directory.Person{GivenName: "Max", Surname: "Mustermann", Office: "HMdIS Referat Z 1"}, "Max Mustermann (HMdIS Referat Z 1)"},
		{directory.Person{GivenName: "Erika", Surname: "Musterfrau"}, "Erika Musterfrau"},
		{directory.Person{GivenName: "Jürgen", Surname: "Groß-Weiß", Office: "Forstamt Kassel"}, "Jürgen Groß-Weiß (Forstamt Kassel)"},
		{directory.Person{Surname: "Schmidt"}, "Schmidt"},
	}
	for _, tc := range tests {
		if got := tc.person.DisplayName(); got != tc.want {
			t.Errorf("DisplayName(%+v) = %q, want %q", tc.person, got, tc.want)
		}
	}
}

func TestPersonIDValid(t *testing.T) {
	tests := []struct {
		id   directory.PersonID
		want bool
	}{
		{"mmustermann", true},
		{"max.mustermann-2_a", true},
		{"", false},
		{"MMustermann", false},
		{"max mustermann", false},
		{"müller", false},
		{"_bridgebot", false},
		{"max@hessen", false},
	}
	for _, tc := range tests {
		if got := tc.id.Valid(); got != tc.want {
			t.Errorf("PersonID(%q).Valid() = %t, want %t", tc.id, got, tc.want)
		}
	}
}

// testTenants are the tenants and units Validate is tested with.
var testTenants = map[config.TenantID]map[string]bool{
	"hmdis":   {"z1": true, "z2": true},
	"polizei": nil,
}

func TestValidate(t *testing.T) {
	valid := directory.Person{ID: "mmustermann", GivenName: "Max", Surname: "Mustermann", Tenant: "hmdis", Unit: "z1", Role: directory.RoleModerator, Deputy: "emusterfrau", Source: "people.yaml:3"}
	with := func(change func(p *directory.Person)) directory.Person {
		p := valid
		change(&p)
		return p
	}
	tests := []struct {
		name         string
		person       directory.Person
		want         *directory.Person // nil: invalid
		wantProblems []string
	}{
		{name: "valid", person: valid, want: &valid},
		{
			name: "normalised",
			person: with(func(p *directory.Person) {
				p.ID = " MMustermann "
				p.GivenName = " Max"
				p.Role = ""
				p.Deputy = "EMusterfrau"
			}),
			want: ptr(with(func(p *directory.Person) { p.Role = directory.RoleMember })),
		},
		{name: "no unit", person: with(func(p *directory.Person) { p.Unit = "" }), want: ptr(with(func(p *directory.Person) { p.Unit = "" }))},
		{name: "admin", person: with(func(p *directory.Person) { p.Role = "Admin" }), want: ptr(with(func(p *directory.Person) { p.Role = directory.RoleAdmin }))},
		{name: "missing id", person: with(func(p *directory.Person) { p.ID = " " }), wantProblems: []string{"people.yaml:3: missing id"}},
		{
			name:         "invalid id",
			person:       with(func(p *directory.Person) { p.ID = "max mustermann" }),
			wantProblems: []string{`people.yaml:3: invalid id: "max mustermann" has the character ' '; allowed are a-z, 0-9, '.', '_' and '-'`},
		},
		{
			name:         "id reserved for bridges",
			person:       with(func(p *directory.Person) { p.ID = "_bot" }),
			wantProblems: []string{`people.yaml:3: invalid id: "_bot" starts with '_', which homeservers reserve for bridges`},
		},
		{
			name:         "missing names",
			person:       with(func(p *directory.Person) { p.GivenName = ""; p.Surname = "" }),
			wantProblems: []string{"people.yaml:3: missing given_name", "people.yaml:3: missing surname"},
		},
		{name: "missing tenant", person: with(func(p *directory.Person) { p.Tenant = "" }), wantProblems: []string{"people.yaml:3: missing tenant"}},
		{name: "unknown tenant", person: with(func(p *directory.Person) { p.Tenant = "hmdi" }), wantProblems: []string{`people.yaml:3: unknown tenant "hmdi"`}},
		{name: "unknown unit", person: with(func(p *directory.Person) { p.Unit = "z3" }), wantProblems: []string{`people.yaml:3: unknown unit "z3" of tenant "hmdis"`}},
		{
			name:         "unit of a tenant without units",
			person:       with(func(p *directory.Person) { p.Tenant = "polizei" }),
			wantProblems: []string{`people.yaml:3: unknown unit "z1" of tenant "polizei"`},
		},
		{
			name:         "invalid role",
			person:       with(func(p *directory.Person) { p.Role = "chef" }),
			wantProblems: []string{`people.yaml:3: invalid role "chef"; want member, moderator or admin`},
		},
		{
			name:         "invalid deputy",
			person:       with(func(p *directory.Person) { p.Deputy = "erika musterfrau" }),
			wantProblems: []string{`people.yaml:3: invalid deputy: "erika musterfrau" has the character ' '; allowed are a-z, 0-9, '.', '_' and '-'`},
		},
		{name: "own deputy", person: with(func(p *directory.Person) { p.Deputy = "MMustermann" }), wantProblems: []string{"people.yaml:3: is their own deputy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := directory.Validate([]directory.Person{tc.person}, testTenants)
			var want []directory.Person
			if tc.want != nil {
				want = []directory.Person{*tc.want}
			}
			if len(got) != len(want) || len(got) > 0 && got[0] != want[0] {
				t.Errorf("got valid %+v, want %+v", got, want)
			}
			if got := problemStrings(problems); !reflect.DeepEqual(got, tc.wantProblems) {
				t.Errorf("got problems %q, want %q", got, tc.wantProblems)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateDuplicates(t *testing.T) {
	person := func(id directory.PersonID, tenant config.TenantID, source string) directory.Person {
		return directory.Person{ID: id, GivenName: "G", Surname: "S", Tenant: tenant, Source: source}
	}
	tests := []struct {
		name         string
		people       []directory.Person
		wantSources  []string
		wantProblems []string
	}{
		{
			name:        "first kept, later ones reported",
			people:      []directory.Person{person("a", "hmdis", "f:1"), person("b", "hmdis", "f:2"), person("A", "polizei", "f:3"), person("a", "hmdis", "f:4")},
			wantSources: []string{"f:1", "f:2"},
			wantProblems: []string{
				`f:3: duplicate id "a", first at f:1`,
				`f:4: duplicate id "a", first at f:1`,
			},
		},
		{
			name:        "invalid first occurrence",
			people:      []directory.Person{person("a", "nope", "f:1"), person("a", "hmdis", "f:2")},
			wantSources: nil,
			wantProblems: []string{
				`f:1: unknown tenant "nope"`,
				`f:2: duplicate id "a", first at f:1`,
			},
		},
		{
			name:         "missing ids are no duplicates",
			people:       []directory.Person{person("", "hmdis", "f:1"), person("", "hmdis", "f:2")},
			wantProblems: []string{"f:1: missing id", "f:2: missing id"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			valid, problems := directory.Validate(tc.people, testTenants)
			var sources []string
			for _, p := range valid {
				sources = append(sources, p.Source)
			}
			if !reflect.DeepEqual(sources, tc.wantSources) {
				t.Errorf("got valid people from %q, want from %q", sources, tc.wantSources)
			}
			if got := problemStrings(problems); !reflect.DeepEqual(got, tc.wantProblems) {
				t.Errorf("got problems %q, want %q", got, tc.wantProblems)
			}
		})
	}
}

func TestValidateFiles(t *testing.T) {
	tenants := map[config.TenantID]map[string]bool{
		"hmdis":       {"z1": true},
		"hessenforst": {"fa-fulda": true},
	}
	for _, file := range []string{"testdata/people.yaml", "testdata/people.csv"} {
		t.Run(file, func(t *testing.T) {
			res, err := directory.NewFile(file).Read(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			valid, problems := directory.Validate(res.People, tenants)
			var ids []directory.PersonID
			for _, p := range valid {
				ids = append(ids, p.ID)
			}
			if want := []directory.PersonID{"emusterfrau", "mmustermann"}; !reflect.DeepEqual(ids, want) {
				t.Errorf("got valid %q, want %q", ids, want)
			}
			want := []string{res.People[1].Source + `: unknown unit "fa-kassel" of tenant "hessenforst"`}
			if got := problemStrings(problems); !reflect.DeepEqual(got, want) {
				t.Errorf("got problems %q, want %q", got, want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	a := directory.Result{
		People:   []directory.Person{{ID: "b", Source: "a.yaml:2"}, {ID: "c", Source: "a.yaml:5"}},
		Problems: []directory.Problem{{Source: "a.yaml:9", Msg: "unknown key \"x\""}},
	}
	b := directory.Result{
		People:   []directory.Person{{ID: "a", Source: "cn=a"}, {ID: "c", Source: "cn=c"}},
		Problems: []directory.Problem{{Source: "cn=d", Msg: "missing surname"}},
	}
	got := directory.Merge(a, b)
	want := directory.Result{
		People: []directory.Person{{ID: "a", Source: "cn=a"}, {ID: "b", Source: "a.yaml:2"}, {ID: "c", Source: "a.yaml:5"}},
		Problems: []directory.Problem{
			{Source: "a.yaml:9", Msg: "unknown key \"x\""},
			{Source: "cn=d", Msg: "missing surname"},
			{Source: "cn=c", Msg: `duplicate id "c", first at a.yaml:5`},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := directory.Merge(); len(got.People) != 0 || len(got.Problems) != 0 {
		t.Errorf("Merge() = %+v, want an empty result", got)
	}
}

func TestReadAll(t *testing.T) {
	ctx := context.Background()
	res, err := directory.ReadAll(ctx, directory.NewFile("testdata/people.yaml"), directory.NewFile("testdata/people.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, p := range res.People {
		sources = append(sources, p.Source)
	}
	if want := []string{"testdata/people.yaml:11", "testdata/people.yaml:35", "testdata/people.yaml:3"}; !reflect.DeepEqual(sources, want) {
		t.Errorf("got people from %q, want from %q", sources, want)
	}
	// The people of the CSV file duplicate those of the YAML file.
	wantDups := []string{
		`testdata/people.csv:3: duplicate id "emusterfrau", first at testdata/people.yaml:11`,
		`testdata/people.csv:7: duplicate id "fbauer", first at testdata/people.yaml:35`,
		`testdata/people.csv:2: duplicate id "mmustermann", first at testdata/people.yaml:3`,
	}
	if got := problemStrings(res.Problems); len(got) < 3 || !reflect.DeepEqual(got[len(got)-3:], wantDups) {
		t.Errorf("got problems %q, want them to end with %q", got, wantDups)
	}

	missing := filepath.Join(t.TempDir(), "missing.csv")
	res, err = directory.ReadAll(ctx, directory.NewFile("testdata/people.yaml"), directory.NewFile(missing))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got error %v, want fs.ErrNotExist", err)
	}
	if res.People != nil || res.Problems != nil {
		t.Errorf("got result %+v with the error, want none", res)
	}
}
