package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// exampleEnv returns the names of the environment variables the example
// references.
func exampleEnv(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(string(Example), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal("example references no environment variables")
	}
	return names
}

// problemStrings returns the problems of err as strings, failing the test
// if err is not a *ValidationError.
func problemStrings(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("got error %T %q, want *ValidationError", err, err)
	}
	var got []string
	for _, p := range verr.Problems {
		got = append(got, p.String())
	}
	return got
}

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// envMap returns a lookup function for the variables in m.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExample(t *testing.T) {
	// Set the referenced variables empty so that the defaults apply.
	for _, name := range exampleEnv(t) {
		t.Setenv(name, "")
	}
	// The example's paths are relative to the repository root.
	t.Chdir("..")
	fromFile, err := Load("config/example.yaml")
	if err != nil {
		t.Fatalf("Load(config/example.yaml): got error\n%v\nwant none", err)
	}
	cfg, err := Parse(ExampleFile, Example)
	if err != nil {
		t.Fatalf("Parse(Example): got error\n%v\nwant none", err)
	}
	if got, want := len(fromFile.Tenants), len(cfg.Tenants); got != want {
		t.Errorf("tenants from file: got %d, want %d", got, want)
	}

	tests := []struct {
		name      string
		got, want any
	}{
		{"homeservers", len(cfg.Homeservers), 4},
		{"tenants", len(cfg.Tenants), 7},
		{"summary", cfg.Summary(), "4 homeservers (land, polizei, forst, schule), 7 tenants, 3 rooms, 1 directory source"},
		{"stack dir", cfg.StackDir, ".demo"},
		{"database", cfg.Database.URI, "sqlite:.demo/landesmessenger.db"},
		{"database driver", cfg.Database.Driver(), DriverSQLite},
		{"database dsn", cfg.Database.DSN(), ".demo/landesmessenger.db"},
		{"log level", cfg.Log.Level, "info"},
		{"log format", cfg.Log.Format, "text"},
		{"tenants on land", len(cfg.TenantsOn("land")), 4},
		{"tenants on polizei", len(cfg.TenantsOn("polizei")), 1},
		{"tenants on forst", len(cfg.TenantsOn("forst")), 1},
		{"tenants on schule", len(cfg.TenantsOn("schule")), 1},
		{"tenants on unknown", len(cfg.TenantsOn("kommune")), 0},
		{"first tenant line", cfg.Tenants[0].Line, lineOf(t, Example, "  - id: stk")},
		{"first homeserver line", cfg.Homeservers[0].Line, lineOf(t, Example, "  - name: land")},
		{"path", cfg.Path, ExampleFile},
		{"units", countUnits(cfg), 14},
		{"tenant rooms", countTenantRooms(cfg), 1},
		{"cross-tenant rooms", len(cfg.Rooms), 2},
		{"directory sources", len(cfg.Directory), 1},
		{"directory source", cfg.Directory[0], DirectorySource{Type: SourceFile, Path: "config/directory.yaml", Line: lineOf(t, Example, "  - type: file")}},
		{"provisioning", cfg.Provisioning, Provisioning{
			Interval:          5 * time.Minute,
			MaxRemovalShare:   0.1,
			DeactivateRemoved: true,
			CredentialsFile:   ".demo/credentials.json",
			Concurrency:       4,
		}},
		{"short name", cfg.Tenants[1].ShortName, "HMdIS"},
		{"landeslage", mustRoom(t, cfg, "landeslage"), Room{
			ID: "landeslage", Name: "Landeslage", Topic: "Lagebild der Landesregierung",
			Class: ClassCrossAgency, Audience: AudienceLeaders, HistoryVisibility: HistoryShared,
			Host: "land", Tenants: []TenantID{"stk", "hmdis", "polizei"},
			Line: lineOf(t, Example, "  - id: landeslage"),
		}},
		{"forst-umwelt", mustRoom(t, cfg, "forst-umwelt").Tenants, []TenantID{"hmuklv", "hessenforst"}},
		{"unknown room", func() bool { _, ok := cfg.Room("holzmarkt"); return ok }(), false},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}

	wantTenants := map[TenantID]struct {
		kind TenantKind
		hs   HomeserverName
	}{
		"stk":         {KindMinistry, "land"},
		"hmdis":       {KindMinistry, "land"},
		"hkm":         {KindMinistry, "land"},
		"hmuklv":      {KindMinistry, "land"},
		"polizei":     {KindPolice, "polizei"},
		"hessenforst": {KindForestry, "forst"},
		"schulen":     {KindSchools, "schule"},
	}
	for id, want := range wantTenants {
		tn, ok := cfg.Tenant(id)
		if !ok {
			t.Errorf("tenant %s: got none, want one", id)
			continue
		}
		if tn.Kind != want.kind || tn.Homeserver != want.hs {
			t.Errorf("tenant %s: got %s on %s, want %s on %s", id, tn.Kind, tn.Homeserver, want.kind, want.hs)
		}
	}
	for _, h := range cfg.Homeservers {
		if !h.FromStack() {
			t.Errorf("homeserver %s: got FromStack false, want true", h.Name)
		}
		if h.ServiceAccount.Localpart != DefaultServiceLocalpart {
			t.Errorf("homeserver %s: got localpart %q, want %q", h.Name, h.ServiceAccount.Localpart, DefaultServiceLocalpart)
		}
		if h.ServerName != "" || h.ClientURL != "" || h.RegistrationSharedSecretFile != "" ||
			h.ServiceAccount.PasswordFile != "" || h.ServiceAccount.AccessTokenFile != "" {
			t.Errorf("homeserver %s: got explicit connection settings %+v, want none", h.Name, h)
		}
	}
	if h, ok := cfg.Homeserver("forst"); !ok || h.Description != "HessenForst" {
		t.Errorf("Homeserver(forst): got %v, %v, want HessenForst, true", h, ok)
	}
	if _, ok := cfg.Homeserver("kommune"); ok {
		t.Errorf("Homeserver(kommune): got true, want false")
	}

	wantUnits := map[TenantID]map[UnitID]string{
		"hmdis":       {"z": "Zentralabteilung", "lpp": "Landespolizeipräsidium"},
		"hkm":         {"z": "Zentralabteilung", "schulaufsicht": "Schulaufsicht"},
		"hmuklv":      {"forsten": "Abteilung Forsten"},
		"polizei":     {"pp-nordhessen": "Polizeipräsidium Nordhessen", "pp-frankfurt": "Polizeipräsidium Frankfurt am Main"},
		"hessenforst": {"fa-kassel": "Forstamt Kassel", "holzverkauf": "Holzverkauf"},
		"schulen":     {"ssa-kassel": "Staatliches Schulamt Kassel"},
	}
	for id, units := range wantUnits {
		tn, _ := cfg.Tenant(id)
		for uid, name := range units {
			if u, ok := tn.Unit(uid); !ok || u.Name != name {
				t.Errorf("tenant %s: Unit(%s): got %v, %v, want %s", id, uid, u, ok, name)
			}
		}
		if _, ok := tn.Unit("nowhere"); ok {
			t.Errorf("tenant %s: Unit(nowhere): got true, want false", id)
		}
	}
	forst, _ := cfg.Tenant("hessenforst")
	if r, ok := forst.Room("holzmarkt"); !ok || r.Class != ClassExternal || r.Audience != AudienceAll ||
		!reflect.DeepEqual(r.Units, []UnitID{"holzverkauf", "fa-kassel"}) {
		t.Errorf("hessenforst: Room(holzmarkt): got %+v, %v, want an external room of all of holzverkauf and fa-kassel", r, ok)
	}
	for _, tn := range cfg.Tenants {
		if len(tn.Units) < 1 || len(tn.Units) > 3 {
			t.Errorf("tenant %s: got %d units, want 1 to 3", tn.ID, len(tn.Units))
		}
		if tn.ShortName == "" {
			t.Errorf("tenant %s: got no short name", tn.ID)
		}
	}
}

// countUnits returns the number of units of all tenants of cfg.
func countUnits(cfg *Config) int {
	n := 0
	for _, t := range cfg.Tenants {
		n += len(t.Units)
	}
	return n
}

// countTenantRooms returns the number of configured rooms of all tenants
// of cfg.
func countTenantRooms(cfg *Config) int {
	n := 0
	for _, t := range cfg.Tenants {
		n += len(t.Rooms)
	}
	return n
}

// mustRoom returns the cross-tenant room id of cfg.
func mustRoom(t *testing.T, cfg *Config, id RoomID) Room {
	t.Helper()
	r, ok := cfg.Room(id)
	if !ok {
		t.Fatalf("Room(%s): got none, want one", id)
	}
	return *r
}

// lineOf returns the 1-based line of the first line of data equal to s.
func lineOf(t *testing.T, data []byte, s string) int {
	t.Helper()
	for i, l := range strings.Split(string(data), "\n") {
		if l == s {
			return i + 1
		}
	}
	t.Fatalf("line %q not found", s)
	return 0
}

func TestExampleWithoutStackNeedsConnectionSettings(t *testing.T) {
	t.Chdir("..") // for the directory file
	cfg, err := parse(ExampleFile, Example, noEnv)
	if err != nil || cfg.StackDir != ".demo" {
		t.Fatalf("got %v, want stack_dir .demo and no error", err)
	}
	// Without stack_dir, every homeserver needs server_name and client_url.
	data := regexp.MustCompile(`(?m)^stack_dir: .*$`).ReplaceAllString(string(Example), "stack_dir: ''")
	_, err = parse(ExampleFile, []byte(data), noEnv)
	got := problemStrings(t, err)
	if len(got) != 8 {
		t.Fatalf("got %d problems, want 8:\n%s", len(got), strings.Join(got, "\n"))
	}
	want := fmt.Sprintf("example.yaml:%d: homeservers[0].server_name: missing required field (required unless stack_dir is set)", lineOf(t, Example, "  - name: land"))
	if got[0] != want {
		t.Errorf("got %q, want %q", got[0], want)
	}
}

func TestTestdata(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{
			file: "testdata/bad.yaml",
			want: []string{
				"testdata/bad.yaml:7: homeservers[0].clienturl: unknown field",
				`testdata/bad.yaml:15: tenants[1].id: duplicate tenant id "hmdis" (first defined at line 10)`,
				`testdata/bad.yaml:23: tenants[2].homeserver: unknown homeserver "polizei" (configured: land)`,
			},
		},
		{
			file: "testdata/badyaml.yaml",
			want: []string{
				"testdata/badyaml.yaml:14: yaml: mapping values are not allowed in this context",
			},
		},
		{
			// The syntax error does not hide the other problems.
			file: "testdata/bad-all.yaml",
			want: []string{
				"testdata/bad-all.yaml:18: yaml: mapping values are not allowed in this context",
				`testdata/bad-all.yaml:21: tenants[2].id: duplicate tenant id "stk" (first defined at line 11)`,
				`testdata/bad-all.yaml:29: tenants[3].homeserver: unknown homeserver "polizei" (configured: land)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(tt.file)
			if cfg != nil {
				t.Errorf("got config %v, want nil", cfg)
			}
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("got Error()\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got %v, want an error wrapping fs.ErrNotExist", err)
	}
	var verr *ValidationError
	if errors.As(err, &verr) {
		t.Errorf("got *ValidationError, want a plain I/O error")
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{
			name: "indented key",
			data: "homeservers:\n  - name: land\n     client_url: x\n",
			want: "c.yaml:3: yaml: mapping values are not allowed in this context",
		},
		{
			name: "misaligned list item",
			data: "homeservers:\n  - name: land\n    description: x\n   - name: forst\n",
			want: "c.yaml:4: yaml: did not find expected '-' indicator",
		},
		{
			name: "list item in mapping",
			data: "stack_dir: .demo\nlog:\n  level: info\n- tenants\n",
			want: "c.yaml:4: yaml: did not find expected key",
		},
		{
			name: "tab indentation",
			data: "log:\n  level: info\n\tformat: text\n",
			want: "c.yaml:3: yaml: found a tab character that violates indentation",
		},
		{
			name: "unclosed quote",
			data: "log:\n  level: info\n  format: \"text\nhomeservers: []\n",
			want: "c.yaml:3: yaml: found unexpected end of stream",
		},
		{
			name: "unclosed flow sequence",
			data: "homeservers: [\n  {name: land},\ntenants: []\n",
			want: "c.yaml:3: yaml: did not find expected ',' or ']'",
		},
		{
			name: "unknown anchor",
			data: "log:\n  level: info\nhomeservers: *hs\n",
			want: "c.yaml:3: yaml: unknown anchor 'hs' referenced",
		},
		{
			name: "error deep in a long list",
			data: "homeservers:\n" + strings.Repeat("  - name: land\n", 2000) + "   - name: forst\n",
			want: "c.yaml:2002: yaml: did not find expected '-' indicator",
		},
		{
			name: "second document",
			data: "log:\n  level: info\n---\nlog: {}\n",
			want: "c.yaml:3: yaml: multiple YAML documents are not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("c.yaml", []byte(tt.data), noEnv)
			got := problemStrings(t, err)
			if !slices.Contains(got, tt.want) {
				t.Errorf("got %q, want them to include %q", got, tt.want)
			}
		})
	}
}

func TestSyntaxRecovery(t *testing.T) {
	const header = "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\ntenants:\n"
	// second is a tenant starting on line 10 of header+first+second,
	// with a genuine problem on line 13.
	const second = "  - id: b\n    name: B\n    kind: police\n    homeserver: polizei\n"
	const unknown = `c.yaml:13: tenants[1].homeserver: unknown homeserver "polizei" (configured: land)`
	tests := []struct {
		name string
		data string
		want []string
	}{
		{
			name: "value with a colon",
			data: header + "  - id: a\n    name: A\n    kind: ministry: police\n    homeserver: land\n" + strings.Replace(second, "id: b", "id: a", 1),
			want: []string{
				"c.yaml:8: yaml: mapping values are not allowed in this context",
				`c.yaml:10: tenants[1].id: duplicate tenant id "a" (first defined at line 6)`,
				unknown,
			},
		},
		{
			name: "two errors in one tenant",
			data: header + "  - id: a\n    name: A\n    kind: ministry: x\n    homeserver: land: y\n" + strings.Replace(second, "police", "polize", 1),
			want: []string{
				"c.yaml:8: yaml: mapping values are not allowed in this context",
				"c.yaml:9: yaml: mapping values are not allowed in this context",
				`c.yaml:12: tenants[1].kind: invalid tenant kind "polize" (want ministry, police, forestry or schools)`,
				unknown,
			},
		},
		{
			name: "key indented too far",
			data: header + "  - id: a\n      name: A\n    kind: ministry\n    homeserver: land\n" + second,
			want: []string{"c.yaml:7: yaml: mapping values are not allowed in this context", unknown},
		},
		{
			name: "key indented too little",
			data: header + "  - id: a\n    name: A\nkind: ministry\n    homeserver: land\n" + second,
			want: []string{"c.yaml:9: yaml: mapping values are not allowed in this context", unknown},
		},
		{
			name: "list item indented too far",
			data: header + "  - id: a\n    name: A\n    kind: ministry\n    homeserver: land\n   " + second,
			want: []string{"c.yaml:10: yaml: mapping values are not allowed in this context", unknown},
		},
		{
			name: "tab indentation",
			data: header + "  - id: a\n\tname: A\n    kind: ministry\n    homeserver: land\n" + second,
			want: []string{"c.yaml:7: yaml: found a tab character that violates indentation", unknown},
		},
		{
			name: "missing colon",
			data: header + "  - id: a\n    name A\n    kind: ministry\n    homeserver: land\n" + second,
			want: []string{"c.yaml:7: yaml: could not find expected ':'", unknown},
		},
		{
			// The quote ends on line 11, where the parser fails.
			name: "unclosed quote",
			data: header + "  - id: a\n    name: 'A\n    kind: ministry\n    homeserver: land\n" + strings.Replace(second, "B", "'B'", 1),
			want: []string{"c.yaml:11: yaml: did not find expected key", unknown},
		},
		{
			name: "unclosed flow mapping",
			data: header + "  - {id: a, name: A, kind: ministry, homeserver: land\n" + "  - {id: b, name: B, kind: police, homeserver: polizei}\n",
			want: []string{
				"c.yaml:6: yaml: did not find expected ',' or '}'",
				`c.yaml:7: tenants[1].homeserver: unknown homeserver "polizei" (configured: land)`,
			},
		},
		{
			name: "error in a flow sequence",
			data: header[:len(header)-1] + " [\n  {id: a, name: A, kind: ministry: x, homeserver: land},\n  {id: b, name: B, kind: police, homeserver: polizei},\n]\n",
			want: []string{
				"c.yaml:6: yaml: did not find expected ',' or '}'",
				`c.yaml:7: tenants[0].homeserver: unknown homeserver "polizei" (configured: land)`,
			},
		},
		{
			// The lost name may have been that of the unknown homeserver.
			name: "error in a homeserver name",
			data: strings.Replace(header, "name: land", "name: forst: land", 1) + "  - {id: a, name: A, kind: ministry, homeserver: forst}\n",
			want: []string{"c.yaml:2: yaml: mapping values are not allowed in this context"},
		},
		{
			name: "error in another homeserver field",
			data: strings.Replace(header, "land.hessen.de\n", "land.hessen.de: 8448\n", 1) + "  - {id: a, name: A, kind: ministry, homeserver: forst}\n",
			want: []string{
				"c.yaml:3: yaml: mapping values are not allowed in this context",
				`c.yaml:6: tenants[0].homeserver: unknown homeserver "forst" (configured: land)`,
			},
		},
		{
			// The lost line may have been stack_dir, which makes
			// connection settings optional.
			name: "error in stack_dir",
			data: "stack_dir: .demo: x\nhomeservers:\n  - name: land\ntenants:\n  - {id: a, name: A, kind: ministry, homeserver: polizei}\n",
			want: []string{
				"c.yaml:1: yaml: mapping values are not allowed in this context",
				`c.yaml:5: tenants[0].homeserver: unknown homeserver "polizei" (configured: land)`,
			},
		},
		{
			// The lost line may have been homeservers or tenants.
			name: "broken top-level line",
			data: "stack_dir: .demo\nlog:\n  level: info\n- tenants\n",
			want: []string{"c.yaml:4: yaml: did not find expected key"},
		},
		{
			name: "error in a second document",
			data: header + "  - {id: a, name: A, kind: ministry, homeserver: polizei}\n---\nfoo: bar: baz\n",
			want: []string{
				`c.yaml:6: tenants[0].homeserver: unknown homeserver "polizei" (configured: land)`,
				"c.yaml:7: yaml: multiple YAML documents are not supported",
				"c.yaml:8: yaml: mapping values are not allowed in this context",
			},
		},
		{
			name: "windows line breaks",
			data: strings.ReplaceAll(strings.Replace(header, "https://matrix.land.hessen.de", "x: y", 1)+"  - {id: a, name: A, kind: police, homeserver: polizei}\n", "\n", "\r\n"),
			want: []string{
				"c.yaml:4: yaml: mapping values are not allowed in this context",
				`c.yaml:6: tenants[0].homeserver: unknown homeserver "polizei" (configured: land)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("c.yaml", []byte(tt.data), noEnv)
			if cfg != nil {
				t.Errorf("got config %v, want nil", cfg)
			}
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSyntaxRecoveryGivesUp(t *testing.T) {
	// Each line has an error of its own; the recovery stops after
	// maxRecoveryRounds of them and skips the other checks.
	data := "tenants:\n" + strings.Repeat("  - id: a: b\n", 2*maxRecoveryRounds)
	_, err := parse("c.yaml", []byte(data), noEnv)
	got := problemStrings(t, err)
	if len(got) != maxRecoveryRounds {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), maxRecoveryRounds, strings.Join(got, "\n"))
	}
	for i, p := range got {
		if want := fmt.Sprintf("c.yaml:%d: yaml: mapping values are not allowed in this context", i+2); p != want {
			t.Errorf("got %q, want %q", p, want)
		}
	}
}

func TestProblems(t *testing.T) {
	const header = "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\n"
	const tenant = "tenants:\n  - id: stk\n    name: Hessische Staatskanzlei\n    kind: ministry\n    homeserver: land\n"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{
			name: "valid",
			data: header + tenant,
		},
		{
			name: "empty file",
			data: "",
			want: []string{
				"c.yaml:1: homeservers: missing required field",
				"c.yaml:1: tenants: missing required field",
			},
		},
		{
			name: "not a mapping",
			data: "- a\n- b\n",
			want: []string{
				"c.yaml:1: config: expected a mapping, got a list",
				"c.yaml:1: homeservers: missing required field",
				"c.yaml:1: tenants: missing required field",
			},
		},
		{
			name: "empty lists",
			data: "homeservers: []\ntenants:\n",
			want: []string{
				"c.yaml:1: homeservers: must list at least one homeserver",
				"c.yaml:2: tenants: must not be empty",
			},
		},
		{
			name: "wrong types",
			data: "stack_dir: [a]\nlog: debug\nhomeservers:\n  name: land\ntenants:\n  - id: {a: b}\n    name: x\n    kind: ministry\n    homeserver: land\n",
			want: []string{
				"c.yaml:1: stack_dir: expected a string, got a list",
				"c.yaml:2: log: expected a mapping, got a string",
				"c.yaml:4: homeservers: expected a list, got a mapping",
				"c.yaml:6: tenants[0].id: expected a string, got a mapping",
				`c.yaml:9: tenants[0].homeserver: unknown homeserver "land" (configured: )`,
			},
		},
		{
			name: "missing and invalid fields",
			data: "log:\n  level: verbose\n  format: xml\n  colour: true\n" +
				"database:\n  uri: mysql://db/lm\n" +
				"homeservers:\n  - name: Land\n    server_name: https://land.hessen.de\n    client_url: ftp://land.hessen.de\n" +
				"  - description: no name\n    service_account:\n      localpart: Land Messenger\n" +
				"tenants:\n  - id: STK\n    kind: ministery\n  - name: x\n",
			want: []string{
				`c.yaml:2: log.level: invalid log level "verbose" (want trace, debug, info, warn or error)`,
				`c.yaml:3: log.format: invalid log format "xml" (want text or json)`,
				"c.yaml:4: log.colour: unknown field",
				`c.yaml:6: database.uri: unsupported database scheme "mysql" (want sqlite:PATH, file:PATH, a plain path, postgres:// or postgresql://)`,
				`c.yaml:8: homeservers[0].name: invalid homeserver name "Land" (want lowercase letters, digits and hyphens)`,
				`c.yaml:9: homeservers[0].server_name: invalid server name "https://land.hessen.de" (want a host name or IP address with optional port, e.g. land.hessen.de)`,
				`c.yaml:10: homeservers[0].client_url: must be an absolute http or https URL, got "ftp://land.hessen.de"`,
				"c.yaml:11: homeservers[1].name: missing required field",
				"c.yaml:11: homeservers[1].server_name: missing required field (required unless stack_dir is set)",
				"c.yaml:11: homeservers[1].client_url: missing required field (required unless stack_dir is set)",
				`c.yaml:13: homeservers[1].service_account.localpart: invalid Matrix localpart "Land Messenger" (want lowercase letters, digits and ._=/+-)`,
				`c.yaml:15: tenants[0].id: invalid tenant id "STK" (want lowercase letters, digits and hyphens)`,
				"c.yaml:15: tenants[0].name: missing required field",
				"c.yaml:15: tenants[0].homeserver: missing required field",
				`c.yaml:16: tenants[0].kind: invalid tenant kind "ministery" (want ministry, police, forestry or schools)`,
				"c.yaml:17: tenants[1].id: missing required field",
				"c.yaml:17: tenants[1].kind: missing required field",
				"c.yaml:17: tenants[1].homeserver: missing required field",
			},
		},
		{
			name: "duplicates",
			data: header + "    name: forst\n  - name: land\n    server_name: 127.0.0.2:8448\n    client_url: http://127.0.0.2:8008\n" + tenant +
				"  - id: stk\n    name: again\n    kind: schools\n    homeserver: land\n",
			want: []string{
				"c.yaml:5: homeservers[0].name: duplicate field (first defined at line 2)",
				`c.yaml:6: homeservers[1].name: duplicate homeserver name "land" (first defined at line 2)`,
				`c.yaml:14: tenants[1].id: duplicate tenant id "stk" (first defined at line 10)`,
			},
		},
		{
			name: "stack dir makes connection settings optional",
			data: "stack_dir: .demo\nhomeservers:\n  - name: land\n" + tenant,
		},
		{
			name: "server names",
			data: "stack_dir: .demo\nhomeservers:\n  - name: a\n    server_name: '[::1]:8448'\n  - name: b\n    server_name: 'land.hessen.de:99999'\n  - name: c\n    server_name: '[1.2.3.4]'\n  - name: d\n    server_name: 127.0.0.2\n" + strings.Replace(tenant, "land", "a", 1),
			want: []string{
				`c.yaml:6: homeservers[1].server_name: invalid server name "land.hessen.de:99999" (want a host name or IP address with optional port, e.g. land.hessen.de)`,
				`c.yaml:8: homeservers[2].server_name: invalid server name "[1.2.3.4]" (want a host name or IP address with optional port, e.g. land.hessen.de)`,
			},
		},
		{
			name: "client URLs",
			data: "stack_dir: .demo\nhomeservers:\n  - name: a\n    client_url: 'matrix.land.hessen.de'\n  - name: b\n    client_url: 'https://'\n  - name: c\n    client_url: 'https://user:hunter2@x:%zz'\n" + strings.Replace(tenant, "land", "a", 1),
			want: []string{
				`c.yaml:4: homeservers[0].client_url: must be an absolute http or https URL, got "matrix.land.hessen.de"`,
				`c.yaml:6: homeservers[1].client_url: missing host in URL "https:"`,
				`c.yaml:8: homeservers[2].client_url: invalid URL: invalid port ":%zz" after host`,
			},
		},
		{
			name: "anchors and merge keys",
			data: "stack_dir: .demo\nhomeservers:\n  - &hs\n    name: land\n    description: x\n  - <<: *hs\n    name: forst\n    nmae: typo\n" +
				"tenants:\n  - &t {id: a, name: A, kind: ministry, homeserver: land}\n  - {<<: *t, id: b}\n",
			want: []string{
				"c.yaml:8: homeservers[1].nmae: unknown field",
			},
		},
		{
			name: "postgres without host",
			data: "database:\n  uri: postgres:///lm\n" + header + tenant,
			want: []string{"c.yaml:2: database.uri: invalid PostgreSQL URI: missing host"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("c.yaml", []byte(tt.data), noEnv)
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if (err == nil) != (cfg != nil) {
				t.Errorf("got config %v and error %v, want exactly one", cfg, err)
			}
		})
	}
}

func TestMergeKeys(t *testing.T) {
	data := "stack_dir: .demo\nhomeservers:\n  - &hs\n    name: land\n    description: shared\n  - <<: *hs\n    name: forst\n" +
		"tenants:\n  - &t {id: a, name: A, kind: ministry, homeserver: land}\n  - {<<: *t, id: b}\n"
	cfg, err := parse("c.yaml", []byte(data), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	if got, want := cfg.Homeservers[1], (Homeserver{Name: "forst", Description: "shared", ServiceAccount: ServiceAccount{Localpart: "landesmessenger"}, Line: 6}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, want := cfg.Tenants[1], (Tenant{ID: "b", Name: "A", Kind: KindMinistry, Homeserver: "land", ShortName: "B", Line: 10}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestEnv(t *testing.T) {
	const tail = "homeservers:\n  - name: land\ntenants:\n  - {id: a, name: A, kind: ministry, homeserver: land}\n"
	tests := []struct {
		name     string
		env      map[string]string
		data     string
		want     []string // problems
		stackDir string
		logLevel string
	}{
		{
			name:     "set",
			env:      map[string]string{"SD": "/srv/stack", "LVL": "debug"},
			data:     "stack_dir: ${SD}\nlog:\n  level: ${LVL:-warn}\n" + tail,
			stackDir: "/srv/stack",
			logLevel: "debug",
		},
		{
			name:     "default when unset",
			env:      map[string]string{"SD": "x"},
			data:     "stack_dir: ${SD}\nlog:\n  level: ${LVL:-warn}\n" + tail,
			stackDir: "x",
			logLevel: "warn",
		},
		{
			name:     "default when empty",
			env:      map[string]string{"SD": "x", "LVL": ""},
			data:     "stack_dir: ${SD}\nlog:\n  level: ${LVL:-warn}\n" + tail,
			stackDir: "x",
			logLevel: "warn",
		},
		{
			name:     "dollar escapes and plain dollars",
			env:      map[string]string{"SD": "x"},
			data:     "stack_dir: \"a$$b${SD}$c$$${SD}\"\n" + tail,
			stackDir: "a$bx$c$x",
			logLevel: "info",
		},
		{
			name:     "comments are not expanded",
			data:     "# uses ${UNSET}\nstack_dir: 'a # ${SD:-b}' # ${UNSET}\n" + tail,
			stackDir: "a # b",
			logLevel: "info",
		},
		{
			name: "unset without default",
			env:  map[string]string{"LVL": "info"},
			data: "stack_dir: ${STACK}\nlog:\n  level: ${LVL}\n" + tail,
			want: []string{
				"c.yaml:1: stack_dir: environment variable STACK is not set (use ${STACK:-default} for a default)",
				"c.yaml:5: homeservers[0].server_name: missing required field (required unless stack_dir is set)",
				"c.yaml:5: homeservers[0].client_url: missing required field (required unless stack_dir is set)",
			},
		},
		{
			name: "unset required field",
			data: "stack_dir: .demo\nhomeservers:\n  - name: ${HS_NAME}\n    description: ${DESC:-}\ntenants:\n  - {id: a, name: A, kind: ministry, homeserver: land}\n",
			want: []string{
				"c.yaml:3: homeservers[0].name: environment variable HS_NAME is not set (use ${HS_NAME:-default} for a default)",
				`c.yaml:6: tenants[0].homeserver: unknown homeserver "land" (configured: )`,
			},
		},
		{
			name: "newline in value",
			env:  map[string]string{"SD": "a\nlog: {level: x}"},
			data: "stack_dir: ${SD}\n" + tail,
			want: []string{
				"c.yaml:1: stack_dir: environment variable SD contains a line break",
				"c.yaml:3: homeservers[0].server_name: missing required field (required unless stack_dir is set)",
				"c.yaml:3: homeservers[0].client_url: missing required field (required unless stack_dir is set)",
			},
		},
		{
			name: "malformed references",
			data: "stack_dir: ${1X}\nlog:\n  level: ${A:-${B}}\n  format: ${OOPS\n" + tail,
			want: []string{
				`c.yaml:1: stack_dir: invalid environment reference "${1X}" (want ${NAME} or ${NAME:-default})`,
				`c.yaml:3: log.level: nested environment reference in "${A:-${B}}" is not supported`,
				`c.yaml:4: log.format: unterminated environment reference "${OOPS" (missing "}")`,
				"c.yaml:6: homeservers[0].server_name: missing required field (required unless stack_dir is set)",
				"c.yaml:6: homeservers[0].client_url: missing required field (required unless stack_dir is set)",
			},
		},
		{
			name: "reference in key",
			data: "${KEY}: x\nstack_dir: .demo\n" + tail,
			want: []string{
				"c.yaml:1: env: environment variable KEY is not set (use ${KEY:-default} for a default)",
				"c.yaml:1: yaml: did not find expected key",
			},
		},
		{
			name: "reference with syntax error",
			data: "stack_dir: ${UNSET}\nlog: [\n",
			want: []string{
				"c.yaml:1: stack_dir: environment variable UNSET is not set (use ${UNSET:-default} for a default)",
				"c.yaml:2: yaml: did not find expected node content",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("c.yaml", []byte(tt.data), envMap(tt.env))
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err != nil {
				return
			}
			if cfg.StackDir != tt.stackDir {
				t.Errorf("stack_dir: got %q, want %q", cfg.StackDir, tt.stackDir)
			}
			if cfg.Log.Level != tt.logLevel {
				t.Errorf("log.level: got %q, want %q", cfg.Log.Level, tt.logLevel)
			}
		})
	}
}

func TestParseUsesProcessEnvironment(t *testing.T) {
	t.Setenv("LANDESMESSENGER_TEST_STACK_DIR", "/srv/stack")
	data := "stack_dir: ${LANDESMESSENGER_TEST_STACK_DIR}\nhomeservers: [{name: land}]\ntenants: [{id: a, name: A, kind: police, homeserver: land}]\n"
	cfg, err := Parse("c.yaml", []byte(data))
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	if got, want := cfg.StackDir, "/srv/stack"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good", "  s3cr3t-value\n")
	empty := writeFile(t, dir, "empty", " \n\t\n")
	large := writeFile(t, dir, "large", strings.Repeat("x", MaxSecretSize+1))
	missing := filepath.Join(dir, "missing")

	config := func(reg, pw, token string) string {
		return "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\n" +
			"    registration_shared_secret_file: '" + reg + "'\n" +
			"    service_account:\n      password_file: '" + pw + "'\n      access_token_file: '" + token + "'\n" +
			"tenants: [{id: a, name: A, kind: ministry, homeserver: land}]\n"
	}
	tests := []struct {
		name           string
		reg, pw, token string
		want           []string
	}{
		{name: "readable", reg: good, pw: good, token: good},
		{name: "unset", reg: "", pw: "", token: ""},
		{
			name: "missing",
			reg:  missing, pw: good, token: good,
			want: []string{`c.yaml:5: homeservers[0].registration_shared_secret_file: cannot read secret file "` + missing + `": no such file or directory`},
		},
		{
			name: "directory, empty and too large",
			reg:  dir, pw: empty, token: large,
			want: []string{
				`c.yaml:5: homeservers[0].registration_shared_secret_file: cannot read secret file "` + dir + `": is a directory`,
				`c.yaml:7: homeservers[0].service_account.password_file: secret file "` + empty + `" is empty`,
				`c.yaml:8: homeservers[0].service_account.access_token_file: secret file "` + large + `" is larger than 65536 bytes`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("c.yaml", []byte(config(tt.reg, tt.pw, tt.token)), noEnv)
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err == nil && cfg.Homeservers[0].ServiceAccount.PasswordFile != tt.pw {
				t.Errorf("password_file: got %q, want %q", cfg.Homeservers[0].ServiceAccount.PasswordFile, tt.pw)
			}
		})
	}
}

// TestSecretFilePermissionDenied checks the message for an unreadable file.
// Tests run as root in CI, where file modes are not enforced, so the
// permission error is given as the operating system reports it.
func TestSecretFilePermissionDenied(t *testing.T) {
	path := "/etc/landesmessenger/secret"
	err := &fs.PathError{Op: "open", Path: path, Err: fs.ErrPermission}
	got := readProblem(path, err)
	want := `cannot read secret file "/etc/landesmessenger/secret": permission denied`
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		want    string
		wantErr error
	}{
		{name: "trimmed", path: writeFile(t, dir, "a", "\n  s3cr3t-value \r\n"), want: "s3cr3t-value"},
		{name: "missing", path: filepath.Join(dir, "missing"), wantErr: fs.ErrNotExist},
		{name: "empty", path: writeFile(t, dir, "b", "\n"), wantErr: ErrEmptySecret},
		{name: "too large", path: writeFile(t, dir, "c", strings.Repeat("s3cr3t-value", MaxSecretSize)), wantErr: ErrSecretTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadSecret(tt.path)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tt.path) {
				t.Errorf("got error %q, want it to name %s", err, tt.path)
			}
		})
	}
	if _, err := ReadSecret(""); err == nil {
		t.Errorf("ReadSecret(\"\"): got no error, want one")
	}
}

func TestSecretNeverInErrors(t *testing.T) {
	const secret = "s3cr3t-hunter2"
	dir := t.TempDir()
	good := writeFile(t, dir, "good", secret+"\n")
	large := writeFile(t, dir, "large", strings.Repeat(secret+"\n", MaxSecretSize/len(secret)+1))
	// A "secret" that looks like YAML, for when a secret file is passed
	// where the configuration is expected.
	yamlish := writeFile(t, dir, "yamlish", "password: "+secret+": x\n  "+secret+"\n")
	config := writeFile(t, dir, "config.yaml",
		"log:\n  level: loud\nhomeservers:\n  - name: land\n    client_url: 'https://landesmessenger:"+secret+"@matrix.land.hessen.de:%zz'\n"+
			"  - name: forst\n    client_url: 'ftp://landesmessenger:"+secret+"@matrix.forst.hessen.de'\n"+
			"    registration_shared_secret_file: "+good+"\n"+
			"    service_account:\n      password_file: "+large+"\n      access_token_file: "+good+"/x\n"+
			"tenants: [{id: a, name: A, kind: ministry, homeserver: nowhere}]\n")

	var errs []error
	for _, path := range []string{config, good, large, yamlish} {
		_, err := Load(path)
		errs = append(errs, err)
	}
	for _, path := range []string{good + "/x", large, dir} {
		_, err := ReadSecret(path)
		errs = append(errs, err)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: got no error, want one", i)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("case %d: got error containing the secret:\n%v", i, err)
		}
	}
}

func TestDatabase(t *testing.T) {
	tests := []struct {
		uri     string
		driver  DatabaseDriver
		dsn     string
		problem string
	}{
		{uri: "landesmessenger.db", driver: DriverSQLite, dsn: "landesmessenger.db"},
		{uri: "sqlite:data/lm.db", driver: DriverSQLite, dsn: "data/lm.db"},
		{uri: "sqlite:///var/lib/lm.db", driver: DriverSQLite, dsn: "/var/lib/lm.db"},
		{uri: "file:lm.db?_pragma=busy_timeout(5000)", driver: DriverSQLite, dsn: "file:lm.db?_pragma=busy_timeout(5000)"},
		{uri: "postgres://lm@db.hessen.de/lm", driver: DriverPostgres, dsn: "postgres://lm@db.hessen.de/lm"},
		{uri: "postgresql://lm@db.hessen.de:5432/lm?sslmode=verify-full", driver: DriverPostgres, dsn: "postgresql://lm@db.hessen.de:5432/lm?sslmode=verify-full"},
		{uri: "mysql://db/lm", driver: "", dsn: "mysql://db/lm", problem: `unsupported database scheme "mysql" (want sqlite:PATH, file:PATH, a plain path, postgres:// or postgresql://)`},
		{uri: "sqlite:", driver: DriverSQLite, dsn: "", problem: "missing SQLite database path"},
	}
	for _, tt := range tests {
		db := Database{URI: tt.uri}
		if got := db.Driver(); got != tt.driver {
			t.Errorf("%s: driver: got %q, want %q", tt.uri, got, tt.driver)
		}
		if got := db.DSN(); got != tt.dsn {
			t.Errorf("%s: dsn: got %q, want %q", tt.uri, got, tt.dsn)
		}
		if got := databaseProblem(tt.uri); got != tt.problem {
			t.Errorf("%s: problem: got %q, want %q", tt.uri, got, tt.problem)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Homeservers: []Homeserver{{Name: "land"}}, Tenants: []Tenant{{ID: "a"}}}, "1 homeserver (land), 1 tenant"},
		{Config{Homeservers: []Homeserver{{Name: "land"}, {Name: "forst"}}}, "2 homeservers (land, forst), 0 tenants"},
		{Config{Homeservers: []Homeserver{{Name: "land"}}, Tenants: []Tenant{{ID: "a", Rooms: []Room{{ID: "x"}}}}, Directory: []DirectorySource{{Type: SourceFile}}},
			"1 homeserver (land), 1 tenant, 1 room, 1 directory source"},
		{Config{Homeservers: []Homeserver{{Name: "land"}}, Tenants: []Tenant{{ID: "a", Rooms: []Room{{ID: "x"}}}}, Rooms: []Room{{ID: "y"}}},
			"1 homeserver (land), 1 tenant, 2 rooms"},
	}
	for _, tt := range tests {
		if got := tt.cfg.Summary(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestProblemString(t *testing.T) {
	err := &ValidationError{Problems: []Problem{
		{File: "config.yaml", Line: 7, Field: "homeservers[0].clienturl", Msg: "unknown field"},
		{File: "config.yaml", Line: 9, Field: "yaml", Msg: "oops"},
	}}
	if got, want := err.Error(), "config.yaml:7: homeservers[0].clienturl: unknown field\nconfig.yaml:9: yaml: oops"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTenantKinds(t *testing.T) {
	for _, k := range TenantKinds() {
		if !k.Valid() {
			t.Errorf("%s: got invalid, want valid", k)
		}
	}
	if TenantKind("ministery").Valid() {
		t.Errorf("ministery: got valid, want invalid")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example)
	for _, name := range []string{"testdata/bad.yaml", "testdata/badyaml.yaml", "testdata/bad-all.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("homeservers: [{<<: [*x]}]\n"))
	f.Add([]byte("${"))
	f.Add([]byte("homeservers: [{name: a}]\ntenants:\n  - id: t\n    units: [{id: u, name: U}]\n    rooms: [{id: r, units: [u, x]}]\n" +
		"rooms:\n  - {id: r, host: a, tenants: [t, t]}\ndirectory:\n  - {type: ldap, groups: [{tenant: t, unit: u}], attributes: {id: uid}}\n" +
		"provisioning: {interval: 1m, max_removal_share: .5, concurrency: 2}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse("f.yaml", data, noEnv)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("got config %v and error %v, want exactly one", cfg, err)
		}
		var verr *ValidationError
		if err != nil && (!errors.As(err, &verr) || len(verr.Problems) == 0) {
			t.Fatalf("got error %v, want *ValidationError with problems", err)
		}
	})
}

func TestProvisioningProblems(t *testing.T) {
	dir := t.TempDir()
	people := writeFile(t, dir, "people.yaml", "people: []\n")
	secret := writeFile(t, dir, "bind-password", "s3cr3t\n")
	missing := filepath.Join(dir, "missing.yaml")
	subdir := filepath.Join(dir, "people.d.yaml")
	if err := os.Mkdir(subdir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Lines 1-12; the cases append from line 13 on.
	const base = "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\n" +
		"tenants:\n  - id: stk\n    name: StK\n    kind: ministry\n    homeserver: land\n" +
		"    units:\n      - {id: z, name: Zentralabteilung}\n      - {id: presse, name: Presse}\n"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{
			name: "valid",
			data: base + "    rooms:\n      - {id: lage, name: Lage, units: [z], class: cross-agency, audience: leaders, history_visibility: joined}\n" +
				"rooms:\n  - {id: lage, name: Lage, host: land, tenants: [stk], class: external}\n" +
				"directory:\n  - {type: file, path: '" + people + "'}\n" +
				"  - type: ldap\n    url: ldaps://ldap.hessen.de:636\n    bind_dn: cn=lm,dc=hessen,dc=de\n    bind_password_file: '" + secret + "'\n" +
				"    base_dn: dc=hessen,dc=de\n    filter: (&(objectClass=person)(!(uid=svc-*)))\n    attributes: {id: uid, deputy: secretary}\n" +
				"    groups:\n      - {dn: 'cn=a,dc=hessen,dc=de', tenant: stk, unit: presse, role: moderator}\n      - {dn: 'cn=b,dc=hessen,dc=de', role: admin}\n" +
				"    timeout: 1m30s\n" +
				"provisioning:\n  interval: 10s\n  max_removal_share: 1\n  deactivate_removed: false\n  credentials_file: /nonexistent/dir/creds.json\n  concurrency: 64\n  room_version: '11'\n",
		},
		{
			name: "unknown unit in a room",
			data: base + "    rooms:\n      - id: lage\n        name: Lage\n        units: [z, lpp, z]\n      - {id: b, name: B, units: []}\n      - {id: c, name: C, units: [{a: b}, '']}\n",
			want: []string{
				`c.yaml:16: tenants[0].rooms[0].units[1]: unknown unit "lpp" of tenant "stk" (configured: z, presse)`,
				`c.yaml:16: tenants[0].rooms[0].units[2]: duplicate unit "z" (first listed at line 16)`,
				"c.yaml:17: tenants[0].rooms[1].units: must list at least one unit (leave units out for all people of the tenant)",
				"c.yaml:18: tenants[0].rooms[2].units[0]: expected a string, got a mapping",
				"c.yaml:18: tenants[0].rooms[2].units[1]: must not be empty",
			},
		},
		{
			name: "bad units",
			data: base + "      - {id: z, name: Again}\n      - {id: Z}\n      - name: no id\n",
			want: []string{
				`c.yaml:13: tenants[0].units[2].id: duplicate unit id "z" (first defined at line 11)`,
				`c.yaml:14: tenants[0].units[3].id: invalid unit id "Z" (want lowercase letters, digits and hyphens)`,
				"c.yaml:14: tenants[0].units[3].name: missing required field",
				"c.yaml:15: tenants[0].units[4].id: missing required field",
			},
		},
		{
			name: "cross-tenant room with unknown host and tenants",
			data: base + "rooms:\n  - id: lage\n    name: Lage\n    host: forst\n    tenants: [stk, hmdis, stk]\n" +
				"  - {id: b, name: B, tenants: []}\n  - {id: c, name: C, host: land}\n",
			want: []string{
				`c.yaml:16: rooms[0].host: unknown homeserver "forst" (configured: land)`,
				`c.yaml:17: rooms[0].tenants[1]: unknown tenant "hmdis" (configured: stk)`,
				`c.yaml:17: rooms[0].tenants[2]: duplicate tenant "stk" (first listed at line 17)`,
				"c.yaml:18: rooms[1].host: missing required field",
				"c.yaml:18: rooms[1].tenants: must list at least one tenant",
				"c.yaml:19: rooms[2].tenants: missing required field",
			},
		},
		{
			name: "reserved, invalid and duplicate room ids",
			data: base + "    rooms:\n      - {id: allgemein, name: A}\n      - {id: unit-z, name: U}\n      - {id: Lage, name: L}\n      - {id: x, name: X}\n      - {id: x, name: Y}\n" +
				"rooms:\n  - {id: leitung, host: land, tenants: [stk]}\n  - {id: x, name: X, host: land, tenants: [stk]}\n  - {id: x, name: Y, host: land, tenants: [stk]}\n",
			want: []string{
				`c.yaml:14: tenants[0].rooms[0].id: room id "allgemein" is reserved for the default rooms (space, allgemein, leitung, mitteilungen, verwaltung, willkommen and unit-*)`,
				`c.yaml:15: tenants[0].rooms[1].id: room id "unit-z" is reserved for the default rooms (space, allgemein, leitung, mitteilungen, verwaltung, willkommen and unit-*)`,
				`c.yaml:16: tenants[0].rooms[2].id: invalid room id "Lage" (want lowercase letters, digits and hyphens)`,
				`c.yaml:18: tenants[0].rooms[4].id: duplicate room id "x" (first defined at line 17)`,
				`c.yaml:20: rooms[0].id: room id "leitung" is reserved for the default rooms (space, allgemein, leitung, mitteilungen, verwaltung, willkommen and unit-*)`,
				"c.yaml:20: rooms[0].name: missing required field",
				`c.yaml:22: rooms[2].id: duplicate room id "x" (first defined at line 21)`,
			},
		},
		{
			name: "bad class, audience and history visibility",
			data: base + "    rooms:\n      - id: a\n        name: A\n        class: open\n        audience: everyone\n        history_visibility: world_readable\n" +
				"        host: land\n        tenants: [stk]\n" +
				"rooms:\n  - id: b\n    name: B\n    host: land\n    tenants: [stk]\n    class: internal\n    history_visibility: always\n    units: [z]\n",
			want: []string{
				`c.yaml:16: tenants[0].rooms[0].class: invalid room class "open" (want internal, cross-agency or external)`,
				`c.yaml:17: tenants[0].rooms[0].audience: invalid audience "everyone" (want all or leaders)`,
				"c.yaml:18: tenants[0].rooms[0].history_visibility: world_readable is not allowed: the history must not be readable without joining (want shared, invited or joined)",
				"c.yaml:19: tenants[0].rooms[0].host: only allowed in cross-tenant rooms (the top-level rooms list)",
				"c.yaml:20: tenants[0].rooms[0].tenants: only allowed in cross-tenant rooms (the top-level rooms list)",
				"c.yaml:26: rooms[0].class: cross-tenant rooms cannot be internal (want cross-agency or external)",
				`c.yaml:27: rooms[0].history_visibility: invalid history visibility "always" (want shared, invited or joined)`,
				"c.yaml:28: rooms[0].units: only allowed in rooms of a tenant",
			},
		},
		{
			name: "ldap source",
			data: base + "directory:\n  - type: ldap\n    url: https://ldap.hessen.de\n    bind_password_file: '" + missing + "'\n" +
				"    filter: objectClass=person\n    attributes:\n      id: uid\n      mail: mail\n      surname:\n" +
				"    groups:\n      - dn: cn=a,dc=hessen,dc=de\n        tenant: hmdis\n        unit: z\n" +
				"      - {dn: cn=b, tenant: stk, unit: lpp, role: boss}\n      - {unit: z}\n" +
				"    timeout: 0s\n    path: x.yaml\n",
			want: []string{
				"c.yaml:14: directory[0].base_dn: missing required field",
				`c.yaml:15: directory[0].url: must be an ldap:// or ldaps:// URL, got "https://ldap.hessen.de"`,
				`c.yaml:16: directory[0].bind_password_file: cannot read secret file "` + missing + `": no such file or directory`,
				`c.yaml:17: directory[0].filter: invalid LDAP filter "objectClass=person" (want a filter in parentheses, e.g. (objectClass=inetOrgPerson))`,
				"c.yaml:20: directory[0].attributes.mail: unknown field",
				"c.yaml:21: directory[0].attributes.surname: must not be empty",
				`c.yaml:24: directory[0].groups[0].tenant: unknown tenant "hmdis" (configured: stk)`,
				`c.yaml:26: directory[0].groups[1].unit: unknown unit "lpp" of tenant "stk" (configured: z, presse)`,
				`c.yaml:26: directory[0].groups[1].role: invalid role "boss" (want member, moderator or admin)`,
				"c.yaml:27: directory[0].groups[2].dn: missing required field",
				"c.yaml:27: directory[0].groups[2].unit: requires tenant (units belong to a tenant)",
				"c.yaml:28: directory[0].timeout: must be positive, got 0s",
				"c.yaml:29: directory[0].path: only allowed in file sources",
			},
		},
		{
			name: "file sources",
			data: base + "directory:\n  - type: file\n    path: '" + missing + "'\n  - {type: file, path: '" + dir + "/people.txt'}\n" +
				"  - {type: file, path: '" + subdir + "'}\n  - {type: file, base_dn: x}\n  - {type: csv}\n  - {path: x}\n  - []\n",
			want: []string{
				`c.yaml:15: directory[0].path: cannot read directory file "` + missing + `": no such file or directory`,
				`c.yaml:16: directory[1].path: unsupported directory file "` + dir + `/people.txt" (want a .yaml, .yml or .csv file)`,
				`c.yaml:17: directory[2].path: cannot read directory file "` + subdir + `": is a directory`,
				"c.yaml:18: directory[3].path: missing required field",
				"c.yaml:18: directory[3].base_dn: only allowed in ldap sources",
				`c.yaml:19: directory[4].type: invalid directory source type "csv" (want file or ldap)`,
				"c.yaml:20: directory[5].type: missing required field",
				"c.yaml:21: directory[6]: expected a mapping, got a list",
				"c.yaml:21: directory[6].type: missing required field",
			},
		},
		{
			name: "provisioning values",
			data: base + "provisioning:\n  interval: 5 minutes\n  max_removal_share: 1.5\n  deactivate_removed: yes\n" +
				"  concurrency: 0\n  room_version: V11\n  credentials_file: [a]\n  retries: 3\n",
			want: []string{
				`c.yaml:14: provisioning.interval: invalid duration "5 minutes" (want a number with a unit, e.g. 30s, 5m or 1h)`,
				"c.yaml:15: provisioning.max_removal_share: must be greater than 0 and at most 1, got 1.5",
				`c.yaml:16: provisioning.deactivate_removed: expected true or false, got "yes"`,
				"c.yaml:17: provisioning.concurrency: must be between 1 and 64, got 0",
				`c.yaml:18: provisioning.room_version: invalid room version "V11" (want up to 32 of a-z, 0-9, '.' and '-', e.g. 11)`,
				"c.yaml:19: provisioning.credentials_file: expected a string, got a list",
				"c.yaml:20: provisioning.retries: unknown field",
			},
		},
		{
			name: "provisioning ranges",
			data: base + "provisioning:\n  interval: 5s\n  max_removal_share: 0\n  concurrency: four\n",
			want: []string{
				"c.yaml:14: provisioning.interval: must be at least 10s, got 5s",
				"c.yaml:15: provisioning.max_removal_share: must be greater than 0 and at most 1, got 0",
				`c.yaml:16: provisioning.concurrency: expected an integer, got "four"`,
			},
		},
		{
			name: "wrong types",
			data: base + "    short_name: [x]\n    rooms: {id: a}\nrooms: x\ndirectory: {type: file}\nprovisioning: []\n",
			want: []string{
				"c.yaml:13: tenants[0].short_name: expected a string, got a list",
				"c.yaml:14: tenants[0].rooms: expected a list, got a mapping",
				"c.yaml:15: rooms: expected a list, got a string",
				"c.yaml:16: directory: expected a list, got a mapping",
				"c.yaml:17: provisioning: expected a mapping, got a list",
			},
		},
		{
			name: "valid admin",
			data: base + "admin:\n  homeserver: land\n  land_admins: [a, b]\n  auditors: [c]\n  four_eyes: [User  Disable, room close]\n  verified_devices_only: true\n  bot_localpart: bot\n  language: en\n",
		},
		{
			name: "bad admin",
			data: base + "admin:\n  homeserver: polizei\n  land_admins: [a, a]\n  four_eyes: [user show]\n  bot_localpart: landesmessenger\n  language: fr\n",
			want: []string{
				`c.yaml:14: admin.homeserver: unknown homeserver "polizei" (configured: land)`,
				`c.yaml:15: admin.land_admins[1]: "a" is listed twice (first at line 15)`,
				`c.yaml:16: admin.four_eyes[0]: "user show" is not a command that changes something (want one of: user add, user move, user disable, user enable, room create, room close, member add, member remove, role grant, role revoke, guest invite, guest extend, guest remove, retention set, retention reset, hold room, hold person, hold lift, marks clear)`,
				`c.yaml:17: admin.bot_localpart: "landesmessenger" is the service account of homeserver land: the bot needs an account of its own`,
				`c.yaml:18: admin.language: invalid language "fr" (want de or en)`,
			},
		},
		{
			name: "valid federation",
			data: base + "federation:\n  list: https://hzd.hessen.de/federation.json\n  public_key_files: [a.pub, b.pub]\n  refresh: 1m\n",
		},
		{
			name: "bad federation",
			data: base + "federation:\n  list: http://hzd.hessen.de/f.json\n  public_key_files: []\n  refresh: 1s\n  sign: yes\n",
			want: []string{
				`c.yaml:14: federation.list: must be a file path or an https URL, got "http://hzd.hessen.de/f.json"`,
				"c.yaml:15: federation.public_key_files: must list at least one public key file",
				"c.yaml:16: federation.refresh: must be at least 10s",
				"c.yaml:17: federation.sign: unknown field",
			},
		},
		{
			name: "federation without list and keys",
			data: base + "federation:\n  refresh: 1m\n",
			want: []string{
				"c.yaml:14: federation.list: missing required field",
				"c.yaml:14: federation.public_key_files: missing required field (the federation list must be signed by a trusted key)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("c.yaml", []byte(tt.data), noEnv)
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if (err == nil) != (cfg != nil) {
				t.Errorf("got config %v and error %v, want exactly one", cfg, err)
			}
		})
	}
}

func TestProvisioningSyntaxRecovery(t *testing.T) {
	// Tenant stk (lines 6-14) with units z and presse.
	const base = "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\n" +
		"tenants:\n  - id: stk\n    name: StK\n    kind: ministry\n    homeserver: land\n" +
		"    units:\n      - id: z\n        name: Zentralabteilung\n      - id: presse\n        name: Presse\n"
	const tenantRoom = "    rooms:\n      - {id: a, name: A, units: [presse, nope]}\n"
	const crossRoom = "rooms:\n  - {id: a, name: A, host: land, tenants: [stk, nope]}\n"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{
			// The lost id may have been "nope".
			name: "error in a unit id",
			data: strings.Replace(base, "id: presse", "id: presse: x", 1) + tenantRoom,
			want: []string{"c.yaml:13: yaml: mapping values are not allowed in this context"},
		},
		{
			name: "error in a unit name",
			data: strings.Replace(base, "name: Presse", "name: Presse: x", 1) + tenantRoom,
			want: []string{
				"c.yaml:14: yaml: mapping values are not allowed in this context",
				`c.yaml:16: tenants[0].rooms[0].units[1]: unknown unit "nope" of tenant "stk" (configured: z, presse)`,
			},
		},
		{
			name: "error in a tenant id",
			data: strings.Replace(base, "id: stk", "id: stk: x", 1) + crossRoom,
			want: []string{"c.yaml:6: yaml: mapping values are not allowed in this context"},
		},
		{
			name: "error in a homeserver name",
			data: strings.Replace(base, "name: land", "name: land: x", 1) + crossRoom,
			want: []string{
				"c.yaml:2: yaml: mapping values are not allowed in this context",
				`c.yaml:16: rooms[0].tenants[1]: unknown tenant "nope" (configured: stk)`,
			},
		},
		{
			name: "unclosed flow sequence in a room",
			data: base + "rooms:\n  - id: a\n    name: A\n    host: land\n    tenants: [stk, nope\n  - id: b\n    name: B\n    host: nowhere\n    tenants: [stk]\n",
			want: []string{
				"c.yaml:19: yaml: did not find expected ',' or ']'",
				`c.yaml:22: rooms[1].host: unknown homeserver "nowhere" (configured: land)`,
			},
		},
		{
			name: "error in a group",
			data: base + "directory:\n  - type: ldap\n    url: ldaps://x\n    base_dn: dc=x\n    groups:\n      - dn: a: b\n        tenant: stk\n        unit: nope\n      - {dn: b, tenant: nope}\n",
			want: []string{
				"c.yaml:20: yaml: mapping values are not allowed in this context",
				`c.yaml:22: directory[0].groups[0].unit: unknown unit "nope" of tenant "stk" (configured: z, presse)`,
				`c.yaml:23: directory[0].groups[1].tenant: unknown tenant "nope" (configured: stk)`,
			},
		},
		{
			// The lost type may have been anything.
			name: "error in a source type",
			data: base + "directory:\n  - type: ldap: x\n    url: ldaps://x\n",
			want: []string{"c.yaml:16: yaml: mapping values are not allowed in this context"},
		},
		{
			name: "error in provisioning",
			data: base + "provisioning:\n  interval: 5m: x\n  concurrency: 100\n",
			want: []string{
				"c.yaml:16: yaml: mapping values are not allowed in this context",
				"c.yaml:17: provisioning.concurrency: must be between 1 and 64, got 100",
			},
		},
		{
			name: "misindented key of a cross-tenant room",
			data: base + "rooms:\n  - id: a\n    name: A\n    host: land\n   tenants: [stk]\n",
			want: []string{"c.yaml:19: yaml: did not find expected '-' indicator"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse("c.yaml", []byte(tt.data), noEnv)
			if cfg != nil {
				t.Errorf("got config %v, want nil", cfg)
			}
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestProvisioningValues(t *testing.T) {
	dir := t.TempDir()
	people := writeFile(t, dir, "people.csv", "id,given_name\n")
	secret := writeFile(t, dir, "bind-password", "s3cr3t\n")
	const header = "homeservers:\n  - name: land\n    server_name: land.hessen.de\n    client_url: https://matrix.land.hessen.de\n" +
		"tenants:\n  - id: stk\n    name: StK\n    kind: ministry\n    homeserver: land\n"

	// Defaults.
	cfg, err := parse("c.yaml", []byte(header), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	if got, want := cfg.Provisioning, (Provisioning{
		Interval: DefaultInterval, MaxRemovalShare: DefaultMaxRemovalShare, DeactivateRemoved: true,
		CredentialsFile: DefaultCredentialsFile, Concurrency: DefaultConcurrency,
	}); got != want {
		t.Errorf("default provisioning: got %+v, want %+v", got, want)
	}
	if got, want := cfg.Tenants[0].ShortName, "STK"; got != want {
		t.Errorf("default short name: got %q, want %q", got, want)
	}
	if cfg.Tenants[0].Units != nil || cfg.Tenants[0].Rooms != nil || cfg.Rooms != nil || cfg.Directory != nil {
		t.Errorf("got units, rooms or directory sources %+v, want none", cfg)
	}
	if got, want := cfg.Summary(), "1 homeserver (land), 1 tenant"; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}

	data := header + "    short_name: Staatskanzlei\n" +
		"    units:\n      - {id: z, name: Zentralabteilung}\n      - {id: presse, name: Presse}\n" +
		"    rooms:\n      - {id: lage, name: Lage, topic: T, units: [presse, z]}\n      - {id: b, name: B, class: external, audience: leaders, history_visibility: joined}\n" +
		"rooms:\n  - {id: lage, name: Landeslage, host: land, tenants: [stk]}\n" +
		"directory:\n  - {type: file, path: '" + people + "'}\n" +
		"  - type: ldap\n    url: ldaps://ldap.hessen.de\n    bind_dn: cn=lm,dc=hessen,dc=de\n    bind_password_file: '" + secret + "'\n" +
		"    base_dn: dc=hessen,dc=de\n    attributes: {id: uid, deputy: secretary}\n" +
		"    groups:\n      - {dn: 'cn=a,dc=hessen,dc=de', tenant: stk, unit: presse, role: moderator}\n      - {dn: 'cn=b,dc=hessen,dc=de', role: admin}\n" +
		"  - {type: ldap, url: 'ldap://localhost:389', base_dn: dc=x, filter: '(&(objectClass=person)(!(uid=svc-*)))', member_attribute: uniqueMember, timeout: 1m30s}\n" +
		"provisioning:\n  interval: 1h\n  max_removal_share: 1\n  deactivate_removed: false\n  credentials_file: /nonexistent/dir/creds.json\n  concurrency: 64\n  room_version: 11\n"
	cfg, err = parse("c.yaml", []byte(data), noEnv)
	if err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	tn := cfg.Tenants[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"short name", tn.ShortName, "Staatskanzlei"},
		{"units", tn.Units, []Unit{{ID: "z", Name: "Zentralabteilung", Line: 12}, {ID: "presse", Name: "Presse", Line: 13}}},
		{"tenant rooms", tn.Rooms, []Room{
			{ID: "lage", Name: "Lage", Topic: "T", Class: ClassInternal, Audience: AudienceAll, Units: []UnitID{"presse", "z"}, HistoryVisibility: HistoryShared, Line: 15},
			{ID: "b", Name: "B", Class: ClassExternal, Audience: AudienceLeaders, HistoryVisibility: HistoryJoined, Line: 16},
		}},
		{"cross-tenant rooms", cfg.Rooms, []Room{
			{ID: "lage", Name: "Landeslage", Class: ClassCrossAgency, Audience: AudienceLeaders, HistoryVisibility: HistoryShared, Host: "land", Tenants: []TenantID{"stk"}, Line: 18},
		}},
		{"directory", cfg.Directory, []DirectorySource{
			{Type: SourceFile, Path: people, Line: 20},
			{
				Type: SourceLDAP, URL: "ldaps://ldap.hessen.de", BindDN: "cn=lm,dc=hessen,dc=de", BindPasswordFile: secret, BaseDN: "dc=hessen,dc=de",
				Filter: DefaultLDAPFilter, Attributes: map[string]string{"id": "uid", "deputy": "secretary"}, MemberAttribute: DefaultMemberAttribute,
				Groups: []DirectoryGroup{
					{DN: "cn=a,dc=hessen,dc=de", Tenant: "stk", Unit: "presse", Role: "moderator"},
					{DN: "cn=b,dc=hessen,dc=de", Role: "admin"},
				},
				Timeout: DefaultDirectoryTimeout, Line: 21,
			},
			{
				Type: SourceLDAP, URL: "ldap://localhost:389", BaseDN: "dc=x", Filter: "(&(objectClass=person)(!(uid=svc-*)))",
				MemberAttribute: "uniqueMember", Timeout: 90 * time.Second, Line: 30,
			},
		}},
		{"provisioning", cfg.Provisioning, Provisioning{
			Interval: time.Hour, MaxRemovalShare: 1, DeactivateRemoved: false,
			CredentialsFile: "/nonexistent/dir/creds.json", Concurrency: 64, RoomVersion: "11",
		}},
		{"summary", cfg.Summary(), "1 homeserver (land), 1 tenant, 3 rooms, 3 directory sources"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got\n%+v\nwant\n%+v", tt.name, tt.got, tt.want)
		}
	}
	if r, ok := tn.Room("b"); !ok || r.Name != "B" {
		t.Errorf("Room(b): got %v, %v, want B, true", r, ok)
	}
	if _, ok := cfg.Room("b"); ok {
		t.Errorf("Config.Room(b): got true, want false (a tenant room)")
	}
}

func TestRoomIDReserved(t *testing.T) {
	for id, want := range map[RoomID]bool{
		"space": true, "allgemein": true, "leitung": true, "mitteilungen": true, "verwaltung": true, "willkommen": true, "unit-z": true, "unit-": true,
		"lage": false, "units": false, "my-unit-z": false,
	} {
		if got := id.Reserved(); got != want {
			t.Errorf("%s: got %v, want %v", id, got, want)
		}
	}
	for _, c := range RoomClasses() {
		if !c.Valid() {
			t.Errorf("%s: got invalid, want valid", c)
		}
	}
	for _, a := range Audiences() {
		if !a.Valid() {
			t.Errorf("%s: got invalid, want valid", a)
		}
	}
	if RoomClass("public").Valid() || Audience("everyone").Valid() {
		t.Errorf("got valid, want invalid")
	}
}
