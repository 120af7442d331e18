package directory_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/landesmessenger/landesmessenger/directory"
)

// wantFilePeople returns the people that testdata/people.yaml and
// testdata/people.csv both hold, at the given lines of file.
func wantFilePeople(file string, lineMustermann, lineMusterfrau, lineBauer string) []directory.Person {
	return []directory.Person{
		{ID: "emusterfrau", GivenName: "Erika", Surname: "Musterfrau", Tenant: "hmdis", Role: directory.RoleMember, Source: file + ":" + lineMusterfrau},
		{ID: "fbauer", GivenName: "Fritz", Surname: "Bauer, jun.", Tenant: "hessenforst", Unit: "fa-kassel", Role: directory.RoleMember, Source: file + ":" + lineBauer},
		{ID: "mmustermann", GivenName: "Max", Surname: "Mustermann", Office: "HMdIS Referat Z 1", Tenant: "hmdis", Unit: "z1", Role: directory.RoleAdmin, Deputy: "emusterfrau", Source: file + ":" + lineMustermann},
	}
}

func TestFileTestdata(t *testing.T) {
	const keys = "id, given_name, surname, office, tenant, unit, role, deputy"
	tests := []struct {
		file         string
		wantPeople   []directory.Person
		wantProblems []string
	}{
		{
			file:       "testdata/people.yaml",
			wantPeople: wantFilePeople("testdata/people.yaml", "3", "11", "35"),
			wantProblems: []string{
				`testdata/people.yaml:20: unknown key "email", want one of ` + keys,
				`testdata/people.yaml:21: want a mapping with the keys ` + keys,
				`testdata/people.yaml:23: given_name must be a single value`,
				`testdata/people.yaml:32: duplicate key "given_name"`,
				`testdata/people.yaml:26: duplicate id "mmustermann", first at testdata/people.yaml:3`,
			},
		},
		{
			file:       "testdata/people.csv",
			wantPeople: wantFilePeople("testdata/people.csv", "2", "3", "7"),
			wantProblems: []string{
				`testdata/people.csv:1: unknown column "email" is ignored, want one of ` + keys,
				`testdata/people.csv:4: has 5 fields, want 9 as in the header`,
				`testdata/people.csv:6: duplicate id "mmustermann", first at testdata/people.csv:2`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			src := directory.NewFile(tc.file)
			if got := src.Name(); got != tc.file {
				t.Errorf("Name() = %q, want %q", got, tc.file)
			}
			res, err := src.Read(context.Background())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if !reflect.DeepEqual(res.People, tc.wantPeople) {
				t.Errorf("people:\ngot  %+v\nwant %+v", res.People, tc.wantPeople)
			}
			if got := problemStrings(res.Problems); !reflect.DeepEqual(got, tc.wantProblems) {
				t.Errorf("problems:\ngot  %q\nwant %q", got, tc.wantProblems)
			}
		})
	}
}

// problemStrings formats problems with Problem.String.
func problemStrings(problems []directory.Problem) []string {
	var s []string
	for _, p := range problems {
		s = append(s, p.String())
	}
	return s
}

// writeFile writes content to a file called name in a new temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFileRead(t *testing.T) {
	tests := []struct {
		name         string
		file         string
		content      string
		wantIDs      []directory.PersonID
		wantProblems []string // FILE stands for the path
	}{
		{
			name:    "empty people list",
			file:    "people.yaml",
			content: "people: []\n",
		},
		{
			name:    "yml extension, null values and aliases",
			file:    "people.yml",
			content: "x: &x B\npeople:\n  - {id: a, given_name: A, surname: Z, tenant: t, office: ~}\n  - {id: b, given_name: *x, surname: Z, tenant: t, office: null, unit: }\n",
			wantIDs: []directory.PersonID{"a", "b"},
			wantProblems: []string{
				`FILE:1: unknown key "x", want people`,
			},
		},
		{
			name:    "YAML alias to a record",
			file:    "people.yaml",
			content: "people:\n  - &a {id: a, given_name: A, surname: Z, tenant: t}\n  - *a\n",
			wantIDs: []directory.PersonID{"a"},
			wantProblems: []string{
				`FILE:3: duplicate id "a", first at FILE:2`,
			},
		},
		{
			name:    "YAML key that is not a string",
			file:    "people.yaml",
			content: "people:\n  - {id: a, given_name: A, surname: Z, tenant: t, [x]: y}\n",
			wantProblems: []string{
				`FILE:2: unknown key that is not a string, want one of id, given_name, surname, office, tenant, unit, role, deputy`,
			},
		},
		{
			name:    "CSV with byte order mark, semicolons and CRLF",
			file:    "people.CSV",
			content: "\uFEFFID;Given_Name;Surname;Tenant\r\nMMustermann;Max;Mustermann;hmdis\r\n;Ohne;Kennung;hmdis\r\n",
			wantIDs: []directory.PersonID{"", "mmustermann"},
		},
		{
			name:    "CSV header only",
			file:    "people.csv",
			content: "id,given_name,surname,tenant\n",
		},
		{
			name:    "CSV column without name",
			file:    "people.csv",
			content: "id,given_name,surname,tenant,\na,A,Z,t,\n",
			wantIDs: []directory.PersonID{"a"},
			wantProblems: []string{
				`FILE:1: column 5 has no name and is ignored`,
			},
		},
		{
			name:    "CSV multi-line quoted field",
			file:    "people.csv",
			content: "id,given_name,surname,tenant\na,\"A\nB\",Z,t\nb,B,Z,t,extra\n",
			wantIDs: []directory.PersonID{"a"},
			wantProblems: []string{
				`FILE:4: has 5 fields, want 4 as in the header`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			res, err := directory.NewFile(path).Read(context.Background())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			var ids []directory.PersonID
			for _, p := range res.People {
				ids = append(ids, p.ID)
			}
			if !reflect.DeepEqual(ids, tc.wantIDs) {
				t.Errorf("got ids %q, want %q", ids, tc.wantIDs)
			}
			var want []string
			for _, p := range tc.wantProblems {
				want = append(want, strings.ReplaceAll(p, "FILE", path))
			}
			if got := problemStrings(res.Problems); !reflect.DeepEqual(got, want) {
				t.Errorf("problems:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

func TestFileReadError(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		wantErr string // FILE stands for the path
	}{
		{"unsupported extension", "people.txt", "people: []\n", `FILE: unsupported file type ".txt", want .yaml, .yml or .csv`},
		{"not UTF-8", "people.csv", "id,given_name,surname,tenant\nm,M\xfcller,M,t\n", `FILE:2: not UTF-8; save the file as UTF-8`},
		{"YAML empty", "people.yaml", "", `FILE: empty file, want a people list`},
		{"YAML comments only", "people.yaml", "# nobody\n", `FILE: empty file, want a people list`},
		{"YAML syntax error", "people.yaml", "people:\n  - id: a\n    given_name: b: c\n  - id: d\n", `FILE:3: mapping values are not allowed in this context`},
		{"YAML not a mapping", "people.yaml", "- id: a\n", `FILE:1: want a mapping with a people list`},
		{"YAML no people list", "people.yaml", "persons: []\n", `FILE:1: no people list`},
		{"YAML people not a list", "people.yaml", "people:\n  id: a\n", `FILE:2: people must be a list of mappings`},
		{"YAML people null", "people.yaml", "people:\n", `FILE:1: people must be a list of mappings`},
		{"YAML two people lists", "people.yaml", "people: []\npeople: []\n", `FILE:2: second people list, the first is at line 1`},
		{"YAML two documents", "people.yaml", "people: []\n---\npeople: []\n", `FILE:2: more than one YAML document`},
		{"CSV empty", "people.csv", "", `FILE: empty file, want a header row with the columns id, given_name, surname, office, tenant, unit, role, deputy`},
		{"CSV missing column", "people.csv", "id,given_name,surname,tennant\n", `FILE:1: no column "tenant" (unknown columns: "tennant")`},
		{"CSV duplicate column", "people.csv", "id,given_name,surname,tenant,ID\n", `FILE:1: column "id" is both column 1 and 5`},
		{"CSV bare quote", "people.csv", "id,given_name,surname,tenant\na,A\"B,Z,t\nc,C,Z,t\n", `FILE:2: bare " in non-quoted-field`},
		{"CSV unterminated quote", "people.csv", "id,given_name,surname,tenant\na,\"A,Z,t\nc,C,Z,t\n", `FILE:2: extraneous or missing " in quoted-field`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			res, err := directory.NewFile(path).Read(context.Background())
			want := strings.ReplaceAll(tc.wantErr, "FILE", path)
			if err == nil {
				t.Fatalf("got result %+v, want error %q", res, want)
			}
			if got := err.Error(); got != want {
				t.Errorf("got error %q, want %q", got, want)
			}
			if res.People != nil || res.Problems != nil {
				t.Errorf("got result %+v with the error, want none", res)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := directory.NewFile(filepath.Join(t.TempDir(), "people.yaml")).Read(context.Background())
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got error %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("syntax error type", func(t *testing.T) {
		path := writeFile(t, "people.yaml", "people: [\n")
		_, err := directory.NewFile(path).Read(context.Background())
		var se *directory.SyntaxError
		if !errors.As(err, &se) || se.File != path || se.Line == 0 {
			t.Errorf("got error %#v, want a *SyntaxError for %s with a line", err, path)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := directory.NewFile("testdata/people.yaml").Read(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got error %v, want context.Canceled", err)
		}
	})
}
