package federation

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestEnforcementOf(t *testing.T) {
	lonely := hessen(1)
	lonely.Homeservers = append(lonely.Homeservers, Entry{ServerName: "archiv.hessen.de", Tenant: "archiv"})
	tests := []struct {
		name      string
		l         *List
		self      ServerName
		want      Enforcement
		allowList []ServerName
		federates bool
	}{
		{"partners", hessen(1), "polizei.hessen.de",
			Enforcement{Self: "polizei.hessen.de", Partners: []ServerName{"land.hessen.de"}},
			[]ServerName{"polizei.hessen.de", "land.hessen.de"}, true},
		{"external", hessen(1), "forst.hessen.de",
			Enforcement{Self: "forst.hessen.de", Partners: []ServerName{"land.hessen.de", "schule.hessen.de"}, External: true},
			nil, true},
		{"no partner", lonely, "archiv.hessen.de",
			Enforcement{Self: "archiv.hessen.de"},
			[]ServerName{"archiv.hessen.de"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EnforcementOf(tc.l, tc.self)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("EnforcementOf: got %+v, want %+v", got, tc.want)
			}
			list, ok := got.AllowList()
			if !reflect.DeepEqual(list, tc.allowList) || ok != (tc.allowList != nil) {
				t.Errorf("AllowList: got %v, %v, want %v", list, ok, tc.allowList)
			}
			if got.Federates() != tc.federates {
				t.Errorf("Federates: got %v, want %v", got.Federates(), tc.federates)
			}
		})
	}
}

// settings returns the settings of a fragment: it must parse as YAML.
func settings(t *testing.T, fragment string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := yaml.Unmarshal([]byte(fragment), &out); err != nil {
		t.Fatalf("fragment is not YAML: %v\n%s", err, fragment)
	}
	return out
}

func TestHomeserverConfig(t *testing.T) {
	lonely := hessen(1)
	lonely.Homeservers = append(lonely.Homeservers, Entry{ServerName: "archiv.hessen.de", Tenant: "archiv"})
	hardening := map[string]any{
		"allow_public_rooms_over_federation":       false,
		"allow_profile_lookup_over_federation":     false,
		"allow_device_name_lookup_over_federation": false,
		"trusted_key_servers":                      []any{},
	}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range hardening {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	perspectives := map[string]any{"key_perspectives": []any{}}
	tests := []struct {
		name     string
		l        *List
		self     ServerName
		impl     Implementation
		want     map[string]any
		comments []string // in the fragment
	}{
		{"synapse with partners", hessen(1), "polizei.hessen.de", Synapse,
			with(map[string]any{"federation_domain_whitelist": []any{"polizei.hessen.de", "land.hessen.de"}}),
			[]string{"# Synapse: federation settings of polizei.hessen.de, from federation list version 1", "notary (the default is matrix.org)"}},
		{"synapse external", hessen(1), "forst.hessen.de", Synapse, with(nil),
			[]string{"# No federation_domain_whitelist: external rooms on forst.hessen.de admit servers outside", "#   land.hessen.de, schule.hessen.de\n"}},
		{"synapse without partner", lonely, "archiv.hessen.de", Synapse,
			with(map[string]any{"federation_domain_whitelist": []any{"archiv.hessen.de"}}),
			[]string{"it federates with no other server"}},
		{"dendrite with partners", hessen(1), "polizei.hessen.de", Dendrite,
			map[string]any{"federation_api": perspectives},
			[]string{"# Dendrite v0.13.8 has no federation allow-list", "accepts federation requests from any server",
				"landesmessenger federation gate --server-name polizei.hessen.de", "admits only the partners on the list:\n#   land.hessen.de\n"}},
		{"dendrite external", hessen(1), "forst.hessen.de", Dendrite,
			map[string]any{"federation_api": perspectives},
			[]string{"servers outside the list; it refuses the other servers of the list"}},
		{"dendrite without partner", lonely, "archiv.hessen.de", Dendrite,
			map[string]any{"global": map[string]any{"disable_federation": true}, "federation_api": perspectives},
			[]string{"switch federation off altogether"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := HomeserverConfig(tc.l, tc.self, tc.impl)
			if err != nil {
				t.Fatal(err)
			}
			if got := settings(t, out); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("settings: got %v, want %v\n%s", got, tc.want, out)
			}
			for _, c := range tc.comments {
				if !strings.Contains(out, c) {
					t.Errorf("fragment lacks %q:\n%s", c, out)
				}
			}
			for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if trimmed := strings.TrimSpace(line); !strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "- ") && !strings.Contains(trimmed, ":") {
					t.Errorf("line %q is neither a comment nor a setting", line)
				}
			}
		})
	}
}

func TestHomeserverConfigRefuses(t *testing.T) {
	_, err := HomeserverConfig(hessen(1), "timber.example.com", Synapse)
	if !errors.Is(err, ErrNotListed) || !strings.Contains(err.Error(), "timber.example.com") {
		t.Errorf("server not on the list: got %v, want ErrNotListed naming it", err)
	}
	if _, err := HomeserverConfig(hessen(1), "land.hessen.de", "conduit"); err == nil {
		t.Error("unknown implementation: got no error")
	}
	if _, err := ParseImplementation("Synapse"); err == nil {
		t.Error("ParseImplementation(Synapse): got no error, want one (names are lowercase)")
	}
}

// TestHomeserverConfigIssuerStaysComment checks that a line break in the
// issuer cannot add settings to the fragment.
func TestHomeserverConfigIssuerStaysComment(t *testing.T) {
	l := hessen(1)
	l.Issuer = "HZD\nfederation_domain_whitelist: []\r\u2028x"
	out, err := HomeserverConfig(l, "polizei.hessen.de", Synapse)
	if err != nil {
		t.Fatal(err)
	}
	wl := settings(t, out)["federation_domain_whitelist"]
	if !reflect.DeepEqual(wl, []any{"polizei.hessen.de", "land.hessen.de"}) {
		t.Errorf("whitelist: got %v, want polizei and land\n%s", wl, out)
	}
}
