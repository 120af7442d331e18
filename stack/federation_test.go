package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseKinds(t *testing.T) {
	tests := []struct {
		name      string
		def       string
		overrides []string
		wantKind  Kind
		wantKinds map[string]Kind
		wantErr   string
	}{
		{name: "default only", def: "synapse", wantKind: Synapse},
		{name: "empty default is dendrite", wantKind: Dendrite},
		{name: "overrides", def: "dendrite", overrides: []string{"land=synapse", " polizei = dendrite "},
			wantKind: Dendrite, wantKinds: map[string]Kind{"land": Synapse, "polizei": Dendrite}},
		{name: "same override twice", overrides: []string{"land=synapse", "land=synapse"},
			wantKind: Dendrite, wantKinds: map[string]Kind{"land": Synapse}},
		{name: "bad default", def: "conduit", wantErr: `unknown homeserver kind "conduit"`},
		{name: "mixed default", def: "mixed", wantErr: `unknown homeserver kind "mixed"`},
		{name: "mixed override", overrides: []string{"land=mixed"}, wantErr: `homeserver kind "land=mixed": unknown homeserver kind "mixed"`},
		{name: "bad kind", overrides: []string{"land=synapse", "bund=conduit"}, wantErr: `homeserver kind "bund=conduit": unknown`},
		{name: "no equals sign", overrides: []string{"land"}, wantErr: `homeserver kind "land": want NAME=KIND`},
		{name: "no name", overrides: []string{"=synapse"}, wantErr: `homeserver kind "=synapse": want NAME=KIND`},
		{name: "no kind", overrides: []string{"land="}, wantErr: `homeserver kind "land=": want NAME=KIND`},
		{name: "contradicting overrides", overrides: []string{"land=synapse", "land=dendrite"}, wantErr: `homeserver kind "land=dendrite": land is already given as synapse`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kind, kinds, err := ParseKinds(tc.def, tc.overrides)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if kind != tc.wantKind || !reflect.DeepEqual(kinds, tc.wantKinds) {
				t.Errorf("got %q %v, want %q %v", kind, kinds, tc.wantKind, tc.wantKinds)
			}
		})
	}
}

// testLayout is a server layout for rendering configurations.
func testLayout(fed *FederationSettings) *serverLayout {
	return &serverLayout{
		name: "land", dir: "/stack/land", ip: "127.20.0.10", serverName: "127.20.0.10",
		tlsCert: "/stack/land/tls.crt", tlsKey: "/stack/land/tls.key", signingKey: "/stack/land/signing.key",
		sharedSecretFile: "/stack/land/registration_shared_secret", fed: fed,
	}
}

func TestSynapseConfigFederationWhitelist(t *testing.T) {
	tests := []struct {
		name string
		fed  *FederationSettings
		want []any // nil: no federation_domain_whitelist
	}{
		{"no settings", nil, nil},
		{"unrestricted", &FederationSettings{}, nil},
		{"whitelist", &FederationSettings{Whitelist: []string{"127.20.0.11", "127.20.0.12"}}, []any{"127.20.0.11", "127.20.0.12"}},
		{"empty whitelist", &FederationSettings{Whitelist: []string{}}, []any{}},
		{"federation disabled", &FederationSettings{DisableFederation: true}, []any{}},
		{"disabled beats whitelist", &FederationSettings{DisableFederation: true, Whitelist: []string{"127.20.0.11"}}, []any{}},
	}
	pg := &Postgres{Host: "127.20.0.9", Port: 5432, User: "postgres"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var conf map[string]any
			if err := yaml.Unmarshal([]byte(synapseConfig(testLayout(tc.fed), pg, "pw", "synapse_land")), &conf); err != nil {
				t.Fatalf("rendered configuration is no YAML: %v", err)
			}
			got, ok := conf["federation_domain_whitelist"]
			if tc.want == nil {
				if ok {
					t.Errorf("federation_domain_whitelist: got %v, want none", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("federation_domain_whitelist: got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestSynapseConfigRoomVersion(t *testing.T) {
	pg := &Postgres{Host: "127.20.0.9", Port: 5432, User: "postgres"}
	for _, version := range []string{"", dendriteRoomVersion} {
		l := testLayout(nil)
		l.roomVersion = version
		var conf map[string]any
		if err := yaml.Unmarshal([]byte(synapseConfig(l, pg, "pw", "synapse_land")), &conf); err != nil {
			t.Fatalf("rendered configuration is no YAML: %v", err)
		}
		got, ok := conf["default_room_version"]
		if version == "" && ok {
			t.Errorf("default_room_version: got %v, want none", got)
		}
		if version != "" && got != version {
			t.Errorf("default_room_version: got %#v, want %q", got, version)
		}
	}
}

func TestDendriteConfigDisableFederation(t *testing.T) {
	tests := []struct {
		name string
		fed  *FederationSettings
		want bool
	}{
		{"no settings", nil, false},
		{"whitelist only", &FederationSettings{Whitelist: []string{"127.20.0.11"}, Gate: true}, false},
		{"federation disabled", &FederationSettings{DisableFederation: true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var conf struct {
				Global struct {
					DisableFederation *bool `yaml:"disable_federation"`
				} `yaml:"global"`
			}
			if err := yaml.Unmarshal([]byte(dendriteConfig(testLayout(tc.fed), "secret", "")), &conf); err != nil {
				t.Fatalf("rendered configuration is no YAML: %v", err)
			}
			if got := conf.Global.DisableFederation; got == nil || *got != tc.want {
				t.Errorf("global.disable_federation: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGatedServerListensBehindTheGate(t *testing.T) {
	tests := []struct {
		name             string
		fed              *FederationSettings
		wantListen       string
		wantPublicListen string
	}{
		{"no gate", nil, "127.20.0.10:8448", "127.20.0.10:8448"},
		{"gate", &FederationSettings{Gate: true}, "127.20.0.10:8449", "127.20.0.10:8448"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLayout(tc.fed)
			if got := l.federationListenAddr(); got != tc.wantListen {
				t.Errorf("homeserver's federation listener: got %s, want %s", got, tc.wantListen)
			}
			if got := l.federationAddr(); got != tc.wantPublicListen {
				t.Errorf("public federation address: got %s, want %s", got, tc.wantPublicListen)
			}
		})
	}
}

func TestLoadTakesServerKindsFromOldFiles(t *testing.T) {
	dir := t.TempDir()
	old := `{"kind": "synapse", "dir": "/x", "homeservers": [{"name": "land", "pid": 1}, {"name": "bund", "kind": "dendrite", "pid": 2}]}`
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []Kind{Synapse, Dendrite} {
		if got := st.Homeservers[i].Kind; got != want {
			t.Errorf("kind of %s: got %q, want %q", st.Homeservers[i].Name, got, want)
		}
	}
}
