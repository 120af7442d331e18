package directory

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// FuzzParseFile checks that the YAML and CSV parsers never panic and that
// their results keep the contract of Result: people sorted by ID, each
// non-empty ID once, and every person and problem naming the file.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"testdata/people.yaml", "testdata/people.csv"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.HasSuffix(name, ".csv"), data)
	}
	f.Add(false, []byte("people:\n  - &a {id: a}\n  - *a\n  - [x]\n  - {? [k] : v}\n"))
	f.Add(true, []byte("\uFEFFid;given_name;surname;tenant\n\"a\";\"b\nc\";d;e\n"))
	f.Fuzz(func(t *testing.T, csv bool, data []byte) {
		name := "people.yaml"
		if csv {
			name = "people.csv"
		}
		res, err := parseFile(name, data)
		if err != nil {
			if len(res.People) != 0 || len(res.Problems) != 0 {
				t.Fatalf("got result %+v with error %v, want none", res, err)
			}
			return
		}
		if !slices.IsSortedFunc(res.People, func(a, b Person) int { return strings.Compare(string(a.ID), string(b.ID)) }) {
			t.Fatalf("people not sorted by ID: %+v", res.People)
		}
		seen := map[PersonID]bool{}
		for _, p := range res.People {
			if p.ID != "" && seen[p.ID] {
				t.Fatalf("id %q twice in %+v", p.ID, res.People)
			}
			seen[p.ID] = true
			if !strings.HasPrefix(p.Source, name+":") {
				t.Fatalf("got source %q, want %s:LINE", p.Source, name)
			}
			if p != normalize(p) {
				t.Fatalf("got %+v, want it normalised", p)
			}
		}
		for _, p := range res.Problems {
			if !strings.HasPrefix(p.Source, name+":") {
				t.Fatalf("got problem source %q, want %s:LINE", p.Source, name)
			}
		}
	})
}
