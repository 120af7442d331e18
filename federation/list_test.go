package federation

import (
	"reflect"
	"testing"
)

func TestAllowed(t *testing.T) {
	l := hessen(1)
	tests := []struct {
		a, b ServerName
		want bool
	}{
		{"land.hessen.de", "polizei.hessen.de", true},
		{"polizei.hessen.de", "land.hessen.de", true},
		{"polizei.hessen.de", "forst.hessen.de", false},
		{"polizei.hessen.de", "schule.hessen.de", false},
		{"forst.hessen.de", "schule.hessen.de", true},
		{"forst.hessen.de", "timber.example.com", false},
		{"timber.example.com", "land.hessen.de", false},
		{"polizei.hessen.de", "polizei.hessen.de", true},
		{"other.example.com", "other.example.com", true},
	}
	for _, tc := range tests {
		t.Run(string(tc.a)+"~"+string(tc.b), func(t *testing.T) {
			if got := l.Allowed(tc.a, tc.b); got != tc.want {
				t.Errorf("Allowed(%s, %s): got %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestAllowedNeedsBothWays(t *testing.T) {
	l := hessen(1)
	// polizei names schule, schule does not name polizei.
	l.Homeservers[1].FederatesWith = append(l.Homeservers[1].FederatesWith, "schule.hessen.de")
	if l.Allowed("polizei.hessen.de", "schule.hessen.de") || l.Allowed("schule.hessen.de", "polizei.hessen.de") {
		t.Error("Allowed: got true for a one-sided federates_with, want false both ways")
	}
}

func TestExternalListedPartners(t *testing.T) {
	l := hessen(1)
	tests := []struct {
		s        ServerName
		external bool
		listed   bool
		partners []ServerName
	}{
		{"land.hessen.de", false, true, []ServerName{"forst.hessen.de", "polizei.hessen.de", "schule.hessen.de"}},
		{"polizei.hessen.de", false, true, []ServerName{"land.hessen.de"}},
		{"forst.hessen.de", true, true, []ServerName{"land.hessen.de", "schule.hessen.de"}},
		{"schule.hessen.de", false, true, []ServerName{"forst.hessen.de", "land.hessen.de"}},
		{"timber.example.com", false, false, nil},
	}
	for _, tc := range tests {
		t.Run(string(tc.s), func(t *testing.T) {
			if got := l.External(tc.s); got != tc.external {
				t.Errorf("External: got %v, want %v", got, tc.external)
			}
			if got := l.Listed(tc.s); got != tc.listed {
				t.Errorf("Listed: got %v, want %v", got, tc.listed)
			}
			if got := l.Partners(tc.s); !reflect.DeepEqual(got, tc.partners) {
				t.Errorf("Partners: got %v, want %v", got, tc.partners)
			}
		})
	}
}
