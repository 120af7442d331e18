package command

import (
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/landesmessenger/landesmessenger/config"
	"github.com/landesmessenger/landesmessenger/provisioning"
)

func TestTable(t *testing.T) {
	names := map[string]bool{}
	for _, s := range Table() {
		if names[s.Name] {
			t.Errorf("%s: name used twice", s.Name)
		}
		names[s.Name] = true
		if got, ok := Lookup(s.Name); !ok || got != s {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got, ok)
		}
		for _, lang := range []Lang{German, English} {
			for _, w := range s.Words(lang) {
				if w != fold(w) || !isSlug(w) {
					t.Errorf("%s: word %q is not folded lower case", s.Name, w)
				}
			}
			if s.Summary[lang] == "" || s.Example[lang] == "" {
				t.Errorf("%s: no summary or example in %s", s.Name, lang)
			}
			inv, err := Parse(s.Example[lang])
			if err != nil || inv == nil || inv.Spec != s {
				t.Errorf("%s: example %q parses to %v, %v", s.Name, s.Example[lang], inv, err)
			} else if want := lang; inv.Lang != want && !sameWords(s) {
				t.Errorf("%s: example %q is in %s, want %s", s.Name, s.Example[lang], inv.Lang, want)
			}
		}
		for i, a := range s.Args {
			last := i == len(s.Args)-1
			if a.Rest && !last {
				t.Errorf("%s: rest argument %s is not the last", s.Name, a.Name)
			}
			if a.Optional && !last && !s.Args[i+1].Optional {
				t.Errorf("%s: optional argument %s before a required one", s.Name, a.Name)
			}
			if a.desc.de == "" || a.desc.en == "" {
				t.Errorf("%s: argument %s has no description", s.Name, a.Name)
			}
		}
		for _, o := range s.Options {
			if o.Key != fold(o.Key) || o.KeyEN != fold(o.KeyEN) || o.desc.de == "" || o.desc.en == "" {
				t.Errorf("%s: option %s/%s is not lower case or has no description", s.Name, o.Key, o.KeyEN)
			}
		}
	}
	// Every word pair and single word names one command only.
	seen := map[string]string{}
	for _, s := range Table() {
		for _, lang := range []Lang{German, English} {
			w := strings.Join(s.Words(lang), " ")
			if other, ok := seen[w]; ok && other != s.Name {
				t.Errorf("%q names both %s and %s", w, other, s.Name)
			}
			seen[w] = s.Name
		}
	}
}

// TestValuesMatchConfig checks the restricted values against the
// configuration's spellings, which handlers pass on unchanged.
func TestValuesMatchConfig(t *testing.T) {
	var classes, audiences []string
	for _, c := range config.RoomClasses() {
		classes = append(classes, string(c))
	}
	for _, a := range config.Audiences() {
		audiences = append(audiences, string(a))
	}
	roles := []string{string(provisioning.RoleMember), string(provisioning.RoleModerator), string(provisioning.RoleAdmin)}
	for _, tc := range []struct {
		name      string
		got, want []string
	}{
		{"class", optClass.Value.Values, classes},
		{"audience", optAudience.Value.Values, audiences},
		{"role", optRole.Value.Values, roles},
		{"granted role", argGrantRole.Values, roles[1:]},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s values: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	for v, de := range valueDE {
		if de != fold(de) {
			t.Errorf("German spelling %q of %q is not folded", de, v)
		}
	}
}

// TestImports keeps the package free of I/O: its non-test files may import
// only these packages of the standard library.
func TestImports(t *testing.T) {
	allowed := []string{"fmt", "html", "net/url", "regexp", "strconv", "strings", "unicode", "unicode/utf8"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(gotoken.NewFileSet(), name, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(allowed, path) {
				t.Errorf("%s imports %s; the command layer imports only %v", name, path, allowed)
			}
		}
	}
}
